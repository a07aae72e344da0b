"""Typed import problems: one value class for row issues and one exception family for files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from outreach.importing.messages import render


@dataclass(frozen=True)
class Issue:
    """One problem found in an upload.

    ``row`` is the row number as the spreadsheet shows it (1-based, the header is row 1 unless
    title rows precede it); ``column`` is the header as written in the file. Both are ``None``
    when the problem concerns the whole file.
    """

    row: int | None
    column: str | None
    code: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def message(self) -> str:
        """The Indonesian message (the user interface default)."""
        return render(self.code, self.params, "id")

    @property
    def message_en(self) -> str:
        """The English message."""
        return render(self.code, self.params, "en")

    def as_tuple(self) -> tuple[int | None, str | None, str]:
        """Return ``(row, column, reason)`` with the Indonesian reason."""
        return (self.row, self.column, self.message)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (used by the API's error shape)."""
        return {
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "message": self.message,
            "message_en": self.message_en,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
        }


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


class ImportRejected(ValueError):
    """The whole upload is rejected; nothing in it can be imported.

    Attributes
    ----------
    code
        Stable English code (see :mod:`outreach.importing.messages`).
    row, column
        Where the problem is, when it is known.
    """

    def __init__(
        self,
        code: str,
        *,
        row: int | None = None,
        column: str | None = None,
        **params: Any,
    ) -> None:
        self.issue = Issue(row, column, code, {"row": row, "column": column, **params})
        super().__init__(self.issue.message)

    @property
    def code(self) -> str:
        return self.issue.code

    @property
    def row(self) -> int | None:
        return self.issue.row

    @property
    def column(self) -> str | None:
        return self.issue.column

    @property
    def message(self) -> str:
        return self.issue.message

    @property
    def message_en(self) -> str:
        return self.issue.message_en


class CsvValidationError(ImportRejected):
    """A CSV upload is rejected (encoding, structure, size)."""


class XlsxValidationError(ImportRejected):
    """An XLSX upload is rejected (not a workbook, too big, unreadable)."""
