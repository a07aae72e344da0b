"""The office's public face: its public address (slug), own contacts and request rules.

What is set here reaches every public page of the office (the footer and the contact page) and
the home-visit form (whether the NIK is asked for). Contacts are the office's, never a person's.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import Length, Optional, Regexp, ValidationError

from ..extensions import db
from ..models import Office, Role, audit
from ..public.schedule import SLUG_RE, office_key
from ..roles import roles_required
from . import bp
from .teams import acting_user, current_office

PHONE_RE = re.compile(r"^[0-9+()\-\s]{6,40}$")


def _phone(form, field) -> None:  # noqa: ANN001
    if field.data and (not PHONE_RE.match(field.data) or sum(c.isdigit() for c in field.data) < 6):
        raise ValidationError(_("Use digits, spaces, +, - and brackets, e.g. (061) 4512345."))


class OfficeForm(FlaskForm):
    slug = StringField(
        _l("Public address"),
        validators=[Length(min=2, max=80)],
        description=_l(
            "Lower-case letters, digits and dashes, e.g. kota-medan: "
            "the schedule is then at /o/kota-medan."
        ),
    )
    address = StringField(_l("Address"), validators=[Optional(), Length(max=500)])
    phone = StringField(_l("Telephone"), validators=[Optional(), Length(max=40), _phone])
    whatsapp = StringField(_l("WhatsApp"), validators=[Optional(), Length(max=40), _phone])
    email = StringField(
        _l("Email"),
        validators=[
            Optional(),
            Length(max=120),
            # A shape check only (no email_validator dependency): the address is shown, not used.
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter a valid e-mail address.")),
        ],
    )
    opening_hours = StringField(
        _l("Opening hours"),
        validators=[Optional(), Length(max=200)],
        description=_l("For example: Senin–Jumat 08.00–15.00 WIB"),
    )
    requires_nik = BooleanField(_l("Ask for the NIK on home-visit requests"))

    def validate_slug(self, field) -> None:  # noqa: ANN001
        value = (field.data or "").strip().lower()
        if not SLUG_RE.match(value) or value.isdigit():
            raise ValidationError(
                _("Use lower-case letters, digits and dashes, with at least one letter.")
            )
        field.data = value


@bp.route("/office", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR, Role.ADMIN)
def office_settings():
    """Edit the office's public address and contacts."""
    office = current_office()
    form = OfficeForm(obj=office)
    if not form.is_submitted():
        form.slug.data = office.slug or ""
    status = 200
    if form.validate_on_submit():
        taken = db.session.scalar(
            sa.select(Office.id).where(Office.slug == form.slug.data, Office.id != office.id)
        )
        if taken is not None:
            form.slug.errors.append(_("Another office already uses this address."))
            status = 400
        else:
            changed = {
                name: getattr(form, name).data
                for name in ("slug", "address", "phone", "whatsapp", "email", "opening_hours")
                if (getattr(office, name) or "") != (getattr(form, name).data or "").strip()
            }
            for name in ("slug", "address", "phone", "whatsapp", "email", "opening_hours"):
                setattr(office, name, (getattr(form, name).data or "").strip())
            office.requires_nik = bool(form.requires_nik.data)
            audit("office.update", office, acting_user(), fields=sorted(changed))
            db.session.commit()
            flash(_("Office settings saved."), "success")
            return redirect(url_for("coord.office_settings"))
    elif form.is_submitted():
        status = 400
    return (
        render_template(
            "coordinator/office.html",
            form=form,
            office=office,
            public_url=url_for("public.office_home", office_key=office_key(office), _external=True)
            if office.slug or office.id
            else "",
        ),
        status,
    )
