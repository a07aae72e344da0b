"""Form helpers shared by the coordinator screens.

* WTForms fields: :class:`ClockField` (a time of day), :class:`StrictIntField` (ASCII digits
  only), :class:`MultiCheckboxField`, and :func:`choices` for select fields from a label dict.
* Reading plain posted forms: :func:`posted_int` (a required whole number, else 400).
* Showing a refused action: :func:`error_messages` and :func:`flash_error` turn a
  :class:`~outreach.errors.DomainError` (its message and field details) into text.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, request
from flask_babel import gettext as _
from wtforms import Field, SelectChoice, SelectMultipleField, widgets
from wtforms.validators import ValidationError

from ..errors import DomainError
from ..models import MAX_COUNT

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::00)?$")
_INT = re.compile(r"^[0-9]{1,9}$")


# -- times of day ------------------------------------------------------------------------------


def hhmm(minutes: int | None) -> str:
    """Format minutes after midnight as ``HH:MM`` (empty for ``None``)."""
    if minutes is None:
        return ""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_clock(text: str) -> int:
    """Parse a strict ``HH:MM`` (as sent by ``<input type=time>``) into minutes; ValueError."""
    m = _CLOCK.match(text.strip())
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * 60 + int(m.group(2))


# -- WTForms fields ----------------------------------------------------------------------------


class ClockField(Field):
    """A time of day as minutes after midnight, rendered as ``<input type="time">``."""

    widget = widgets.TimeInput()

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return hhmm(self.data)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = parse_clock(str(valuelist[0]))
        except ValueError:
            self.data = None
            raise ValueError(_("Enter a time as HH:MM, e.g. 08:00.")) from None


class StrictIntField(Field):
    """A whole number typed with ASCII digits only (no sign, spaces, ``_`` or other scripts)."""

    widget = widgets.NumberInput(min=0)

    def __init__(self, label=None, validators=None, *, low: int = 0, high: int = MAX_COUNT, **kw):
        super().__init__(label, validators, **kw)
        self.low, self.high = low, high
        self.render_kw = {"min": low, "max": high, **(self.render_kw or {})}

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data)

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]) if valuelist else ""
        if not text:
            self.data = None
            return
        if not _INT.match(text):
            self.data = None
            raise ValueError(_("Enter a whole number using the digits 0-9 only."))
        self.data = int(text)

    def pre_validate(self, form: Any) -> None:
        if self.data is not None and not self.low <= self.data <= self.high:
            raise ValidationError(
                _("Enter a number from %(low)d to %(high)d.", low=self.low, high=self.high)
            )


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def choices(labels: dict[str, Any]) -> list[SelectChoice]:
    """Select options from a ``value -> label`` dict, in its order."""
    return [SelectChoice(value, label) for value, label in labels.items()]


# -- plain posted forms ------------------------------------------------------------------------


def posted_int(name: str, missing: str) -> int:
    """The whole number posted as ``name``; 400 with ``missing`` as the reason otherwise."""
    raw = request.form.get(name, "")
    if not raw.isdigit():
        abort(400, description=missing)
    return int(raw)


# -- refused actions ---------------------------------------------------------------------------


def error_messages(details: Any) -> list[str]:
    """An error's field details (``{"field", "message"}`` dicts or plain text) as sentences."""
    return [d["message"] if isinstance(d, dict) else str(d) for d in details or []]


def flash_error(error: DomainError) -> None:
    """Flash a refused action: its message, then one line per field detail."""
    flash(error.message, "error")
    for message in error_messages(error.details):
        flash(message, "error")
