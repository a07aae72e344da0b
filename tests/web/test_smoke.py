"""The app boots and serves its three audiences' entry pages."""


def test_public_home_is_open(client):
    """The public home page answers without a login."""
    assert client.get("/").status_code == 200


def test_coordinator_dashboard_needs_login(client):
    """The coordinator dashboard redirects anonymous users to the login page."""
    resp = client.get("/coord/")
    assert resp.status_code in (302, 401)
