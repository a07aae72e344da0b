"""Home-visit requests from residents: the public form and the status page (issue 9).

A resident on a phone, without an account, asks for a home visit for a bedridden, elderly,
disabled or hospitalised person. The form collects only what the team needs to find the house
and plan the visit (UU PDP No. 27/2022: purpose limitation, minimisation); the NIK only where
the office asks for it. The requester accepts a consent notice whose version and time are
stored with the request.

The requester gets a status code ``JB-XXXXX-XXXXX-XXXXX-XXXXX-XXXXXX`` (130 random bits, 26
Crockford base32 characters; SECURITY row 15 asks for at least 128) made with :mod:`secrets`;
only the SHA-256 of its normalised form is stored. Codes of the first release (80 bits,
``JB-XXXX-XXXX-XXXX-XXXX``) are still accepted so residents who hold one keep their link; no
new ones are made. The status page
shows nothing but the state of the request, the day it was received and, once the home visit
is on a published schedule, the planned day: never a name, phone, address, NIK or kelurahan.

Personal data never reaches a log line or an audit record: audit details hold ids only.
Both POSTs are rate-limited per client IP (``HOME_VISIT_RATE_LIMIT``,
``REQUEST_STATUS_RATE_LIMIT``), and accepted requests also per phone number
(``HOME_VISIT_PHONE_RATE_LIMIT``, counted under an HMAC of the number so the limiter's storage
never holds a phone number; SECURITY row 33). A honeypot field catches simple bots, which get
an answer that looks like success while nothing is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException, TooManyRequests
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import ValidationError

from ..errors import error_response, wants_json
from ..extensions import db, limiter
from ..labels import (
    REQUEST_REASON_LABELS,
    REQUEST_REJECTION_LABELS,
    REQUEST_RELATION_LABELS,
    SERVICE_LABELS,
)
from ..models import (
    Office,
    PublicVisit,
    RequestStatus,
    Service,
    VisitRequest,
    audit,
    utcnow,
)
from ..plans.adapter import office_zone
from ..roles import public_view
from . import bp
from .schedule import office_areas, office_today, resolve_office
from .schedule import office_key as key_of

# The version of the consent notice on the form (shown on the page, stored with each request).
# Change it whenever the notice text changes, so every request names the text its requester saw.
CONSENT_VERSION = "2026-12-04"

# Status codes: "JB-" and 26 Crockford base32 characters (130 bits) in groups of five, the
# last group taking the leftover character: JB-XXXXX-XXXXX-XXXXX-XXXXX-XXXXXX.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_PREFIX = "JB"
CODE_BITS = 130
CODE_CHARS = CODE_BITS // 5
CODE_GROUP = 5
# The first release's codes (80 bits, groups of four): still looked up, never made again.
LEGACY_CODE_CHARS = 16
LEGACY_CODE_GROUP = 4
# Typing aids: case, spaces, dashes (also typographic ones), I/L for 1 and O for 0.
_CODE_NOISE = re.compile(r"[\s\-\u2010-\u2015_.]+")
_CODE_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})

NAME_MAX = 120
ADDRESS_MAX = 500
NOTES_MAX = 300
PERSONS_MIN, PERSONS_MAX = 1, 20
# Indonesia's bounding box, the same rule as the importer (lat -11..6.5, lon 94..141.5).
LAT_RANGE, LON_RANGE = (-11.0, 6.5), (94.0, 141.5)

_PHONE_SEPARATORS = re.compile(r"[\s\-.()/]+")
_NATIONAL_DIGITS = re.compile(r"[1-9][0-9]{6,13}")  # after the leading 0: 8-15 digits in all
_NIK_SEPARATORS = re.compile(r"[\s.\-]+")
_NIK = re.compile(r"[0-9]{16}")
_PERSONS = re.compile(r"[0-9]{1,3}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

SESSION_KEY = "home_visit_done"


# ------------------------------------------------------------------------------ status codes


def _grouped(chars: str, size: int) -> str:
    """``JB-`` and ``chars`` in dash-separated groups of ``size``; a last group shorter than
    ``size`` joins the one before it (26 characters: 5-5-5-5-6)."""
    groups = [chars[i : i + size] for i in range(0, len(chars), size)]
    if len(groups) > 1 and len(groups[-1]) < size:
        groups[-2:] = [groups[-2] + groups[-1]]
    return CODE_PREFIX + "-" + "-".join(groups)


def new_status_code() -> str:
    """A fresh status code, e.g. ``JB-7K3MQ-9TX2H-VDW4N-C8P1R-T6ZB0Y`` (130 bits from
    :mod:`secrets`)."""
    n = secrets.randbits(CODE_BITS)
    chars = "".join(CROCKFORD[(n >> (5 * i)) & 31] for i in range(CODE_CHARS - 1, -1, -1))
    return _grouped(chars, CODE_GROUP)


def normalise_status_code(text: str | None) -> str | None:
    """The canonical form of a typed code, or ``None`` if it cannot be one.

    Case, spaces and dashes do not matter; I and L read as 1, O as 0 (Crockford); the ``JB``
    prefix may be left out. A first-release code (16 characters) keeps its own canonical form,
    so its stored hash still matches.
    """
    raw = _CODE_NOISE.sub("", (text or "")[:100]).upper().translate(_CODE_LOOKALIKES)
    lengths = {CODE_CHARS: CODE_GROUP, LEGACY_CODE_CHARS: LEGACY_CODE_GROUP}
    if len(raw) - len(CODE_PREFIX) in lengths and raw.startswith(CODE_PREFIX):
        raw = raw[len(CODE_PREFIX) :]
    if len(raw) not in lengths or any(c not in CROCKFORD for c in raw):
        return None
    return _grouped(raw, lengths[len(raw)])


def status_code_hash(code: str) -> str:
    """SHA-256 (hex) of the normalised code: the only form of the code that is stored."""
    canonical = normalise_status_code(code)
    if canonical is None:
        raise ValueError("not a status code")
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


# ------------------------------------------------------------------------------ validation


def normalise_phone(text: str | None) -> str | None:
    """An Indonesian mobile or landline number in national form (``0812...``), or ``None``.

    Accepted: a leading ``0`` or ``+62``, then digits, 8 to 15 digits in all counted from the
    ``0``; spaces, dashes, dots and brackets are ignored.
    """
    raw = _PHONE_SEPARATORS.sub("", (text or "")[:40])
    if raw.startswith("+62"):
        rest = raw[3:]
    elif raw.startswith("0"):
        rest = raw[1:]
    else:
        return None
    if not _NATIONAL_DIGITS.fullmatch(rest):
        return None
    return "0" + rest


def normalise_nik(text: str | None) -> str | None:
    """A plausible NIK (16 digits; province code, birth day and month in range) or ``None``.

    The NIK encodes the area (digits 1-6), the birth date as DDMMYY (day + 40 for women) and a
    serial number; a typo in these parts is caught here, the register does the rest.
    """
    raw = _NIK_SEPARATORS.sub("", (text or "")[:40])
    if not _NIK.fullmatch(raw):
        return None
    province, day, month = int(raw[0:2]), int(raw[6:8]), int(raw[8:10])
    if day > 40:
        day -= 40
    if province < 11 or not 1 <= day <= 31 or not 1 <= month <= 12 or raw[12:] == "0000":
        return None
    return raw


def clean_text(text: str | None, *, multiline: bool = False) -> str:
    """Trim a typed text and drop control characters (keeping line breaks if ``multiline``)."""
    value = _CONTROL.sub("", text or "")
    if multiline:
        lines = [" ".join(line.split()) for line in value.replace("\r\n", "\n").split("\n")]
        return "\n".join(lines).strip()
    return " ".join(value.split())


def _coordinate(text: str | None, low: float, high: float) -> float | None:
    raw = (text or "").strip()[:30]
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value) or not low <= value <= high:
        return None
    return round(value, 6)


# ------------------------------------------------------------------------------ forms


def _choices(labels: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes; the choices are checked by the form's own validator."""

    def pre_validate(self, form: Any) -> None:  # unknown values get the form's message
        pass


