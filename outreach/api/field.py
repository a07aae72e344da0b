"""Field API (``/api/v1/field``): a team's route for a day, check-ins and outcomes.

For field members only, with a bearer token or the tablet's login session (then CSRF-checked:
the page script sends ``X-CSRFToken``). Writes are idempotent by the device's ``client_uuid``:
the first send answers 201, every repeat 200 with the same stored row, so an offline queue can
retry until it hears back. Every id of another team answers 404 and changes nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

from flask import Blueprint, jsonify
from flask_login import current_user

from ..auth.tokens import protect_api_blueprint
from ..extensions import db
from ..field import service
from ..models import MAX_COUNT, Role
from ..privacy import audit_home_view
from .schemas import F, Schema
from .spec import endpoint

bp = Blueprint("api_field", __name__)
protect_api_blueprint(bp, Role.FIELD)

COUNT = F("integer", minimum=0, maximum=MAX_COUNT)
CLIENT_UUID = F("string", True, "UUID dibuat perangkat; kirim ulang = aman", max_length=36)
STAMP = F("string", description="ISO 8601 with offset, e.g. 2026-12-07T09:05:00+07:00")

RouteQuery = Schema(
    "FieldRouteQuery",
    {"date": F("date", description="Tanggal (zona waktu kantor); kosong = hari ini")},
)

CheckinIn = Schema(
    "CheckinIn",
    {
        "client_uuid": CLIENT_UUID,
        "stop_id": F("integer", True, minimum=1, maximum=2**31 - 1),
        "at": STAMP,
        "lat": F("number", minimum=-90, maximum=90, nullable=True),
        "lon": F("number", minimum=-180, maximum=180, nullable=True),
        "accuracy_m": F("number", minimum=0, maximum=100_000, nullable=True),
    },
    "Tim tiba di titik (waktu dan posisi).",
)

OutcomeIn = Schema(
    "OutcomeIn",
    {
        "client_uuid": CLIENT_UUID,
        "stop_id": F("integer", True, minimum=1, maximum=2**31 - 1),
        "result": F(
            "string",
            description="served = dilayani (seluruh atau sebagian); not_served = tidak dapat "
            "melayani, kebutuhan tetap untuk rencana berikutnya",
            enum=tuple(service.OutcomeResult),
            default="served",
        ),
        "present": F("integer", description="Warga yang hadir", minimum=0, maximum=MAX_COUNT),
        "recorded": F(
            "map", description="Warga dilayani per layanan", items=COUNT, keys=service.SERVICES
        ),
        "turned_away": F("integer", description="Warga ditolak", minimum=0, maximum=MAX_COUNT),
        "turned_away_reasons": F(
            "array", items=F("string", enum=service.TURN_AWAY_REASONS), max_items=10
        ),
        "cards_carried": F("integer", description="Blangko dibawa", minimum=0, maximum=MAX_COUNT),
        "cards_used": F("integer", description="Blangko terpakai", minimum=0, maximum=MAX_COUNT),
        "problems": F("array", items=F("string", enum=service.PROBLEMS), max_items=10),
        "notes": F("string", max_length=service.NOTES_MAX),
        "checked_in_at": STAMP,
        "checked_out_at": STAMP,
    },
    "Hasil kunjungan. Aturan: tidak negatif; dilayani per layanan dan ditolak ≤ hadir; "
    "blangko terpakai ≤ dibawa; not_served tanpa warga dilayani dan dengan masalah.",
)


def _user():
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _office_tz(user):
    """The zone of the user's office (the service refuses a user without a team itself)."""
    team = user.team
    return service.office_tz(team.office if team is not None else None)


@contextmanager
def _answer_from_written_rows():
    """Build the answer from the row just written, not from a copy read back after commit.

    The answer echoes the row with the values just written (no column of these rows is
    filled in by the database), so inside this block the service's commit leaves the rows
    loaded instead of expiring them: one query fewer per tablet write. Afterwards every
    row is expired as the commit would have done (a rollback expires them anyway).
    """
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = previous
    session.expire_all()


@endpoint(
    bp,
    "/field/route",
    "GET",
    summary="Rute tim untuk satu hari (hari ini bila tanpa tanggal)",
    tag="field",
    query=RouteQuery,
)
def field_route(query):
    """The signed-in member's team route for a day, with check-ins and outcomes."""
    team = service.field_team(_user())
    day: date = query.get("date") or service.office_today(team.office)
    td = service.team_day(team, day)
    body = service.day_to_dict(td)
    # the route lists home-visit sites: who saw them (UU PDP, SECURITY row 50)
    audit_home_view("field.route_view", td.route or team, _user(), (s.hotspot for s in td.stops))
    db.session.commit()
    return jsonify(body)


@endpoint(
    bp,
    "/field/checkins",
    "POST",
    summary="Catat kedatangan di titik (idempoten per client_uuid)",
    tag="field",
    body=CheckinIn,
    responses={201: "Dicatat", 200: "Sudah tercatat sebelumnya (kiriman ulang)"},
)
def field_checkin(body):
    """Record an arrival; a repeat of the same client_uuid returns the stored row."""
    user = _user()
    tz = _office_tz(user)
    with _answer_from_written_rows():
        row, created = service.record_checkin(user, body)
        answer = service.checkin_to_dict(row, tz)
    return jsonify(answer), 201 if created else 200


@endpoint(
    bp,
    "/field/outcomes",
    "POST",
    summary="Catat hasil kunjungan (idempoten per client_uuid)",
    tag="field",
    body=OutcomeIn,
    responses={201: "Dicatat", 200: "Sudah tercatat sebelumnya (kiriman ulang)"},
)
def field_outcome(body):
    """Record an outcome and lower the remaining demand; a repeat is answered, not counted."""
    user = _user()
    tz = _office_tz(user)
    with _answer_from_written_rows():
        row, created = service.record_outcome(user, body)
        answer = service.outcome_to_dict(row, tz)
    return jsonify(answer), 201 if created else 200
