"""POST /api/v1/hotspots/import: preview with row errors, then commit the valid rows."""

from __future__ import annotations

import io

import pytest

from outreach.extensions import db
from outreach.models import Hotspot

pytest.importorskip("outreach.importing.service")

CSV = (
    b"kode;nama;jenis;lintang;bujur;ktp_el;prioritas\r\n"
    b"API-1;SMA Negeri 99 Medan;SMA;3,5801;98,6789;40;2\r\n"
    b"API-2;Baris rusak;SMA;abc;98,6789;10;2\r\n"
)


def _upload(api, mode: str | None, data: bytes = CSV, name: str = "titik.csv"):
    path = "/hotspots/import" + (f"?mode={mode}" if mode else "")
    return api.post(
        path,
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_preview_reports_row_errors_and_stores_nothing(api):
    """The preview lists the broken row with its column and stores no hotspot."""
    before = db.session.query(Hotspot).count()
    resp = _upload(api, None)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["mode"] == "preview"
    assert body["counts"]["valid"] == 1 and body["counts"]["invalid"] == 1
    bad = next(r for r in body["rows"] if not r["ok"])
    assert bad["row"] == 3 and bad["errors"]
    assert db.session.query(Hotspot).count() == before


def test_commit_imports_valid_rows_and_reimport_updates(api):
    """Commit stores the valid row; the same file again updates instead of duplicating."""
    first = _upload(api, "commit")
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["created"] == 1 and first.get_json()["skipped"] == 1
    again = _upload(api, "commit").get_json()
    assert again["created"] == 0 and again["updated"] == 1
    assert db.session.query(Hotspot).filter_by(external_code="API-1").count() == 1


def test_unusable_file_and_missing_file_are_400(api):
    """Binary garbage is rejected in the error shape; a request without a file names 'file'."""
    resp = _upload(api, None, data=b"\xff\xfe\x00garbage\x00", name="x.csv")
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "import_rejected"
    resp = api.post("/hotspots/import", data={}, content_type="multipart/form-data")
    assert resp.get_json()["error"]["details"][0]["field"] == "file"
    resp = _upload(api, "later")
    assert resp.get_json()["error"]["details"][0]["field"] == "mode"