class HomeVisitForm(FlaskForm):
    """The request form; choices depend on the office (kelurahan list, NIK or not)."""

    requester_name = StringField(_l("Your name"))
    requester_relation = SelectField(
        _l("Your relation to the person"),
        choices=[SelectChoice("", _l("– Choose –")), *_choices(REQUEST_RELATION_LABELS)],
        validate_choice=False,
    )
    phone = StringField(_l("Phone number (WhatsApp if possible)"))
    person_name = StringField(_l("Name of the person to visit"))
    nik = StringField(_l("NIK of the person to visit"))
    reason = RadioField(
        _l("Why can the person not come to the office?"),
        choices=_choices(REQUEST_REASON_LABELS),
        validate_choice=False,
    )
    services = CheckboxesField(
        _l("Services needed"),
        choices=_choices(SERVICE_LABELS),
        default=[Service.KTP_RECORD.value],
    )
    persons = StringField(_l("Number of persons to serve at this house"), default="1")
    kelurahan = SelectField(_l("Kelurahan/desa"), validate_choice=False)
    address = TextAreaField(_l("Address of the house"))
    notes = TextAreaField(_l("Notes for the team (optional)"))
    lat = HiddenField()
    lon = HiddenField()
    consent = BooleanField(_l("I have read the notice and agree to the use of this data."))
    # Honeypot: hidden from people (CSS, aria-hidden, no tab stop); bots fill every field.
    website = StringField(_l("Leave this field empty"))

    def __init__(self, office: Office, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.office = office
        _kecamatan, kelurahan = office_areas(office)
        self.areas = {a.code: a for a in kelurahan}
        self.kelurahan.choices = [SelectChoice("", _l("– Choose –"))] + [
            SelectChoice(a.code, f"{a.name} (Kec. {a.parent})" if a.parent else a.name)
            for a in kelurahan
        ]
        if not office.requires_nik:
            # Not asked, not shown, not read: a posted "nik" is ignored.
            del self.nik
        self.location: tuple[float | None, float | None] = (None, None)

    @property
    def asks_nik(self) -> bool:
        return "nik" in self._fields

    # -- field validators (each message names its field) --

    def validate_requester_name(self, field: StringField) -> None:
        field.data = clean_text(field.data)
        if not field.data:
            raise ValidationError(_l("Enter your name."))
        if len(field.data) > NAME_MAX:
            raise ValidationError(_l("Your name is too long (at most 120 characters)."))

    def validate_requester_relation(self, field: SelectField) -> None:
        if field.data not in REQUEST_RELATION_LABELS:
            raise ValidationError(_l("Choose who you are to the person to visit."))

    def validate_person_name(self, field: StringField) -> None:
        field.data = clean_text(field.data)
        if not field.data and self.requester_relation.data == "self":
            field.data = clean_text(self.requester_name.data)  # asking for oneself
        if not field.data:
            raise ValidationError(_l("Enter the name of the person to visit."))
        if len(field.data) > NAME_MAX:
            raise ValidationError(
                _l("The name of the person to visit is too long (at most 120 characters).")
            )

    def validate_nik(self, field: StringField) -> None:
        if not clean_text(field.data):
            raise ValidationError(_l("Enter the NIK of the person to visit (16 digits)."))
        nik = normalise_nik(field.data)
        if nik is None:
            raise ValidationError(
                _l("The NIK must be the 16 digits of the KTP or family card. Check the digits.")
            )
        field.data = nik

    def validate_phone(self, field: StringField) -> None:
        if not clean_text(field.data):
            raise ValidationError(_l("Enter a phone number so the office can call you."))
        phone = normalise_phone(field.data)
        if phone is None:
            raise ValidationError(
                _l(
                    "The phone number must start with 0 or +62 and have 8 to 15 digits, "
                    "e.g. 0812 3456 7890."
                )
            )
        field.data = phone

    def validate_address(self, field: TextAreaField) -> None:
        field.data = clean_text(field.data, multiline=True)
        if len(field.data) < 5:
            raise ValidationError(
                _l("Enter the address of the house: street, house number, RT/RW, landmarks.")
            )
        if len(field.data) > ADDRESS_MAX:
            raise ValidationError(_l("The address is too long (at most 500 characters)."))

    def validate_kelurahan(self, field: SelectField) -> None:
        if field.data not in self.areas:
            raise ValidationError(_l("Choose the kelurahan or desa of the house."))

    def validate_reason(self, field: RadioField) -> None:
        if field.data not in REQUEST_REASON_LABELS:
            raise ValidationError(_l("Choose why the person cannot come to the office."))

    def validate_services(self, field: CheckboxesField) -> None:
        chosen = [s for s in (field.data or []) if s in SERVICE_LABELS]
        if not chosen or len(chosen) != len(field.data or []):
            raise ValidationError(_l("Choose at least one service."))
        field.data = [s.value for s in Service if s.value in chosen]

    def validate_persons(self, field: StringField) -> None:
        raw = (field.data or "").strip()
        if not _PERSONS.fullmatch(raw) or not PERSONS_MIN <= int(raw) <= PERSONS_MAX:
            raise ValidationError(_l("Enter the number of persons: a whole number from 1 to 20."))
        field.data = str(int(raw))

    def validate_notes(self, field: TextAreaField) -> None:
        field.data = clean_text(field.data, multiline=True)
        if len(field.data) > NOTES_MAX:
            raise ValidationError(_l("The notes are too long (at most 300 characters)."))

    def validate_consent(self, field: BooleanField) -> None:
        if not field.data:
            raise ValidationError(_l("Tick the box to agree, or we cannot take the request."))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        lat = _coordinate(self.lat.data, *LAT_RANGE)
        lon = _coordinate(self.lon.data, *LON_RANGE)
        # A position outside Indonesia or half a pair is dropped, not an error: it is optional.
        self.location = (lat, lon) if lat is not None and lon is not None else (None, None)
        return ok


class StatusForm(FlaskForm):
    code = StringField(_l("Your status code"))

    def validate_code(self, field: StringField) -> None:
        if not clean_text(field.data):
            raise ValidationError(_l("Enter the status code you received."))
        canonical = normalise_status_code(field.data)
        if canonical is None:
            raise ValidationError(
                _l(
                    "A status code looks like JB-XXXXX-XXXXX-XXXXX-XXXXX-XXXXXX. "
                    "Check what you typed."
                )
            )
        field.data = canonical


# ------------------------------------------------------------------------------ helpers


def _home_visit_rate_limit() -> str:
    return current_app.config.get("HOME_VISIT_RATE_LIMIT", "5 per hour")


def _status_rate_limit() -> str:
    return current_app.config.get("REQUEST_STATUS_RATE_LIMIT", "30 per hour")


def _phone_rate_limit() -> str:
    return current_app.config.get("HOME_VISIT_PHONE_RATE_LIMIT", "5 per day")


def phone_limit_key(phone: str) -> str:
    """The rate-limit key of a normalised phone number: an HMAC-SHA-256 under ``SECRET_KEY``.

    The limiter's storage (Redis) keeps only this digest: without the app's secret it cannot be
    turned back into the number by trying every phone number.
    """
    secret = current_app.config["SECRET_KEY"]
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, b"home-visit-phone:" + phone.encode("ascii"), hashlib.sha256)
    return "phone:" + digest.hexdigest()


