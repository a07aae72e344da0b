"""Password policy: length, a common-password list, and nothing else.

Following ASVS 5.0 (6.2.x): at least 8 characters, long passphrases allowed and stored exactly as
typed (no trimming, no composition rules), and the most common passwords refused.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import has_request_context
from flask_babel import gettext

MIN_LENGTH = 8
# Far above the 64 characters ASVS asks us to allow; bounds the work of hashing a request.
MAX_LENGTH = 256
COMMON_FILE = Path(__file__).with_name("common_passwords.txt")


def _t(message: str, **values: object) -> str:
    # Translate inside a request; the CLI has no locale to pick and prints the English msgid.
    return gettext(message, **values) if has_request_context() else message % values


class PasswordRejected(ValueError):
    """The password breaks the policy; ``reasons`` holds messages for the user."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@cache
def common_passwords() -> frozenset[str]:
    """Return the shipped list of common passwords, case-folded."""
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().casefold() for line in lines if line.strip() and not line.startswith("#")
    )


def password_problems(password: str, username: str | None = None) -> list[str]:
    """Return the reasons ``password`` is refused (empty when it is acceptable)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(_t("The password needs at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_t("The password may have at most %(n)d characters.", n=MAX_LENGTH))
    folded = password.casefold()
    if folded in common_passwords():
        problems.append(_t("This password is too common; choose another."))
    elif username and folded == username.casefold():
        problems.append(_t("The password must not be the username."))
    return problems


def validate_password(password: str, username: str | None = None) -> str:
    """Return ``password`` unchanged if it meets the policy; else raise ``PasswordRejected``."""
    problems = password_problems(password, username)
    if problems:
        raise PasswordRejected(problems)
    return password
