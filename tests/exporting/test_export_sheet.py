"""Day-sheet rows and attachment file names."""

from __future__ import annotations

from outreach.exporting import content_disposition, day_sheet_rows, safe_filename


def test_day_sheet_rows_in_visit_order(plan_setup):
    """Rows follow visit order with local times and only the services that have persons."""
    rows = day_sheet_rows(plan_setup["route_a2"])
    assert [r["position"] for r in rows] == [1, 2]
    school = rows[0]
    assert school["start"] == "08:30" and school["end"] == "09:30"
    assert school["services"] == [("Perekaman KTP-el", 120), ("KIA", 4)]
    assert school["persons_total"] == 124 and school["cards"] == 30 and school["locked"] is True
    assert school["geo_uri"].startswith("geo:3.")
    assert rows[1]["kind_code"] == "home"


def test_day_sheet_marks_cancelled(plan_setup):
    """Cancelled visits are flagged for the template."""
    rows = day_sheet_rows(plan_setup["route_b1"])
    assert [r["cancelled"] for r in rows] == [False, True]
    assert rows[1]["status"] == "dibatalkan"


def test_day_sheet_keeps_raw_text(plan_setup):
    """Names are raw text (the template escapes them), not pre-escaped or neutralised."""
    rows = day_sheet_rows(plan_setup["route_a1"])
    assert rows[0]["name"] == '=HYPERLINK("http://x","y")'


def test_safe_filename_strips_dangerous_characters():
    """Quotes, slashes, CR/LF and accents cannot reach the header or the file system."""
    name = safe_filename("rencana", 3, 'Tim "Sélatan"/../x\r\nSet-Cookie: a=b', ext="csv")
    assert name.endswith(".csv")
    assert name.isascii()
    for bad in ('"', "/", "\\", "\r", "\n", ":", " ", ".."):
        assert bad not in name
    assert "Selatan" in name


def test_safe_filename_fallback():
    """A name of only unsafe characters falls back to a default."""
    assert safe_filename("///", ext="xlsx") == "ekspor.xlsx"


def test_content_disposition_is_attachment():
    """The header value forces a download with a quoted, sanitised name."""
    value = content_disposition('evil"; filename="x.html')
    assert value.startswith('attachment; filename="')
    assert value.count('"') == 2