def _posted_phone_key() -> str | None:
    """The limit key of the phone number in this POST, or ``None`` when it has none that is
    valid (a form that fails validation stores nothing and the per-IP limit still counts it)."""
    try:
        phone = normalise_phone(request.form.get("phone"))
    except HTTPException:  # a body too large or malformed: the view answers that itself
        return None
    return phone_limit_key(phone) if phone else None


def _no_valid_phone() -> bool:
    return _posted_phone_key() is None


def _request_accepted(response: Any) -> bool:
    # Only a request that went through (the redirect to the code) uses up the phone's quota,
    # so a resident correcting a typo in the form is not locked out.
    return response.status_code == 303


def retention_days() -> int:
    return int(current_app.config.get("HOME_VISIT_RETENTION_DAYS", 90))


def _no_store(body: str, status: int = 200) -> tuple[str, int, dict[str, str]]:
    # Forms carry a session-bound CSRF token and answers about a request: never cache them.
    return body, status, {"Cache-Control": "no-store"}


def _render_form(office: Office, form: HomeVisitForm, status: int = 200):
    errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
    return _no_store(
        render_template(
            "public/home_visit.html",
            office=office,
            key=key_of(office),
            form=form,
            errors=errors,
            reasons=REQUEST_REASON_LABELS,
            services=SERVICE_LABELS,
            consent_version=CONSENT_VERSION,
            retention_days=retention_days(),
        ),
        status,
    )


