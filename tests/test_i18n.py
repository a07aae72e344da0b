"""Translations: the committed .mo matches its .po, and the catalogue is well-formed."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path(__file__).resolve().parents[1] / "outreach" / "translations"
PO = TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.mo"


def _messages(catalog) -> dict:
    # Plural messages have tuple/list ids and strings: normalise to tuples to compare.
    def key(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    return {key(m.id): key(m.string) for m in catalog if m.id and m.string}


def test_compiled_catalogue_is_up_to_date(tmp_path):
    """Compiling messages.po again gives exactly the messages of the committed messages.mo."""
    with PO.open("rb") as f:
        catalog = read_po(f, locale="id")
    fresh = tmp_path / "messages.mo"
    with fresh.open("wb") as f:
        write_mo(f, catalog)  # what `pybabel compile` does
    with fresh.open("rb") as f:
        expected = _messages(read_mo(f))
    with MO.open("rb") as f:
        committed = _messages(read_mo(f))
    assert committed == expected, "run: pybabel compile -d outreach/translations"


def test_catalogue_placeholders_match():
    """Every translation keeps its msgid's %(name)s placeholders (Babel's own checks pass)."""
    with PO.open("rb") as f:
        catalog = read_po(BytesIO(f.read()), locale="id")
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == []


def test_catalogue_is_not_marked_fuzzy():
    """A fuzzy header would make pybabel compile skip the whole catalogue."""
    with PO.open("rb") as f:
        catalog = read_po(f, locale="id")
    assert not catalog.fuzzy
    assert catalog.locale_identifier == "id"
