"""Contact normalisation and validation with maintained libraries: email-validator (no DNS: runs
are offline and reproducible), phonenumbers, and the disposable-email-domains blocklist.
Reason codes, never values, describe what is wrong."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from email_validator import EmailNotValidError, validate_email

# A cell starting with one of these is run as a formula by spreadsheet programs. Names are
# escaped in exports; an email like this is marked not contactable, never altered.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00")

DISPOSABLE_LIST_VERSION = importlib.metadata.version("disposable-email-domains")

# Hygiene keeps its results by value across runs and rebuilds them when a rules fingerprint
# changes. Any edit of this module changes it; bump this when the results change for another
# reason (data the checks read from elsewhere).
CONTACT_RULES_VERSION = 1

# Mailboxes that reach a function or nobody rather than a person (RFC 2142 plus common no-reply
# and team addresses). Compared after lower-casing, dropping a +tag and the separators . - _
ROLE_LOCAL_PARTS = frozenset(
    {
        "abuse", "accounts", "admin", "administrator", "billing", "careers", "contact",
        "customerservice", "donotreply", "enquiries", "feedback", "help", "helpdesk", "hostmaster",
        "hr", "info", "inquiries", "jobs", "legal", "mailerdaemon", "marketing", "newsletter",
        "noc", "noreply", "office", "postmaster", "privacy", "root", "sales", "security",
        "service", "support", "team", "webmaster",
    }
)

_PHONE_TYPE_NAMES = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed_line",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    phonenumbers.PhoneNumberType.VOIP: "voip",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium_rate",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared_cost",
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    phonenumbers.PhoneNumberType.PAGER: "pager",
    phonenumbers.PhoneNumberType.UAN: "uan",
    phonenumbers.PhoneNumberType.VOICEMAIL: "voicemail",
}


@dataclass(frozen=True)
class EmailCheck:
    email_normalized: str | None
    is_valid: bool
    invalid_reason: str | None
    is_role_address: bool = False
    is_disposable_domain: bool = False


@dataclass(frozen=True)
class PhoneCheck:
    phone_e164: str | None
    phone_extension: str | None
    phone_type: str | None
    is_valid: bool
    invalid_reason: str | None


def is_role_local_part(local_part: str) -> bool:
    base = local_part.lower().split("+", 1)[0]
    return base.translate(str.maketrans("", "", ".-_")) in ROLE_LOCAL_PARTS


def is_disposable_domain(ascii_domain: str) -> bool:
    """The domain or any parent domain is on the disposable-email-domains blocklist."""
    labels = ascii_domain.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in DISPOSABLE_DOMAINS for i in range(len(labels) - 1))


def check_email(raw: str | None) -> EmailCheck:
    """Trim, validate syntax (IDN-aware) and lower-case an address; flag role and disposable ones.

    Local parts are lower-cased too: mailbox providers treat them case-insensitively in
    practice, and suppressions and duplicates must match whatever case a system stored. One
    trailing dot of the domain (`sue@example.com.`, the DNS root) names the same mailbox and
    is dropped.
    """
    if raw is None or not raw.strip():
        return EmailCheck(None, False, "missing")
    candidate = raw.strip()
    if candidate.startswith(FORMULA_PREFIXES):
        return EmailCheck(None, False, "formula_prefix")
    if "@" in candidate and candidate.endswith("."):
        candidate = candidate[:-1]
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return EmailCheck(None, False, "syntax")
    return EmailCheck(
        result.normalized.lower(),
        True,
        None,
        is_role_address=is_role_local_part(result.local_part),
        is_disposable_domain=is_disposable_domain(result.ascii_domain),
    )


def check_phone(raw: str | None, country: str | None) -> PhoneCheck:
    """Parse a phone number with the customer's country as the default region.

    Returns E.164 only for numbers phonenumbers considers valid (well-formed is not enough); an
    extension is kept apart, never folded into the number. Reason codes: missing, no_region
    (local format without a usable country), unparseable, invalid_number.
    """
    if raw is None or not raw.strip():
        return PhoneCheck(None, None, None, False, "missing")
    region = (country or "").strip().upper() or None
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        reason = (
            "no_region"
            if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
            else "unparseable"
        )
        return PhoneCheck(None, None, None, False, reason)
    # number_type is UNKNOWN exactly when is_valid_number is false: both find the number's
    # region and match it against that region's patterns, so asking for validity and then for
    # the type matched every valid number twice (about a quarter of the check's CPU).
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        return PhoneCheck(None, None, None, False, "invalid_number")
    return PhoneCheck(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        number.extension or None,
        _PHONE_TYPE_NAMES.get(kind, "other"),
        True,
        None,
    )


def _fingerprint(rules: dict[str, object]) -> str:
    digest = hashlib.sha256(json.dumps(rules, sort_keys=True).encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def email_rules_fingerprint() -> str:
    """Everything check_email's result depends on besides its input."""
    return _fingerprint(
        {
            "rules_version": CONTACT_RULES_VERSION,
            "email_validator": importlib.metadata.version("email-validator"),
            "disposable_email_domains": DISPOSABLE_LIST_VERSION,
            "role_local_parts": sorted(ROLE_LOCAL_PARTS),
            "formula_prefixes": FORMULA_PREFIXES,
        }
    )


def phone_rules_fingerprint() -> str:
    """Everything check_phone's result depends on besides its input."""
    return _fingerprint(
        {
            "rules_version": CONTACT_RULES_VERSION,
            "phonenumbers": importlib.metadata.version("phonenumbers"),
        }
    )