def _store(office: Office, form: HomeVisitForm, code: str) -> VisitRequest:
    lat, lon = form.location
    now = utcnow()
    req = VisitRequest(
        office_id=office.id,
        token_hash=status_code_hash(code),
        requester_name=form.requester_name.data,
        requester_relation=form.requester_relation.data,
        person_name=form.person_name.data,
        nik=form.nik.data if form.asks_nik else None,
        phone=form.phone.data,
        address=form.address.data,
        kelurahan_code=form.kelurahan.data,
        lat=lat,
        lon=lon,
        persons=int(form.persons.data),
        services=list(form.services.data),
        reason=form.reason.data,
        notes=form.notes.data or "",
        consent_at=now,
        consent_version=CONSENT_VERSION,
        status=RequestStatus.RECEIVED,
        created_at=now,
    )
    db.session.add(req)
    db.session.flush()
    # Ids only: no name, phone, address, NIK or health reason in the audit trail.
    audit("visit_request.create", req, office_id=office.id, consent_version=CONSENT_VERSION)
    return req


# ------------------------------------------------------------------------------ views


@bp.route("/o/<office_key>/home-visit", methods=["GET", "POST"])
@limiter.limit(_home_visit_rate_limit, methods=["POST"])
@limiter.limit(
    _phone_rate_limit,
    key_func=lambda: _posted_phone_key() or "",
    methods=["POST"],
    exempt_when=_no_valid_phone,
    deduct_when=_request_accepted,
    scope="home-visit-phone",
)
@public_view
def home_visit(office_key: str):
    """Ask for a home visit for someone who cannot come to the office."""
    office = resolve_office(office_key)
    form = HomeVisitForm(office)
    if request.method == "GET":
        return _render_form(office, form)
    if (request.form.get("website") or "").strip():
        # A bot filled the honeypot: answer exactly like a success, keep nothing.
        current_app.logger.info("home-visit form: honeypot filled, nothing stored")
        session[SESSION_KEY] = {"office": office.id, "code": new_status_code()}
        return redirect(url_for("public.home_visit_done", office_key=key_of(office)), code=303)
    if not form.validate():
        return _render_form(office, form, 400)
    code = new_status_code()
    req = _store(office, form, code)
    db.session.commit()
    current_app.logger.info("home-visit request %s received for office %s", req.id, office.id)
    session[SESSION_KEY] = {"office": office.id, "code": code}
    return redirect(url_for("public.home_visit_done", office_key=key_of(office)), code=303)


