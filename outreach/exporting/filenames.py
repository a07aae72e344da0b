"""Attachment file names that are safe in a Content-Disposition header and on any disk."""

from __future__ import annotations

import re
import unicodedata

MAX_STEM = 80


def safe_filename(*parts: object, ext: str, fallback: str = "ekspor") -> str:
    """Join ``parts`` into an ASCII file name: letters, digits, ``_`` and ``-``, one extension.

    Accents are folded (``Tim Sélatan`` → ``Tim-Selatan``); quotes, slashes, control and header
    characters disappear, so the name cannot break out of the header or the download folder.
    """
    text = "-".join(str(p) for p in parts if p not in (None, ""))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    # Dots only before the extension: no "..", no hidden files, no double extensions.
    text = re.sub(r"[^A-Za-z0-9_-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text).strip("-_")[:MAX_STEM].strip("-_")
    ext = re.sub(r"[^a-z0-9]", "", ext.lower()) or "bin"
    return f"{text or fallback}.{ext}"


def content_disposition(filename: str) -> str:
    """Return an ``attachment`` Content-Disposition value; the name is sanitised again."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", filename).strip("-.") or "ekspor"
    return f'attachment; filename="{safe}"'
