"""Why a hotspot is unserved: one sentence per reason code, Indonesian first, English on request."""

from __future__ import annotations

import pytest

from outreach.labels import UNSERVED_REASONS, unserved_reason
from outreach.planning import explain
from outreach.plans import adapter

ENGLISH_FALLBACK = "stored sentence"

# code -> (params as the engine stores them, Indonesian sentence, English sentence)
CASES = {
    explain.LOCK_CONFLICT: (
        {"team": "7", "date": "2026-12-07"},
        "Titik ini dikunci ke tim Tim Medan Barat pada Senin, 7 Desember 2026, tetapi tidak "
        "dapat dilayani di sana.",
        "It is locked to team Tim Medan Barat on Monday, 7 December 2026, where it cannot be "
        "served.",
    ),
    explain.NO_TEAM_OFFERS_SERVICE: (
        {"services": "ktp_print, kia"},
        "Tidak ada tim yang menawarkan Pencetakan KTP-el dan Kartu Identitas Anak (KIA).",
        "No team offers KTP-el printing and Child ID card (KIA).",
    ),
    explain.NO_PRINTER: (
        {},
        "Pencetakan KTP-el diminta, tetapi tidak ada tim dengan layanan itu yang membawa printer.",
        "KTP-el printing is requested but no team offering it has a printer.",
    ),
    explain.HOURS_NEVER_MEET_SHIFT: (
        {},
        "Jam bukanya tidak pernah bertemu dengan jam kerja tim yang menawarkan layanannya.",
        "Its opening hours never overlap a working shift of a team that offers its services.",
    ),
    explain.UNREACHABLE_WITHIN_SHIFT: (
        {"persons": "1200"},
        "Tidak ada tim yang bisa mencapainya, melayani 1.200 orang dalam jam bukanya, lalu "
        "kembali sebelum jam kerja berakhir.",
        "No team can reach it, serve 1,200 persons within its opening hours and return before "
        "the end of the shift.",
    ),
    explain.CARDS_EXHAUSTED: (
        {"cards": "45"},
        "Sisa blangko KTP-el tidak cukup untuk mencetak 45 kartu.",
        "Not enough blank cards left for 45 KTP-el prints.",
    ),
    explain.SEARCH_STOPPED: (
        {},
        "Pencarian berhenti sebelum titik ini ditempatkan, padahal masih ada hari tim yang "
        "kosong; rencanakan ulang dengan waktu lebih lama.",
        "The search stopped before placing it, although a team-day is still free; plan again "
        "with more time.",
    ),
    explain.OUTRANKED: (
        {},
        "Sebenarnya muat sendiri, tetapi waktu tim pada hari yang memungkinkan sudah dipakai "
        "untuk titik dengan prioritas sama atau lebih tinggi.",
        "It would fit on its own, but the teams' time on the days that could take it went to "
        "sites of the same or higher priority.",
    ),
    explain.IDLE_TIME_UNUSED: (
        {"team": "7", "date": "2026-12-07"},
        "Tim Medan Barat masih menganggur pada Senin, 7 Desember 2026 selama titik ini buka, "
        "cukup lama untuk melayaninya, tetapi perjalanan ke sana dan ke titik berikutnya tidak "
        "muat dalam waktu itu dan pencarian tidak menemukan susunan lain. Rencanakan ulang "
        "dengan waktu lebih lama, atau kunci titik ini ke hari itu.",
        "Tim Medan Barat has idle time on Monday, 7 December 2026 while it is open, long "
        "enough to serve it, but the drive there and on to the next stop does not fit that "
        "time and the search found no other arrangement. Plan again with more time, or lock "
        "it to that day.",
    ),
    explain.NOT_PLACED: (
        {"team": "7", "date": "2026-12-07", "persons": "1200"},
        "Tim Medan Barat dapat melayaninya pada Senin, 7 Desember 2026 hanya dengan "
        "menggantikan 1.200 warga berprioritas lebih rendah, yang lebih berbobot menurut "
        "prioritas dan jumlahnya. Kunci titik ini ke hari itu agar didahulukan.",
        "Tim Medan Barat could serve it on Monday, 7 December 2026 only in place of 1,200 "
        "residents of lower priority, who count for more by priority and number. Lock it to "
        "that day to put it first.",
    ),
    adapter.REASON_NEEDS_LOCATION: (
        None,
        adapter.REASON_TEXTS[adapter.REASON_NEEDS_LOCATION],
        "The location is not known yet: put a pin on the map so this point can be planned.",
    ),
    adapter.REASON_DROPPED: (
        None,
        adapter.REASON_TEXTS[adapter.REASON_DROPPED],
        "Removed from the plan by the coordinator.",
    ),
}
TEAMS = {"7": "Tim Medan Barat"}


