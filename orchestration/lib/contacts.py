"""Email normalisation and validation with email-validator (no DNS: runs are offline and
reproducible). Reason codes, never values, describe what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

# A cell starting with one of these is run as a formula by spreadsheet programs. Names are
# escaped in exports; an email like this is marked not contactable, never altered.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00")


@dataclass(frozen=True)
class EmailCheck:
    email_normalized: str | None
    is_valid: bool
    invalid_reason: str | None


def check_email(raw: str | None) -> EmailCheck:
    """Trim, validate syntax (IDN-aware) and lower-case an address.

    Local parts are lower-cased too: mailbox providers treat them case-insensitively in
    practice, and suppressions and duplicates must match whatever case a system stored.
    """
    if raw is None or not raw.strip():
        return EmailCheck(None, False, "missing")
    candidate = raw.strip()
    if candidate.startswith(FORMULA_PREFIXES):
        return EmailCheck(None, False, "formula_prefix")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return EmailCheck(None, False, "syntax")
    return EmailCheck(result.normalized.lower(), True, None)
