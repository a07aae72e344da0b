"""Coordinator views: import hotspots from CSV/XLSX — upload, preview, then import the valid rows.

Between the preview and the commit the upload is kept **server-side**: the bytes go to
``instance/uploads/<token>.bin`` (plus a small ``.json`` with the office, the user, the file name
and the time), and only the random token travels in the form and the URL. We chose this over a
signed hidden payload because an upload may be several megabytes: sending it back in a hidden
field would exceed ``MAX_FORM_MEMORY_SIZE``, double the traffic on slow office links and put the
whole file in the browser's form cache. The commit re-reads the very same bytes, re-validates them
against the current database (another import may have happened meanwhile) and writes the valid
rows in one transaction through :mod:`outreach.importing.service`. The token is 192 random bits,
bound to the uploading user and office, deleted after the commit or a discard, and swept after
``IMPORT_UPLOAD_TTL_SECONDS`` (default one hour).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from typing import Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge

from ..exporting import content_disposition
from ..extensions import db
from ..importing import ImportRejected, Issue, template_csv, template_xlsx
from ..importing.fields import FIELD_ALIASES
from ..importing.messages import render as render_message
from ..importing.parse import read_table
from ..labels import SERVICE_SHORT_LABELS
from ..models import Office
from . import bp
from .hotspots import KIND_LABELS
from .teams import SERVICE_LABELS, acting_user, current_office

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
DEFAULT_TTL_SECONDS = 3600
# Enough to see what is wrong without sending a 5,000-row table to the browser.
PREVIEW_ROW_LIMIT = 300
ISSUE_LIMIT = 500

FIELD_LABELS = {
    "external_id": _l("Code (re-importing the same code updates the hotspot)"),
    "name": _l("Name (required)"),
    "kind": _l("Kind"),
    "address": _l("Address"),
    "kecamatan": _l("Kecamatan"),
    "kecamatan_code": _l("Kecamatan code"),
    "kelurahan": _l("Kelurahan/desa"),
    "kelurahan_code": _l("Kelurahan/desa code"),
    "lat": _l("Latitude"),
    "lon": _l("Longitude"),
    "ktp_record": SERVICE_LABELS["ktp_record"],
    "ktp_print": SERVICE_LABELS["ktp_print"],
    "birth_cert": SERVICE_LABELS["birth_cert"],
    "kia": SERVICE_LABELS["kia"],
    "priority": _l("Priority 1-5 (1 = most urgent)"),
    "opening_hours": _l("Opening hours"),
    "notes": _l("Notes"),
}


class UploadForm(FlaskForm):
    file = FileField(
        _l("Spreadsheet (CSV or XLSX)"),
        validators=[
            FileRequired(_l("Choose a file to upload.")),
            FileAllowed(["csv", "xlsx"], _l("Only .csv and .xlsx files can be imported.")),
        ],
    )


class TokenForm(FlaskForm):
    """Commit or discard: only the CSRF token; the upload token is in the URL."""


# ---------------------------------------------------------------------------------------------
# Server-side storage of an upload between preview and commit
# ---------------------------------------------------------------------------------------------


def _upload_dir() -> str:
    path = current_app.config.get("IMPORT_UPLOAD_DIR") or os.path.join(
        current_app.instance_path, "uploads"
    )
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _ttl() -> int:
    return int(current_app.config.get("IMPORT_UPLOAD_TTL_SECONDS", DEFAULT_TTL_SECONDS))


def _paths(token: str) -> tuple[str, str]:
    base = os.path.join(_upload_dir(), token)
    return base + ".bin", base + ".json"


def _remove(token: str) -> None:
    for path in _paths(token):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def sweep_expired_uploads(now: float | None = None) -> int:
    """Delete stored uploads older than the TTL; return how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    directory = _upload_dir()
    for name in os.listdir(directory):
        if not name.endswith(".json") or not _TOKEN.match(name[:-5]):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                created = float(json.load(fh).get("created", 0))
        except (OSError, ValueError, TypeError, AttributeError):
            created = 0.0
        if now - created > _ttl():
            _remove(name[:-5])
            removed += 1
    return removed


