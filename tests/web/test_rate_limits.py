"""Rate limits that hold across worker processes, survive a Redis outage and cannot be dodged
(SECURITY row 33).

The limiter counts in Redis when ``REDIS_URL`` is set (``outreach.config.configure_rate_limits``);
Redis-backed tests use the real server at 127.0.0.1:6379 (database 15, a unique key prefix, keys
removed afterwards) and are skipped when it is not reachable.
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest
import sqlalchemy as sa

from outreach import create_app
from outreach.extensions import db, limiter
from outreach.models import Role, VisitRequest
from outreach.public.requests import phone_limit_key
from tests.factories import PASSWORD, make_hotspot, make_office, make_user

REDIS_URL = "redis://127.0.0.1:6379/15"
PHONE = "+62 812-0000-0000"
PHONE_NATIONAL = "081200000000"


@pytest.fixture
def redis_client():
    """The real Redis (database 15), or a clean skip."""
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except (RedisError, OSError):
        pytest.skip("Redis at 127.0.0.1:6379 is not reachable")
    yield client
    client.close()


@pytest.fixture
def key_prefix(redis_client):
    """A rate-limit key prefix of this test only; its keys are deleted afterwards."""
    prefix = f"jb-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in list(redis_client.scan_iter(match=f"*{prefix}*")):
        redis_client.delete(key)


def redis_keys(redis_client, prefix: str) -> list[str]:
    return [k.decode() for k in redis_client.scan_iter(match=f"*{prefix}*")]


def closed_port() -> int:
    """A local TCP port nothing listens on (bound once by the OS, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bad_login(client, addr: str = "10.9.9.9", **headers):
    """A login POST the form refuses (no password): it only counts against the limit."""
    return client.post(
        "/login", data={"username": "x"}, environ_base={"REMOTE_ADDR": addr}, headers=headers
    ).status_code


def second_app(app_config, tmp_path, **overrides):
    """Another instance of the app (another worker), on a database of its own."""
    config = {
        **app_config,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'second.sqlite3'}",
        **overrides,
    }
    application = create_app(config)
    with application.app_context():
        db.create_all()
    return application


def dispose(application) -> None:
    with application.app_context():
        db.engine.dispose()


# --- login across app instances --------------------------------------------------------------


@pytest.mark.redis
def test_two_app_instances_share_the_login_count_in_redis(
    app_config, request, tmp_path, redis_client, key_prefix
):
    """With REDIS_URL, the login limit counts across app instances: 3 attempts on one, the 4th
    on another instance (its own fresh storage object and database) is refused with 429. The
    counters sit in Redis under the configured prefix (SECURITY row 33)."""
    app_config.update(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="3 per minute",
        REDIS_URL=REDIS_URL,
        RATELIMIT_KEY_PREFIX=key_prefix,
    )
    first = request.getfixturevalue("app")
    assert first.config["RATELIMIT_STORAGE_URI"] == REDIS_URL
    client = first.test_client()
    assert [bad_login(client) for _ in range(3)] == [400, 400, 400]
    assert redis_keys(redis_client, key_prefix), "the count is kept in Redis"

    other = second_app(app_config, tmp_path)
    try:
        assert bad_login(other.test_client()) == 429
        assert bad_login(other.test_client(), addr="10.9.9.10") == 400  # another client
    finally:
        dispose(other)


def test_without_shared_storage_each_instance_counts_alone(app_config, request, tmp_path):
    """The control for the test above: with memory:// a new instance starts from zero, so only
    shared storage (Redis) makes the limit hold across worker processes (SECURITY row 33)."""
    app_config.update(
        RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute", RATELIMIT_STORAGE_URI="memory://"
    )
    first = request.getfixturevalue("app")
    client = first.test_client()
    assert [bad_login(client) for _ in range(4)] == [400, 400, 400, 429]
    other = second_app(app_config, tmp_path)
    try:
        assert bad_login(other.test_client()) == 400
    finally:
        dispose(other)


# --- Redis outage ----------------------------------------------------------------------------


def test_login_works_while_redis_is_down(app_config, request):
    """REDIS_URL pointing at a closed port: logging in still works, fast, and the login limit
    still holds, counted in memory meanwhile (SECURITY row 33)."""
    app_config.update(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT="3 per minute",
        REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
    )
    app = request.getfixturevalue("app")
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis://127.0.0.1:")
    make_user(Role.COORDINATOR, username="koordinator")
    db.session.commit()
    client = app.test_client()
    started = time.monotonic()
    resp = client.post(
        "/login",
        data={"username": "koordinator", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/coord/"
    assert time.monotonic() - started < 3
    assert client.get("/account/password").status_code == 200  # signed in
    assert [bad_login(client) for _ in range(3)] == [400, 400, 429]


# --- spoofed X-Forwarded-For ----------------------------------------------------------------


def test_forged_x_forwarded_for_does_not_escape_the_login_limit(app_config, request):
    """Without a trusted proxy (PROXY_FIX_X_FOR=0) a client that rotates X-Forwarded-For is
    still counted by its real address (SECURITY row 33)."""
    app_config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute", PROXY_FIX_X_FOR=0)
    client = request.getfixturevalue("app").test_client()
    codes = [
        bad_login(client, **{"X-Forwarded-For": f"36.68.1.{i}", "X-Real-IP": f"36.68.2.{i}"})
        for i in range(4)
    ]
    assert codes == [400, 400, 400, 429]


# --- the home-visit form, per phone number ----------------------------------------------------


def form(phone: str = PHONE, **kw) -> dict:
    data = {
        "requester_name": "Budi",
        "requester_relation": "family",
        "person_name": "Siti",
        "phone": phone,
        "address": "Jl. Mawar No. 9, RT 02/RW 05",
        "kelurahan": "12.71.01.1001",
        "reason": "bedridden",
        "services": ["ktp_record"],
        "persons": "1",
        "consent": "y",
    }
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def office(app):
    office = make_office(slug="kota-medan")
    make_hotspot(office, kelurahan_code="12.71.01.1001", kelurahan_name="Pasar Baru")
    db.session.commit()
    return office


def stored_requests() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(VisitRequest.id)))


