"""Database models (typed SQLAlchemy 2.0).

Times of day are stored as minutes after local midnight (0–1440) in the office's time zone;
instants are stored as timezone-aware UTC datetimes. Personal data of residents lives only in
``VisitRequest`` and is never copied onto hotspots, plans or logs.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    """Return the current instant as an aware UTC datetime."""
    return datetime.now(UTC)


class Service(enum.StrEnum):
    """Services a team can offer and a site can need."""

    KTP_RECORD = "ktp_record"  # KTP-el recording (photo, fingerprints, iris, signature)
    KTP_PRINT = "ktp_print"  # KTP-el printing on site: needs a printer and blank cards
    BIRTH_CERT = "birth_cert"  # akta kelahiran intake (paperwork)
    KIA = "kia"  # Kartu Identitas Anak


class HotspotKind(enum.StrEnum):
    """Kinds of places where unregistered residents are found."""

    SCHOOL = "school"
    OFFICE = "office"
    HOSPITAL = "hospital"
    SOCIAL_HOME = "social_home"
    PRISON = "prison"
    MARKET = "market"
    HOME = "home"
    VILLAGE_HALL = "village_hall"
    OTHER = "other"


class HotspotStatus(enum.StrEnum):
    ACTIVE = "active"
    NEEDS_LOCATION = "needs_location"  # no coordinates yet: the coordinator drops a pin
    DONE = "done"  # remaining demand is zero
    ARCHIVED = "archived"


class VehicleKind(enum.StrEnum):
    CAR = "car"
    MOTORBIKE = "motorbike"
    BOAT = "boat"


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    FIELD = "field"


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    SOLVING = "solving"
    SOLVED = "solved"
    FAILED = "failed"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StopStatus(enum.StrEnum):
    PLANNED = "planned"
    CANCELLED = "cancelled"
    DONE = "done"


class RequestStatus(enum.StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"  # turned into a hotspot of kind "home"
    REJECTED = "rejected"
    DONE = "done"


# Priority 1–5: 1 = most urgent (bedridden, hospital, students about to turn 17 before an
# election), 3 = normal, 5 = can wait. The solver serves higher priority first.
PRIORITY_MIN, PRIORITY_MAX = 1, 5
# Upper bound for any count a person types: keeps every number far below 2**31 for the solver.
MAX_COUNT = 100_000


def _enum(cls: type[enum.Enum], length: int = 20) -> sa.Enum:
    # Store the value as a plain string with a CHECK constraint: portable and readable.
    return sa.Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        create_constraint=True,
        name=f"ck_{cls.__name__.lower()}",
    )


class Office(db.Model):
    """A Dinas Dukcapil office (kabupaten/kota level) that plans outreach."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Jakarta")
    region_code: Mapped[str] = mapped_column(sa.String(20), index=True)  # e.g. "12.71"
    card_stock: Mapped[int] = mapped_column(default=0)  # blangko KTP-el on hand
    complaint_channels: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # The public face of the office: its schedule lives at /o/<slug>; its own contacts are
    # shown in the footer of every public page of that office and on its contact page.
    slug: Mapped[str | None] = mapped_column(sa.String(80), unique=True)
    phone: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    whatsapp: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    email: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    opening_hours: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    # Some offices ask for the NIK on a home-visit request (to check the register first).
    requires_nik: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    teams: Mapped[list[Team]] = relationship(back_populates="office")
    hotspots: Mapped[list[Hotspot]] = relationship(back_populates="office")

    __table_args__ = (
        sa.CheckConstraint("card_stock >= 0", name="card_stock_nonneg"),
        sa.CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="latlon"),
    )