def store_upload(office: Office, filename: str, data: bytes) -> str:
    """Keep the uploaded bytes for the commit; return the random token that names them."""
    sweep_expired_uploads()
    token = secrets.token_urlsafe(24)
    bin_path, meta_path = _paths(token)
    meta = {
        "office_id": office.id,
        "user_id": current_user.id,
        "filename": filename,
        "created": time.time(),
        "size": len(data),
    }
    for path, payload in ((bin_path, data), (meta_path, json.dumps(meta).encode())):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
    return token


def load_upload(token: str, office: Office) -> tuple[str, bytes] | None:
    """Return ``(filename, bytes)`` of this user's live upload, or ``None``."""
    if not _TOKEN.match(token):
        return None
    bin_path, meta_path = _paths(token)
    try:
        with open(meta_path, encoding="utf-8") as fh:
            meta = json.load(fh)
        # Another user's or office's token is treated exactly like an unknown one.
        if meta.get("office_id") != office.id or meta.get("user_id") != current_user.id:
            return None
        if time.time() - float(meta.get("created", 0)) > _ttl():
            _remove(token)
            return None
        with open(bin_path, "rb") as fh:
            return str(meta.get("filename") or "upload"), fh.read()
    except (OSError, ValueError, TypeError, AttributeError):
        return None


# ---------------------------------------------------------------------------------------------
# Presentation helpers
# ---------------------------------------------------------------------------------------------


def _english() -> bool:
    return str(get_locale() or "id").startswith("en")


def issue_text(issue: Issue) -> str:
    """The importer's message in the UI language, numbers in the reader's style (3,5952)."""
    return render_message(issue.code, issue.params, "en" if _english() else "id", localise=True)


def _issue_rows(issues: list[Issue]) -> list[dict[str, Any]]:
    return [
        {"row": i.row, "column": i.column, "code": i.code, "text": issue_text(i)}
        for i in issues[:ISSUE_LIMIT]
    ]


def _service():
    # Imported here: the service needs the app's models and lands separately from this module.
    from ..importing import service

    return service


def _upload_page(form: UploadForm, error: Issue | None = None, status: int = 200):
    return render_template(
        "coordinator/imports/upload.html",
        form=form,
        error=issue_text(error) if error else None,
        error_issue=error,
        field_labels=FIELD_LABELS,
        aliases=FIELD_ALIASES,
        kind_labels=KIND_LABELS,
        max_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024),
    ), status


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


@bp.get("/imports")
def imports():
    """Show the upload form, the template downloads and the accepted columns."""
    current_office()
    return _upload_page(UploadForm())


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _template_download(data: bytes, mimetype: str, ext: str) -> Response:
    # The same attachment header as every other download (outreach.exporting).
    return Response(
        data,
        mimetype=mimetype,
        headers={"Content-Disposition": content_disposition(f"template-titik-layanan.{ext}")},
    )


@bp.get("/imports/template.csv")
def import_template_csv():
    """Download the CSV template (UTF-8 with BOM, semicolon-separated, Indonesian headers)."""
    current_office()
    return _template_download(template_csv(), "text/csv", "csv")


@bp.get("/imports/template.xlsx")
def import_template_xlsx():
    """Download the XLSX template with an instructions sheet."""
    current_office()
    return _template_download(template_xlsx(), XLSX_MIMETYPE, "xlsx")


@bp.post("/imports")
def import_upload():
    """Receive a spreadsheet, keep it server-side and show its preview."""
    office = current_office()
    form = UploadForm()
    if not form.validate_on_submit():
        return _upload_page(form, status=400)
    upload = form.file.data
    filename = os.path.basename(upload.filename or "upload")[:200]
    data = upload.read()
    try:
        # Reading the cells finds every whole-file problem (encoding, format, size) cheaply, so
        # a rejected file never lands on disk; the row checks run once, in the preview.
        read_table(filename, data)
    except ImportRejected as exc:
        return _upload_page(form, error=exc.issue, status=400)
    token = store_upload(office, filename, data)
    return redirect(url_for("coord.import_review", token=token))