def post_form(client, addr: str, data: dict, **headers) -> int:
    return client.post(
        "/o/kota-medan/home-visit", data=data, environ_base={"REMOTE_ADDR": addr}, headers=headers
    ).status_code


@pytest.fixture
def phone_limited(app_config):
    """Two accepted requests per phone; the per-address limit high enough not to interfere."""
    app_config.update(
        RATELIMIT_ENABLED=True,
        HOME_VISIT_RATE_LIMIT="100 per hour",
        HOME_VISIT_PHONE_RATE_LIMIT="2 per day",
        RATELIMIT_STORAGE_URI="memory://",
    )
    return app_config


def test_same_phone_from_rotating_addresses_is_limited(phone_limited, request):
    """The same phone number, however it is written, from a new address each time: the third
    request is refused with the friendly 429 page; another number still goes through
    (SECURITY row 33)."""
    app = request.getfixturevalue("app")
    request.getfixturevalue("office")
    client = app.test_client()
    codes = [
        post_form(client, "10.1.0.1", form(PHONE)),
        post_form(client, "10.1.0.2", form(PHONE_NATIONAL)),
        post_form(client, "10.1.0.3", form("0812 0000 0000")),
    ]
    assert codes == [303, 303, 429]
    assert stored_requests() == 2
    assert post_form(client, "10.1.0.4", form("0812 3456 7890")) == 303
    assert stored_requests() == 3


def test_phone_limit_ignores_forged_x_forwarded_for(phone_limited, request):
    """Rotating X-Forwarded-For (no trusted proxy) does not reset the phone's count either
    (SECURITY row 33)."""
    app = request.getfixturevalue("app")
    request.getfixturevalue("office")
    client = app.test_client()
    codes = [
        post_form(client, "10.1.0.9", form(), **{"X-Forwarded-For": f"36.68.1.{i}"})
        for i in range(3)
    ]
    assert codes == [303, 303, 429]


def test_a_refused_form_does_not_use_up_the_phones_quota(phone_limited, request):
    """A resident who must correct the form is not locked out: only accepted requests count
    against the phone number (SECURITY row 33)."""
    app = request.getfixturevalue("app")
    request.getfixturevalue("office")
    client = app.test_client()
    assert post_form(client, "10.2.0.1", form(address="Jl")) == 400
    assert post_form(client, "10.2.0.2", form(consent=None)) == 400
    assert [post_form(client, "10.2.0.3", form()) for _ in range(3)] == [303, 303, 429]


def test_limiter_storage_holds_an_hmac_not_the_phone_number(phone_limited, request):
    """The per-phone counter is keyed by an HMAC of the normalised number under SECRET_KEY;
    no form of the number is in the limiter's storage (SECURITY rows 33, 50)."""
    app = request.getfixturevalue("app")
    request.getfixturevalue("office")
    client = app.test_client()
    assert post_form(client, "10.3.0.1", form(PHONE)) == 303
    keys = list(limiter.storage.storage)
    expected = phone_limit_key(PHONE_NATIONAL)
    assert any(expected in key for key in keys), keys
    for key in keys:
        for shown in ("812", "0000", "+62", PHONE_NATIONAL):
            assert shown not in key.replace(expected, ""), key
    # The HMAC depends on the secret: another key gives another digest.
    with app.test_request_context():
        app.config["SECRET_KEY"] = "another-secret-key-that-is-long-enough-0123456789"
        assert phone_limit_key(PHONE_NATIONAL) != expected


@pytest.mark.redis
def test_phone_limit_in_redis_holds_no_phone_number(app_config, request, redis_client, key_prefix):
    """In Redis too the phone count is shared and stored under the HMAC only
    (SECURITY rows 33, 50)."""
    app_config.update(
        RATELIMIT_ENABLED=True,
        HOME_VISIT_RATE_LIMIT="100 per hour",
        HOME_VISIT_PHONE_RATE_LIMIT="1 per day",
        REDIS_URL=REDIS_URL,
        RATELIMIT_KEY_PREFIX=key_prefix,
    )
    app = request.getfixturevalue("app")
    request.getfixturevalue("office")
    client = app.test_client()
    assert post_form(client, "10.4.0.1", form()) == 303
    assert post_form(client, "10.4.0.2", form(PHONE_NATIONAL)) == 429
    keys = redis_keys(redis_client, key_prefix)
    assert any(phone_limit_key(PHONE_NATIONAL) in key for key in keys), keys
    assert not any("0812" in key or "62812" in key or "812-" in key for key in keys)