def test_every_reason_code_has_a_sentence():
    """The engine's and the adapter's codes are exactly the codes with a sentence."""
    codes = set(explain.REASONS) | set(adapter.REASON_TEXTS)
    assert set(UNSERVED_REASONS) == codes == set(CASES)


@pytest.mark.parametrize("code", sorted(CASES))
def test_reason_is_indonesian_by_default(app, code):
    params, indonesian, _english = CASES[code]
    with app.test_request_context("/"):
        assert unserved_reason(code, params, ENGLISH_FALLBACK, TEAMS) == indonesian


@pytest.mark.parametrize("code", sorted(CASES))
def test_reason_is_english_on_request(app, code):
    params, _indonesian, english = CASES[code]
    with app.test_request_context("/?lang=en"):
        assert unserved_reason(code, params, ENGLISH_FALLBACK, TEAMS) == english


@pytest.mark.parametrize("code", sorted(explain.REASONS))
def test_english_sentence_matches_the_engine_message(app, code):
    """In English the sentence says what the engine's own message says (labels aside)."""
    params, _indonesian, english = CASES[code]
    engine = explain.REASONS[code].format(**(params or {}))
    with app.test_request_context("/?lang=en"):
        mine = unserved_reason(code, params, engine, TEAMS)
    assert mine == english
    if not params:  # the same wording, but the card is called KTP-el as everywhere in the UI
        assert mine == engine.replace("KTP ", "KTP-el ")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "/",
            "Tidak ada satu tim pun yang menawarkan Perekaman KTP-el dan Akta kelahiran sekaligus.",
        ),
        ("/?lang=en", "No single team offers KTP-el recording and Birth certificate together."),
    ],
)
def test_services_offered_only_separately(app, url, expected):
    """'x + y together' (no single team offers all of them) names the services by label."""
    params = {"services": "ktp_record + birth_cert together"}
    with app.test_request_context(url):
        assert unserved_reason(explain.NO_TEAM_OFFERS_SERVICE, params, "x") == expected


def test_team_without_a_known_name_shows_its_id(app):
    params = {"team": "12", "date": "2026-12-08"}
    with app.test_request_context("/"):
        text = unserved_reason(explain.LOCK_CONFLICT, params, "x")
    assert text.startswith("Titik ini dikunci ke tim 12 pada Selasa, 8 Desember 2026")


@pytest.mark.parametrize(
    ("code", "params"),
    [
        ("SOMETHING_NEW", {}),  # unknown code
        (None, None),
        (explain.LOCK_CONFLICT, None),  # stored before the values were kept
        (explain.LOCK_CONFLICT, {"team": "7"}),  # a value is missing
        (explain.LOCK_CONFLICT, {"team": "7", "date": "next Monday"}),  # malformed date
        (explain.CARDS_EXHAUSTED, {"cards": "many"}),  # malformed count
        (explain.NO_TEAM_OFFERS_SERVICE, {"services": ""}),
    ],
)
def test_unknown_code_or_missing_values_fall_back_to_the_stored_sentence(app, code, params):
    with app.test_request_context("/"):
        assert unserved_reason(code, params, ENGLISH_FALLBACK) == ENGLISH_FALLBACK


def test_rows_sharing_a_reason_get_the_same_sentence_each_row_its_own(app):
    """unserved_reasons words each distinct reason once: rows with the same code, values and
    stored sentence share it, a different value or stored sentence gives another."""
    from dataclasses import dataclass

    from outreach.labels import unserved_reasons

    @dataclass(eq=False)  # keyed by identity, like PlanUnserved rows
    class Row:
        reason_code: str | None
        reason_params: dict[str, str] | None
        reason_text: str

    def row(code, params, text=ENGLISH_FALLBACK):
        return Row(code, params, text)

    rows = [
        row(explain.OUTRANKED, None),
        row(explain.OUTRANKED, {}),
        row(explain.UNREACHABLE_WITHIN_SHIFT, {"persons": "1200"}),
        row(explain.UNREACHABLE_WITHIN_SHIFT, {"persons": "45"}),
        row("SOMETHING_NEW", None, "first"),
        row("SOMETHING_NEW", None, "second"),
    ]
    with app.test_request_context("/?lang=en"):
        reasons = unserved_reasons(rows)
        expected = [unserved_reason(r.reason_code, r.reason_params, r.reason_text) for r in rows]
    assert [reasons[r] for r in rows] == expected
    assert expected[0] == expected[1] == CASES[explain.OUTRANKED][2]
    assert "1,200 persons" in expected[2] and "45 persons" in expected[3]
    assert expected[4:] == ["first", "second"]