@bp.get("/o/<office_key>/home-visit/done")
@public_view
def home_visit_done(office_key: str):
    """The status code, shown after a request (kept in the session: a reload shows it again)."""
    office = resolve_office(office_key)
    done = session.get(SESSION_KEY)
    if not isinstance(done, dict) or done.get("office") != office.id or not done.get("code"):
        return redirect(url_for("public.home_visit", office_key=key_of(office)))
    return _no_store(
        render_template(
            "public/home_visit_done.html",
            office=office,
            key=key_of(office),
            code=str(done["code"]),
            status_form=StatusForm(formdata=None, data={"code": str(done["code"])}),
        )
    )


def _received_date(req: VisitRequest, office: Office) -> str:
    created = req.created_at
    if created.tzinfo is None:  # SQLite hands back naive UTC
        created = created.replace(tzinfo=UTC)
    return format_date(created.astimezone(office_zone(office)).date(), "long")


def _planned_day(req: VisitRequest, office: Office) -> str | None:
    """The next published, not cancelled day of the request's home visit, as a date."""
    if req.hotspot_id is None:
        return None
    day = db.session.scalar(
        sa.select(sa.func.min(PublicVisit.day)).where(
            PublicVisit.office_id == office.id,
            PublicVisit.hotspot_id == req.hotspot_id,
            PublicVisit.cancelled.is_(False),
            PublicVisit.day >= office_today(office),
        )
    )
    return format_date(day, "full") if day is not None else None


def status_view(req: VisitRequest, office: Office) -> dict[str, Any]:
    """All the status page may show of a request: its state and two dates. No person."""
    status = RequestStatus(req.status)
    reason = REQUEST_REJECTION_LABELS.get(req.rejection_reason or "")
    return {
        "status": status.value,
        "received": _received_date(req, office),
        "planned": _planned_day(req, office) if status == RequestStatus.ACCEPTED else None,
        "rejection": str(reason) if status == RequestStatus.REJECTED and reason else None,
    }


@bp.route("/request-status", methods=["GET", "POST"])
@limiter.limit(_status_rate_limit, methods=["POST"])
@public_view
def request_status():
    """Look up a home-visit request by its status code."""
    form = StatusForm()
    result, office, status, not_found = None, None, 200, False
    if request.method == "POST":
        if not form.validate():
            status = 400
        else:
            req = db.session.scalar(
                sa.select(VisitRequest).where(
                    VisitRequest.token_hash == status_code_hash(form.code.data)
                )
            )
            if req is None:
                not_found, status = True, 404
            else:
                office = db.session.get(Office, req.office_id)
                result = status_view(req, office)
    errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
    return _no_store(
        render_template(
            "public/request_status.html",
            office=office,
            form=form,
            errors=errors,
            result=result,
            not_found=not_found,
        ),
        status,
    )


@bp.errorhandler(TooManyRequests)
def too_many_requests(e: HTTPException):
    """A friendly page when a resident (or a script) sent too many forms from one address."""
    if wants_json():
        return error_response(429, "too_many_requests", e.description or e.name)
    office = None
    key = (request.view_args or {}).get("office_key")
    if key:
        try:
            office = resolve_office(key)
        except HTTPException:
            office = None
    return _no_store(render_template("public/rate_limited.html", office=office), 429)
