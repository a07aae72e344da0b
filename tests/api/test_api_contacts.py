"""Site contacts through the API's HotspotCreate: optional, validated like the importer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from outreach.extensions import db
from outreach.models import Hotspot


def test_create_hotspot_with_contact(api):
    """contact_name and contact_phone are stored (whitespace tidied)."""
    resp = api.post(
        "/hotspots",
        json={
            "name": "SMA Kontak",
            "demand": {"ktp_record": 5},
            "contact_name": " Ibu  Sari ",
            "contact_phone": "+62 812-3456-7890",
        },
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)
    hs = db.session.scalar(sa.select(Hotspot).filter_by(name="SMA Kontak"))
    assert (hs.contact_name, hs.contact_phone) == ("Ibu Sari", "+62 812-3456-7890")
    body = resp.get_json()
    assert (body["contact_name"], body["contact_phone"]) == ("Ibu Sari", "+62 812-3456-7890")


def test_create_hotspot_without_contact(api):
    """Both fields are optional and default to empty."""
    resp = api.post("/hotspots", json={"name": "Tanpa Kontak", "demand": {"kia": 1}})
    assert resp.status_code == 201
    hs = db.session.scalar(sa.select(Hotspot).filter_by(name="Tanpa Kontak"))
    assert (hs.contact_name, hs.contact_phone) == ("", "")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("contact_phone", "12345"),
        ("contact_phone", "0812/3456/789"),
        ("contact_phone", 812345678),
        ("contact_phone", "1" * 33),
        ("contact_name", "x" * 121),
    ],
)
def test_create_hotspot_rejects_bad_contact(api, field, value):
    """A bad phone or an over-long name is a 400 naming the field; nothing is stored."""
    resp = api.post("/hotspots", json={"name": "Salah", "demand": {"kia": 1}, field: value})
    assert resp.status_code == 400
    details = resp.get_json()["error"]["details"]
    assert [d["field"] for d in details] == [field]
    assert db.session.scalar(sa.select(Hotspot).filter_by(name="Salah")) is None


def test_openapi_documents_contact_fields(api):
    """The OpenAPI schema of HotspotCreate lists both optional contact fields."""
    doc = api.get("/openapi.json").get_json()
    props = doc["components"]["schemas"]["HotspotCreate"]["properties"]
    assert props["contact_phone"]["maxLength"] == 32 and props["contact_name"]["maxLength"] == 120
    assert "contact_phone" not in doc["components"]["schemas"]["HotspotCreate"].get("required", [])
