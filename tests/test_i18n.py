"""Translations: every message has Indonesian, the .mo matches its .po, pages switch language."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from outreach.models import Role
from tests.factories import login, make_office, make_team, make_user

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "outreach" / "translations"
PO = TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "id" / "LC_MESSAGES" / "messages.mo"
# The keywords of the extract command in docs/i18n/README.md (-k _l -k lazy_gettext).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


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


def extracted_msgids() -> dict[str, str]:
    """Every msgid in the code and templates (babel.cfg), with one place it comes from."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename="babel.cfg")
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def test_every_extracted_message_has_an_indonesian_translation():
    """Each msgid of the code and templates has a non-empty Indonesian msgstr (all plural forms)."""
    found = extracted_msgids()
    assert len(found) > 400  # the extraction really read the code and templates
    with PO.open("rb") as f:
        catalog = read_po(f, locale="id")
    missing = []
    for msgid, where in sorted(found.items()):
        message = catalog.get(msgid)
        strings = () if message is None else message.string
        strings = strings if isinstance(strings, list | tuple) else (strings,)
        if not strings or not all(strings) or (message is not None and message.fuzzy):
            missing.append(f"{where}: {msgid!r}")
    assert missing == [], "extract, merge and translate (docs/i18n/README.md):\n" + "\n".join(
        missing
    )


def test_compiled_catalogue_holds_every_extracted_message():
    """The committed .mo translates every extracted msgid (it is compiled from the updated .po)."""
    with MO.open("rb") as f:
        compiled = _messages(read_mo(f))
    singular = {k[0] if isinstance(k, tuple) else k for k in compiled}
    absent = sorted(set(extracted_msgids()) - singular)
    assert absent == [], "run: pybabel compile -d outreach/translations"


# --- pages: Indonesian by default, English with ?lang=en ---------------------------------------


# One known heading per area: (who is logged in, page, Indonesian text, English text).
PAGES = [
    (None, "/", "Jemput Bola: layanan KTP-el datang kepada Anda", "the e-ID service comes to you"),
    (None, "/login", '"login-title">Masuk<', '"login-title">Log in<'),
    ("coordinator", "/coord/", "Dasbor jemput bola", "Outreach dashboard"),
    ("coordinator", "/coord/teams", "<title>Tim ·", "<title>Teams ·"),
    ("coordinator", "/coord/hotspots", "<title>Titik layanan ·", "<title>Hotspots ·"),
    ("coordinator", "/coord/imports", "Impor titik layanan", "Import hotspots"),
    ("coordinator", "/coord/plans", "Rencana jemput bola", "Outreach plans"),
    ("field", "/field/", "<h1>Rute hari ini</h1>", "<h1>Today's route</h1>"),
]


@pytest.mark.parametrize(("who", "url", "indonesian", "english"), PAGES, ids=[p[1] for p in PAGES])
def test_page_is_indonesian_by_default_and_english_on_request(
    client, app, who, url, indonesian, english
):
    """The page shows Indonesian without a choice, English after ?lang=en (and it sticks)."""
    office = make_office()
    if who == "coordinator":
        login(client, make_user(Role.COORDINATOR, office_id=office.id))
    elif who == "field":
        login(client, make_user(Role.FIELD, team=make_team(office)))
    default = client.get(url)
    assert default.status_code == 200
    html = default.get_data(as_text=True)
    assert indonesian in html and english not in html
    html = client.get(url + "?lang=en").get_data(as_text=True)
    assert english in html and indonesian not in html
    html = client.get(url).get_data(as_text=True)  # the choice is kept in the session
    assert english in html
    html = client.get(url + "?lang=id").get_data(as_text=True)
    assert indonesian in html