@bp.get("/imports/<token>")
def import_review(token: str):
    """Show the preview of a stored upload: errors, warnings and the rows to import."""
    office = current_office()
    stored = load_upload(token, office)
    if stored is None:
        flash(
            _("This preview has expired or does not exist. Please upload the file again."), "error"
        )
        return redirect(url_for("coord.imports"))
    filename, data = stored
    try:
        preview = _service().preview_upload(db.session, office, filename, data)
    except ImportRejected as exc:  # the importer changed its mind (e.g. after an upgrade)
        _remove(token)
        db.session.rollback()
        return _upload_page(UploadForm(), error=exc.issue, status=400)
    db.session.rollback()  # a preview stores nothing
    rows = preview.rows
    shown = preview.valid_rows[:PREVIEW_ROW_LIMIT]
    # One number column per service the file asks for (not a pill per service: pills wrap).
    service_columns = [
        code for code in SERVICE_LABELS if any(r.values.demand.get(code) for r in shown)
    ]
    return render_template(
        "coordinator/imports/preview.html",
        token=token,
        preview=preview,
        counts=preview.counts(),
        file_issues=_issue_rows(preview.issues),
        errors=_issue_rows(preview.errors),
        row_warnings=_issue_rows([w for r in rows for w in r.warnings]),
        error_total=len(preview.errors),
        warning_total=sum(len(r.warnings) for r in rows),
        shown_rows=shown,
        service_columns=service_columns,
        service_short_labels=SERVICE_SHORT_LABELS,
        row_limit=PREVIEW_ROW_LIMIT,
        kind_labels=KIND_LABELS,
        service_labels=SERVICE_LABELS,
        form=TokenForm(),
    )


@bp.post("/imports/<token>/commit")
def import_commit(token: str):
    """Import the valid rows of the previewed upload in one transaction."""
    office = current_office()
    form = TokenForm()
    if not form.validate_on_submit():
        abort(400)
    stored = load_upload(token, office)
    if stored is None:
        flash(
            _("This preview has expired or does not exist. Please upload the file again."), "error"
        )
        return redirect(url_for("coord.imports"))
    filename, data = stored
    service = _service()
    try:
        preview = service.preview_upload(db.session, office, filename, data)
    except ImportRejected as exc:
        _remove(token)
        db.session.rollback()
        return _upload_page(UploadForm(), error=exc.issue, status=400)
    if not preview.valid_rows:
        flash(_("No row can be imported: fix the errors in the file and upload it again."), "error")
        return redirect(url_for("coord.import_review", token=token))
    try:
        # The service writes the rows, its audit event and commits in one transaction.
        summary = service.commit_import(db.session, office, preview, acting_user())
    except ImportRejected as exc:
        db.session.rollback()
        flash(issue_text(exc.issue), "error")
        return redirect(url_for("coord.import_review", token=token))
    counts = {
        "created": summary.created,
        "updated": summary.updated,
        "skipped": summary.skipped,
        "needs_location": summary.needs_location,
    }
    _remove(token)
    flash(
        _(
            "Import finished: %(created)d new, %(updated)d updated, %(skipped)d rows with "
            "errors skipped.",
            **counts,
        ),
        "success",
    )
    if summary.kept_manual_pins:
        flash(
            _("%(num)d pins you had placed by hand were kept.", num=summary.kept_manual_pins),
            "info",
        )
    if counts["needs_location"]:
        flash(
            _(
                "%(num)d imported hotspots have no location yet: drop their pins on the map.",
                num=counts["needs_location"],
            ),
            "warning",
        )
        return redirect(url_for("coord.hotspots", status="needs_location"))
    return redirect(url_for("coord.hotspots"))


@bp.post("/imports/<token>/discard")
def import_discard(token: str):
    """Throw away a previewed upload without importing anything."""
    office = current_office()
    form = TokenForm()
    if not form.validate_on_submit():
        abort(400)
    if load_upload(token, office) is not None:
        _remove(token)
    flash(_("The upload was discarded; nothing was imported."), "info")
    return redirect(url_for("coord.imports"))


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge):
    """Explain an oversized upload (413) instead of a bare error page."""
    limit = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024)
    return render_template("coordinator/imports/too_large.html", max_mb=limit), 413