class Team(db.Model):
    """A mobile recording team with its vehicle, kits and services."""

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("office.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    vehicle: Mapped[VehicleKind] = mapped_column(_enum(VehicleKind), default=VehicleKind.CAR)
    kits: Mapped[int] = mapped_column(default=1)
    services: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    has_printer: Mapped[bool] = mapped_column(default=False)
    cards_per_day: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    office: Mapped[Office] = relationship(back_populates="teams")
    weekly_shifts: Mapped[list[TeamWeeklyShift]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamWeeklyShift.weekday"
    )
    exceptions: Mapped[list[TeamException]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamException.day"
    )
    members: Mapped[list[User]] = relationship(back_populates="team")

    __table_args__ = (
        sa.UniqueConstraint("office_id", "name", name="uq_team_office_name"),
        sa.CheckConstraint("kits BETWEEN 1 AND 10", name="kits_range"),
        sa.CheckConstraint("cards_per_day >= 0", name="cards_nonneg"),
    )


class TeamWeeklyShift(db.Model):
    """A team's usual hours on one weekday (0 = Monday); breaks as [[start, end, label], ...]."""

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("team.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    start_min: Mapped[int] = mapped_column()
    end_min: Mapped[int] = mapped_column()
    breaks: Mapped[list[list[Any]]] = mapped_column(sa.JSON, default=list)

    team: Mapped[Team] = relationship(back_populates="weekly_shifts")

    __table_args__ = (
        sa.UniqueConstraint("team_id", "weekday", name="uq_weekly_team_day"),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        sa.CheckConstraint(
            "0 <= start_min AND start_min < end_min AND end_min <= 1440", name="window_in_day"
        ),
    )


class ExceptionKind(enum.StrEnum):
    LEAVE = "leave"  # not working that day
    EXTRA = "extra"  # working on a day the pattern (or a holiday) says is off
    HOURS = "hours"  # working, with different hours


class TeamException(db.Model):
    """A dated deviation from the weekly pattern."""

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("team.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(sa.Date)
    kind: Mapped[ExceptionKind] = mapped_column(_enum(ExceptionKind))
    start_min: Mapped[int | None] = mapped_column()
    end_min: Mapped[int | None] = mapped_column()
    breaks: Mapped[list[list[Any]]] = mapped_column(sa.JSON, default=list)
    note: Mapped[str] = mapped_column(sa.String(300), default="")

    team: Mapped[Team] = relationship(back_populates="exceptions")

    __table_args__ = (
        sa.UniqueConstraint("team_id", "day", name="uq_exception_team_day"),
        sa.CheckConstraint(
            "(kind = 'leave') OR (start_min IS NOT NULL AND end_min IS NOT NULL "
            "AND 0 <= start_min AND start_min < end_min AND end_min <= 1440)",
            name="hours_when_working",
        ),
    )


class Hotspot(db.Model):
    """A place with unregistered residents: a school, a prison, a home, ..."""

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("office.id"), index=True)
    external_code: Mapped[str | None] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[HotspotKind] = mapped_column(_enum(HotspotKind), default=HotspotKind.OTHER)
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    location_source: Mapped[str] = mapped_column(sa.String(20), default="file")
    kecamatan_code: Mapped[str] = mapped_column(sa.String(20), default="", index=True)
    kecamatan_name: Mapped[str] = mapped_column(sa.String(120), default="")
    kelurahan_code: Mapped[str] = mapped_column(sa.String(20), default="", index=True)
    kelurahan_name: Mapped[str] = mapped_column(sa.String(120), default="")
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=3)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    # The site's contact (a head teacher, a ward nurse): shown to field teams only, never on
    # public pages. Home visits have no contact here: the resident's data stays in VisitRequest.
    contact_name: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    status: Mapped[HotspotStatus] = mapped_column(
        _enum(HotspotStatus), default=HotspotStatus.ACTIVE, index=True
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    office: Mapped[Office] = relationship(back_populates="hotspots")
    demands: Mapped[list[HotspotDemand]] = relationship(
        back_populates="hotspot", cascade="all, delete-orphan", order_by="HotspotDemand.service"
    )
    openings: Mapped[list[HotspotOpening]] = relationship(
        back_populates="hotspot",
        cascade="all, delete-orphan",
        order_by="(HotspotOpening.weekday, HotspotOpening.start_min)",
    )

    __table_args__ = (
        sa.UniqueConstraint("office_id", "external_code", name="uq_hotspot_external_code"),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
        sa.CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="latlon_together"),
        sa.CheckConstraint(
            "lat IS NULL OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180)", name="latlon"
        ),
    )

    def demand_of(self, service: Service | str) -> HotspotDemand | None:
        """Return this hotspot's demand row for a service, if any."""
        for d in self.demands:
            if d.service == str(service):
                return d
        return None

    @property
    def remaining_total(self) -> int:
        return sum(d.remaining for d in self.demands)


class HotspotDemand(db.Model):
    """Persons needing one service at a hotspot: requested, and what is left after outcomes."""

    id: Mapped[int] = mapped_column(primary_key=True)
    hotspot_id: Mapped[int] = mapped_column(
        sa.ForeignKey("hotspot.id", ondelete="CASCADE"), index=True
    )
    service: Mapped[str] = mapped_column(sa.String(20))
    requested: Mapped[int] = mapped_column(default=0)
    remaining: Mapped[int] = mapped_column(default=0)

    hotspot: Mapped[Hotspot] = relationship(back_populates="demands")

    __table_args__ = (
        sa.UniqueConstraint("hotspot_id", "service", name="uq_demand_hotspot_service"),
        sa.CheckConstraint(
            "service IN ('ktp_record', 'ktp_print', 'birth_cert', 'kia')", name="service_known"
        ),
        sa.CheckConstraint(f"requested BETWEEN 0 AND {MAX_COUNT}", name="requested_range"),
        sa.CheckConstraint("remaining BETWEEN 0 AND requested", name="remaining_range"),
    )


class HotspotOpening(db.Model):
    """One opening window of a hotspot on a weekday; several per day are allowed."""

    id: Mapped[int] = mapped_column(primary_key=True)
    hotspot_id: Mapped[int] = mapped_column(
        sa.ForeignKey("hotspot.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(sa.SmallInteger)
    start_min: Mapped[int] = mapped_column()
    end_min: Mapped[int] = mapped_column()

    hotspot: Mapped[Hotspot] = relationship(back_populates="openings")

    __table_args__ = (
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        sa.CheckConstraint(
            "0 <= start_min AND start_min < end_min AND end_min <= 1440", name="window_in_day"
        ),
    )


class VisitRequest(db.Model):
    """A resident's request for a home visit. Personal data stays in this table only.

    Who asks (``requester_name``, ``requester_relation``) may differ from the person to visit
    (``person_name``): a child asks for a bedridden parent, a nurse for a patient. The consent
    notice the requester accepted is kept by version and time. ``token_hash`` is the SHA-256 of
    the status code the requester was given; the code itself is never stored.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("office.id"), index=True)
    # Public status link: only the SHA-256 of a >=128-bit random token is stored.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    requester_name: Mapped[str] = mapped_column(sa.String(200))
    requester_relation: Mapped[str] = mapped_column(
        sa.String(20), default="self", server_default="self"
    )
    person_name: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    nik: Mapped[str | None] = mapped_column(sa.String(16))
    phone: Mapped[str] = mapped_column(sa.String(32))
    address: Mapped[str] = mapped_column(sa.String(500))
    kelurahan_code: Mapped[str] = mapped_column(sa.String(20), default="")
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    persons: Mapped[int] = mapped_column(default=1)
    services: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    reason: Mapped[str] = mapped_column(sa.String(40), default="bedridden")
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    consent_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    consent_version: Mapped[str] = mapped_column(sa.String(20), default="", server_default="")
    status: Mapped[RequestStatus] = mapped_column(
        _enum(RequestStatus), default=RequestStatus.RECEIVED, index=True
    )
    hotspot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hotspot.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # Triage: who decided, when, and for a rejection a reason code the requester may see.
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    rejection_reason: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    retain_until: Mapped[date | None] = mapped_column(sa.Date)
    # Set when the retention purge blanked the personal data (the request's facts remain).
    purged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.CheckConstraint("persons BETWEEN 1 AND 20", name="persons_range"),)


class Plan(db.Model):
    """A planning run over a horizon of dates; versioned for optimistic locking."""

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("office.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[PlanStatus] = mapped_column(_enum(PlanStatus), default=PlanStatus.DRAFT)
    start_date: Mapped[date] = mapped_column(sa.Date)
    end_date: Mapped[date] = mapped_column(sa.Date)
    # What to plan: team ids, hotspot ids or filters, time limit, seed.
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    solver_status: Mapped[str] = mapped_column(sa.String(64), default="")
    kpis: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    violations: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    published_version: Mapped[int] = mapped_column(default=0)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    # Optimistic lock: a second coordinator's stale save raises StaleDataError → 409.
    version_id: Mapped[int] = mapped_column(default=1)

    routes: Mapped[list[PlannedRoute]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        order_by="(PlannedRoute.day, PlannedRoute.team_id)",
    )
    unserved: Mapped[list[PlanUnserved]] = relationship(
        back_populates="plan", cascade="all, delete-orphan"
    )
    publications: Mapped[list[PlanPublication]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanPublication.version"
    )

    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (sa.CheckConstraint("start_date <= end_date", name="dates_ordered"),)


class PlannedRoute(db.Model):
    """One team's route on one date within a plan."""

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("team.id"), index=True)
    day: Mapped[date] = mapped_column(sa.Date)
    distance_m: Mapped[int] = mapped_column(default=0)
    duration_s: Mapped[int] = mapped_column(default=0)
    start_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    end_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    plan: Mapped[Plan] = relationship(back_populates="routes")
    team: Mapped[Team] = relationship()
    stops: Mapped[list[PlannedStop]] = relationship(
        back_populates="route", cascade="all, delete-orphan", order_by="PlannedStop.position"
    )

    __table_args__ = (sa.UniqueConstraint("plan_id", "team_id", "day", name="uq_route_team_day"),)


class PlannedStop(db.Model):
    """A visit to a hotspot within a route; a large site may have several (a split)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    route_id: Mapped[int] = mapped_column(
        sa.ForeignKey("planned_route.id", ondelete="CASCADE"), index=True
    )
    hotspot_id: Mapped[int] = mapped_column(sa.ForeignKey("hotspot.id"), index=True)
    position: Mapped[int] = mapped_column()
    arrival_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    start_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    persons: Mapped[dict[str, int]] = mapped_column(sa.JSON, default=dict)  # per service
    cards: Mapped[int] = mapped_column(default=0)
    locked: Mapped[bool] = mapped_column(default=False)
    status: Mapped[StopStatus] = mapped_column(_enum(StopStatus), default=StopStatus.PLANNED)

    route: Mapped[PlannedRoute] = relationship(back_populates="stops")
    hotspot: Mapped[Hotspot] = relationship()
    outcomes: Mapped[list[VisitOutcome]] = relationship(back_populates="stop")
    checkins: Mapped[list[StopCheckin]] = relationship()

    __table_args__ = (
        sa.CheckConstraint("position >= 0", name="position_nonneg"),
        sa.CheckConstraint("cards >= 0", name="cards_nonneg"),
    )


class PlanUnserved(db.Model):
    """A hotspot the plan left out, with the reason a coordinator can read."""

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    hotspot_id: Mapped[int] = mapped_column(sa.ForeignKey("hotspot.id"))
    reason_code: Mapped[str] = mapped_column(sa.String(40))
    reason_text: Mapped[str] = mapped_column(sa.String(500))
    # The named values of the reason's sentence (team, date, services, persons, cards), so
    # the page can say it in the reader's language; None for rows stored before they were kept.
    reason_params: Mapped[dict[str, str] | None] = mapped_column(sa.JSON, nullable=True)
    persons: Mapped[int] = mapped_column(default=0)

    plan: Mapped[Plan] = relationship(back_populates="unserved")
    hotspot: Mapped[Hotspot] = relationship()


class PlanPublication(db.Model):
    """A published version of a plan and what changed since the previous one."""

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column()
    published_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # Immutable snapshot of the stops and the diff: {"cancelled": [...], "moved": [...], ...}
    snapshot: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    changes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    plan: Mapped[Plan] = relationship(back_populates="publications")

    __table_args__ = (sa.UniqueConstraint("plan_id", "version", name="uq_publication_version"),)


class PublicVisit(db.Model):
    """What residents are told: one site on one day in a published plan, with a stable id.

    Written only when a plan is published (from the publication's snapshot), so editing a
    published plan never changes or hides what residents see until the next publication.
    Split visits of one site on one day are one row (the whole span, every team). A visit that
    a re-publication drops stays as a *cancelled* row, with ``moved_to_id`` when the same site
    got another day, so its URL keeps telling the truth. Home visits are rows too, but only
    their kelurahan and day are copied: never a name, an address or coordinates.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("office.id"), index=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    hotspot_id: Mapped[int] = mapped_column(
        sa.ForeignKey("hotspot.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(sa.Date, index=True)
    start_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    cancelled: Mapped[bool] = mapped_column(default=False)
    is_home: Mapped[bool] = mapped_column(default=False)
    services: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    team_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    # Public facts copied at publication (empty for home visits).
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    kind: Mapped[str] = mapped_column(sa.String(20), default="")
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    kecamatan_code: Mapped[str] = mapped_column(sa.String(20), default="", index=True)
    kecamatan_name: Mapped[str] = mapped_column(sa.String(120), default="")
    kelurahan_code: Mapped[str] = mapped_column(sa.String(20), default="", index=True)
    kelurahan_name: Mapped[str] = mapped_column(sa.String(120), default="")
    # The last change residents must hear about: {"kind": "retimed"|"moved"|"cancelled"|
    # "replaced"|"restored", "at": ISO instant, "previous": {"day", "start", "end"},
    # "message": the coordinator's note}; {} when nothing changed since first published.
    change: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    moved_to_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("public_visit.id", ondelete="SET NULL")
    )
    published_version: Mapped[int] = mapped_column(default=1)
    sequence: Mapped[int] = mapped_column(default=0)  # iCalendar SEQUENCE: bumped per change
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        sa.UniqueConstraint("plan_id", "hotspot_id", "day", name="uq_public_visit_site_day"),
        sa.Index("ix_public_visit_office_day", "office_id", "day"),
    )


class OutcomeResult(enum.StrEnum):
    """How a visit ended, as the field team reports it."""

    SERVED = "served"  # the team worked at the site (all or part of the planned persons)
    NOT_SERVED = "not_served"  # could not serve: the demand stays for the next plan


class OutcomeProblem(enum.StrEnum):
    """Problems a field team can report at a stop."""

    KIT_BROKEN = "kit_broken"
    NO_POWER = "no_power"
    NO_NETWORK = "no_network"
    SITE_CLOSED = "site_closed"


class TurnAwayReason(enum.StrEnum):
    """Why persons present at a stop were turned away."""

    NO_DOCUMENTS = "no_documents"  # no KK or birth certificate with them
    NOT_ELIGIBLE = "not_eligible"  # under 17 and not married, not resident of the office
    ALREADY_RECORDED = "already_recorded"
    OUT_OF_TIME = "out_of_time"
    OUT_OF_CARDS = "out_of_cards"
    EQUIPMENT = "equipment"  # the kit or the network failed
    OTHER = "other"


class StopCheckin(db.Model):
    """A field team's arrival at a stop (time and position); ``client_uuid`` makes retries
    idempotent. Kept when the plan is re-optimised (the stop link then becomes NULL)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_uuid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    stop_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("planned_stop.id", ondelete="SET NULL"), index=True
    )
    hotspot_id: Mapped[int] = mapped_column(sa.ForeignKey("hotspot.id"), index=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("team.id"), index=True)
    day: Mapped[date] = mapped_column(sa.Date, index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("stop_id", name="uq_checkin_stop"),
        sa.CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="latlon_together"),
    )


class VisitOutcome(db.Model):
    """What a field team recorded at a stop; ``client_uuid`` makes tablet retries idempotent.

    One outcome per stop (a unique constraint, so two devices racing cannot both count).
    ``demand_applied`` is what the outcome took off the hotspot's remaining demand, per
    service; the stop link becomes NULL if a later re-plan removes the stop, the outcome stays.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    client_uuid: Mapped[str] = mapped_column(sa.String(36), unique=True)
    stop_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("planned_stop.id", ondelete="SET NULL"), index=True
    )
    hotspot_id: Mapped[int] = mapped_column(sa.ForeignKey("hotspot.id"), index=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("team.id"), index=True)
    day: Mapped[date] = mapped_column(sa.Date, index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    result: Mapped[OutcomeResult] = mapped_column(_enum(OutcomeResult))
    checked_in_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    checked_out_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    present: Mapped[int] = mapped_column(default=0)  # persons who came to the team
    recorded: Mapped[dict[str, int]] = mapped_column(sa.JSON, default=dict)  # per service
    cards_carried: Mapped[int] = mapped_column(default=0)
    cards_used: Mapped[int] = mapped_column(default=0)
    turned_away: Mapped[int] = mapped_column(default=0)
    turned_away_reasons: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    problems: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # OutcomeProblem values
    demand_applied: Mapped[dict[str, int]] = mapped_column(sa.JSON, default=dict)
    notes: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    stop: Mapped[PlannedStop | None] = relationship(back_populates="outcomes")

    __table_args__ = (
        sa.UniqueConstraint("stop_id", name="uq_outcome_stop"),
        sa.CheckConstraint("cards_used >= 0", name="cards_used_nonneg"),
        sa.CheckConstraint("cards_used <= cards_carried", name="cards_used_carried"),
        sa.CheckConstraint(f"present BETWEEN 0 AND {MAX_COUNT}", name="present_range"),
        sa.CheckConstraint("turned_away BETWEEN 0 AND present", name="turned_away_range"),
    )


class SolveJob(db.Model):
    """A background solve: the row is the job (id = job id), polled for progress."""

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.QUEUED)
    backend: Mapped[str] = mapped_column(sa.String(20), default="thread")
    progress: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class SolvePart(db.Model):
    """One part of a decomposed solve (:mod:`outreach.jobs.parts`): its spec, who runs it,
    its progress and heartbeat, and its routes when done (on the part's own clock)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(
        sa.ForeignKey("solve_job.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int] = mapped_column()
    label: Mapped[str] = mapped_column(sa.String(80), default="")
    # queued, running, done, failed, cancelled
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    spec: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    time_limit_s: Mapped[float] = mapped_column(sa.Float, default=0.0)
    progress: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    routes: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    solver_status: Mapped[str] = mapped_column(sa.String(64), default="")
    worker: Mapped[str] = mapped_column(sa.String(80), default="")
    error: Mapped[str] = mapped_column(sa.Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.UniqueConstraint("job_id", "index", name="uq_solve_part_index"),)


class User(UserMixin, db.Model):
    """An account: admin, coordinator, or field member of one team."""

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    pw_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[Role] = mapped_column(_enum(Role))
    office_id: Mapped[int | None] = mapped_column(sa.ForeignKey("office.id"))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("team.id"))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    team: Mapped[Team | None] = relationship(back_populates="members")
    sessions: Mapped[list[UserSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("role <> 'field' OR team_id IS NOT NULL", name="field_has_team"),
    )

    # Set by the session loader: Flask-Login stores this server-side session id, not the user id,
    # so revoking the session row ends a copied cookie too.
    session_token = None  # type: str | None

    def set_password(self, password: str) -> None:
        self.pw_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.pw_hash, password)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def get_id(self) -> str:
        if not self.session_token:
            raise RuntimeError("user has no server-side session")
        return self.session_token


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest used to store session ids and API tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


class UserSession(db.Model):
    """A server-side login session; the cookie holds only its random id."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    user_agent: Mapped[str] = mapped_column(sa.String(200), default="")
    # A field team's tablet or phone: signed in once, kept for days (FIELD_DEVICE_*), listed
    # by name so a lost device can be revoked by its member or the coordinator.
    device_name: Mapped[str | None] = mapped_column(sa.String(80))

    user: Mapped[User] = relationship(back_populates="sessions")


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))  # shown in lists to tell tokens apart
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    user: Mapped[User] = relationship()


