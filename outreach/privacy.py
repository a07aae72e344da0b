"""UU PDP retention: a home-visit request's personal data lives only as long as promised.

The consent notice tells the requester that the data is deleted ``HOME_VISIT_RETENTION_DAYS``
days after the request is closed. :func:`purge_expired_requests` keeps that promise: it blanks
the requester's and the person's name, phone, NIK, address, notes and coordinates of every
request closed long enough ago, keeps the facts that carry no person (office, kelurahan, reason,
services, persons, status, dates) for the office's statistics, and writes one audit event per
request. ``flask purge-requests`` runs it; it is meant for a daily timer (cron or systemd).

A request counts as closed when it is *done* (``retain_until`` is set then) or *rejected*
(from the decision date). Requests still received or accepted are never purged.

The home-visit site an approved request became keeps its place in past plans, but not the
house: its address, notes and contact are blanked, its position rounded to two decimals (about
1 km, the kelurahan) and it is archived.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from .extensions import db
from .models import Hotspot, HotspotStatus, RequestStatus, VisitRequest, audit, utcnow

PERSONAL_FIELDS = ("requester_name", "person_name", "phone", "address", "notes")


def expired_requests(today: date, retention_days: int) -> sa.Select:
    """Requests whose personal data must go on ``today``."""
    rejected_before = datetime.combine(today - timedelta(days=retention_days), datetime.min.time())
    return sa.select(VisitRequest).where(
        VisitRequest.purged_at.is_(None),
        sa.or_(
            sa.and_(
                VisitRequest.status == RequestStatus.DONE,
                VisitRequest.retain_until.is_not(None),
                VisitRequest.retain_until <= today,
            ),
            sa.and_(
                VisitRequest.status == RequestStatus.REJECTED,
                VisitRequest.decided_at.is_not(None),
                VisitRequest.decided_at < rejected_before,
            ),
        ),
    )


def purge_expired_requests(today: date, retention_days: int) -> int:
    """Blank the personal data of expired requests in one transaction; return how many."""
    now = utcnow()
    count = 0
    for req in db.session.scalars(expired_requests(today, retention_days).with_for_update()):
        for name in PERSONAL_FIELDS:
            setattr(req, name, "")
        req.nik = None
        req.lat = req.lon = None
        req.purged_at = now
        site = db.session.get(Hotspot, req.hotspot_id) if req.hotspot_id else None
        if site is not None:
            site.address = site.notes = site.contact_name = site.contact_phone = ""
            if site.lat is not None:
                site.lat, site.lon = round(site.lat, 2), round(site.lon, 2)
            site.status = HotspotStatus.ARCHIVED
        audit("visit_request.purge", req, None, status=str(req.status.value))
        count += 1
    db.session.commit()
    return count
