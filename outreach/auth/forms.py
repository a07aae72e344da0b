"""Login and password forms (Flask-WTF: every POST carries a CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from .passwords import MAX_LENGTH


class LoginForm(FlaskForm):
    """Username and password; passwords are taken exactly as typed (no trimming)."""

    username = StringField(
        _l("Username"),
        validators=[DataRequired(), Length(max=80)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    # Only used for field members: their sign-in becomes a device session with this name.
    device_name = StringField(
        _l("Device name"),
        validators=[Optional(), Length(max=80)],
        filters=[lambda v: " ".join(v.split()) if isinstance(v, str) else v],
        description=_l('Field teams: name this tablet or phone, e.g. "Tablet Tim 1".'),
        render_kw={"autocomplete": "off", "maxlength": 80},
    )
    next = HiddenField()
    submit = SubmitField(_l("Log in"))


class LogoutForm(FlaskForm):
    """An empty form: logging out is a POST with a CSRF token, never a GET."""

    submit = SubmitField(_l("Log out"))


class PasswordChangeForm(FlaskForm):
    """Current password plus the new one twice."""

    current = PasswordField(
        _l("Current password"),
        validators=[InputRequired(), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    new = PasswordField(
        _l("New password"),
        validators=[InputRequired(), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[InputRequired(), EqualTo("new", message=_l("The new passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change password"))