class AuditEvent(db.Model):
    """Who did what to which object. Never holds personal data of residents."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(60))
    object_type: Mapped[str] = mapped_column(sa.String(40), default="")
    object_id: Mapped[str] = mapped_column(sa.String(40), default="")
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    # "Who saw this person's data?" (outreach.privacy.who_accessed) looks events up by object.
    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)


def _audit_values(action: str, obj: Any, user: User | None, details: dict[str, Any]) -> dict:
    """An audit row's columns: the object by its lower-cased class name and id."""
    return {
        "action": action,
        "user_id": user.id if user is not None and user.id is not None else None,
        "object_type": type(obj).__name__.lower() if obj is not None else "",
        "object_id": str(getattr(obj, "id", "") or "") if obj is not None else "",
        "details": details,
    }


def audit(action: str, obj: Any = None, user: User | None = None, **details: Any) -> AuditEvent:
    """Add an audit event to the current session (the caller's transaction commits it)."""
    event = AuditEvent(**_audit_values(action, obj, user, details))
    db.session.add(event)
    return event


# inline(): no implicit RETURNING of the new id, which nothing here reads
_AUDIT_INSERT = sa.insert(AuditEvent.__table__).inline()


def audit_insert(action: str, obj: Any = None, user: User | None = None, **details: Any) -> None:
    """Write an audit event in the current transaction now, as one Core ``INSERT``.

    The same row as :func:`audit`, for the tablet writes that never read the event back: no
    ORM object, no ``RETURNING`` of its id, no second mapper in the commit's flush (the
    pending rows are flushed first, so the order of the statements is kept). The caller's
    commit or rollback decides, as with :func:`audit`.
    """
    db.session.execute(_AUDIT_INSERT, {"at": utcnow(), **_audit_values(action, obj, user, details)})
