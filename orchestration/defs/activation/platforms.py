"""Import-file layouts for the platforms Winback exports to (facts: shared PLATFORMS.md).

A platform turns audience members (a batch of the sync model's columns, each column a sequence
with one value per member) into CSV cells in its exact column layout, one column at a time: a
daily export formats hundreds of thousands of members, and formatting by column calls each
column's formatter over a list instead of building a mapping per member. Email platforms get
plain values (every text value through `safe_text`, emails unaltered); the two ad platforms get
lowercase hex SHA-256 of each value after that platform's own normalisation. Size and row
limits live in config/platforms.yml with the date they were checked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from orchestration.defs.activation.match_rates import AD_PLATFORMS
from orchestration.lib.config_yaml import load_yaml
from orchestration.lib.contacts import FORMULA_PREFIXES

Member = Mapping[str, Any]
# A batch of members: column name -> one value per member (columns the batch lacks are empty).
Columns = Mapping[str, Sequence[Any]]

# C0 controls except the line feed, DEL and C1 controls. A line feed stays: names with line
# breaks must round-trip (RFC 4180 quotes them); no other control character has a meaning in a
# text cell, and NUL or a bare CR break spreadsheet and platform importers.
CONTROL_CHARACTERS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
NON_DIGITS = re.compile(r"\D")
WHITESPACE = re.compile(r"\s")


class PlatformConfigError(ValueError):
    """config/platforms.yml is malformed; the message names the platform and the field."""


@dataclass(frozen=True)
class Limits:
    checked_on: dt.date
    max_rows: int | None = None
    max_bytes: int | None = None
    min_rows: int | None = None
    max_field_bytes: int | None = None
    verified: bool = True
    value_column: str | None = None
    min_rows_source: str | None = None

    def as_manifest(self) -> dict[str, Any]:
        return {
            "checked_on": self.checked_on.isoformat(),
            "max_rows": self.max_rows,
            "max_bytes": self.max_bytes,
            "min_rows": self.min_rows,
            "verified": self.verified,
        }


# The ad platforms have a documented minimum audience size (min_rows in config/platforms.yml):
# below it a list never serves, so the export is not written (below_minimum).
MIN_ROWS_PLATFORMS = AD_PLATFORMS


def below_minimum(audience: str, platform: str, rows: int, limits: Limits) -> str | None:
    """The one line that fails an ad platform's export with fewer rows than the platform's
    documented minimum audience size (counts only, no personal data); None when it is not."""
    if limits.min_rows is None or rows >= limits.min_rows:
        return None
    return (f"{audience} -> {platform}: {rows:,} rows, below the platform's minimum audience "
            f"size of {limits.min_rows:,} (min_rows in the platform limits file, "
            f"{limits.min_rows_source}); file not written")


def load_limits(path: Path) -> dict[str, Limits]:
    data = load_yaml(path.read_text(encoding="utf-8"))
    platforms = data.get("platforms") if isinstance(data, dict) else None
    if not isinstance(platforms, dict):
        raise PlatformConfigError(f"{path}: field 'platforms' must be a mapping")
    limits = {}
    for name, entry in platforms.items():
        if name not in PLATFORMS:
            raise PlatformConfigError(f"{path}: platform {name!r} is not one Winback writes")
        if not isinstance(entry, dict) or not isinstance(entry.get("checked_on"), dt.date):
            raise PlatformConfigError(f"{path}: platform {name!r}: field 'checked_on' must be "
                                      "a date (YYYY-MM-DD)")
        for key in ("max_rows", "max_bytes", "min_rows", "max_field_bytes"):
            value = entry.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise PlatformConfigError(f"{path}: platform {name!r}: field {key!r} must be a "
                                          f"positive whole number or null; got {value!r}")
        if entry.get("min_rows") is not None:
            if name not in MIN_ROWS_PLATFORMS:
                raise PlatformConfigError(
                    f"{path}: platform {name!r}: field 'min_rows' applies only to the ad "
                    f"platforms ({', '.join(MIN_ROWS_PLATFORMS)}), whose lists do not serve "
                    "below a documented size")
            source = entry.get("min_rows_source")
            if not isinstance(source, str) or not source.strip():
                raise PlatformConfigError(
                    f"{path}: platform {name!r}: field 'min_rows_source' is required beside "
                    "min_rows (where the vendor documents the minimum)")
        value_column = entry.get("value_column")
        if value_column is not None and (not isinstance(value_column, str)
                                         or not SENDGRID_FIELD.match(value_column)):
            raise PlatformConfigError(f"{path}: platform {name!r}: field 'value_column' must be "
                                      f"a column name ([A-Za-z0-9_]) or null; got "
                                      f"{value_column!r}")
        limits[name] = Limits(
            checked_on=entry["checked_on"], max_rows=entry.get("max_rows"),
            max_bytes=entry.get("max_bytes"), min_rows=entry.get("min_rows"),
            max_field_bytes=entry.get("max_field_bytes"),
            verified=bool(entry.get("verified", True)), value_column=value_column,
            min_rows_source=entry.get("min_rows_source"),
        )
    missing = sorted(set(PLATFORMS) - set(limits))
    if missing:
        raise PlatformConfigError(f"{path}: platforms {missing} have no limits entry")
    return limits


# ---------------------------------------------------------------------------------------------
# Cell formatting and normalisers
# ---------------------------------------------------------------------------------------------

def cell(value: Any) -> str:
    """ISO dates, true/false, '.' decimals, empty for missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def safe_text(value: Any) -> str:
    """The one neutraliser for every text cell of a plain-text file (never for an email, which
    is exported unaltered or not at all): control characters removed, then trimmed (spreadsheets
    trim too, so ' =x' would run), then a value starting with = + - @ tab or CR is prefixed with
    an apostrophe so a spreadsheet shows it as text."""
    if value is None:
        return ""
    text = str(value)
    if not text.isprintable():  # a fast check: most values hold no control character
        text = CONTROL_CHARACTERS.sub("", text)
    text = text.strip()
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def plain_phone(value: Any) -> str:
    """An E.164 number as it is ('+' is its first character, so it is never escaped), anything
    else left out: hygiene gives E.164 or nothing, and a number is never guessed."""
    text = "" if value is None else str(value)
    return text if E164.match(text) else ""


def truncate_utf8(value: str, max_bytes: int) -> str:
    """Cut a text to at most max_bytes of UTF-8 without splitting a character."""
    encoded = value.encode("utf-8")
    if len(encoded) <= max_bytes:
        return value
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def iso_country(value: Any) -> str:
    """ISO 3166 alpha-2, upper case; the common non-ISO 'UK' becomes 'GB'."""
    code = ("" if value is None else str(value)).strip().upper()
    return "GB" if code == "UK" else code


def sha256_hex(normalised: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 value; an empty value stays an empty cell."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest() if normalised else ""


def normalise_email(value: Any) -> str:
    return ("" if value is None else str(value)).strip().lower()


def normalise_name(value: Any) -> str:
    return ("" if value is None else str(value)).strip().lower()


def normalise_phone_google(value: Any) -> str:
    """E.164 with the leading '+': '+44 7700 900123' -> '+447700900123'."""
    digits = NON_DIGITS.sub("", "" if value is None else str(value))
    return "+" + digits if digits and str(value).strip().startswith("+") else ""


def normalise_phone_meta(value: Any) -> str:
    """Digits only with the country code, no '+', no leading zeros: '+44 7700' -> '447700'."""
    if value is None or not str(value).strip().startswith("+"):
        return ""
    return NON_DIGITS.sub("", str(value)).lstrip("0")


def normalise_zip_meta(value: Any) -> str:
    return WHITESPACE.sub("", "" if value is None else str(value)).lower()


def normalise_country_meta(value: Any) -> str:
    return iso_country(value).lower()


# ---------------------------------------------------------------------------------------------
# Platforms
# ---------------------------------------------------------------------------------------------

def _column(batch: Columns, field: str | None, count: int) -> Sequence[Any]:
    values = batch.get(field)
    return (None,) * count if values is None else values


def _column_cells(values: Sequence[Any], make: Callable[[Any], str]) -> list[str]:
    """`make` of each value of a column, computed once per distinct text value: names,
    countries, postcodes and categories repeat, and a hashed layout hashes each of them (a
    million customers' audiences: ~180,000 rows of six hashed columns a day). Only text is
    kept: equal values of other types can make different cells (0.0 and -0.0, Decimals of
    different scales, 1 and True)."""
    made: dict[str, str] = {}
    cells: list[str] = []
    append = cells.append
    for value in values:
        if value.__class__ is str:
            cell_ = made.get(value)
            if cell_ is None:
                cell_ = made[value] = make(value)
            append(cell_)
        else:
            append(make(value))
    return cells


@dataclass(frozen=True)
class Platform:
    name: str
    header: tuple[str, ...]
    identifiers: tuple[str, ...]
    # The member fields the layout reads (a field a batch lacks reads as empty).
    fields: tuple[str, ...]
    # A batch of `count` members -> one list of cells per header column.
    cells: Callable[[Columns, int], list[list[str]]]
    hashed: bool = False

    def rows(self, batch: Columns, count: int) -> list[tuple[str, ...]]:
        """The batch's CSV rows, in the batch's order."""
        return list(zip(*self.cells(batch, count), strict=True))

    def row(self, member: Member) -> tuple[str, ...]:
        """One member's CSV row."""
        return self.rows({field: (value,) for field, value in member.items()}, 1)[0]


# Plain email platforms: identifier columns first, then names, then the personalisation fields
# under the platform's own header names, then fixed columns (header, text).
@dataclass(frozen=True)
class _PlainLayout:
    name: str
    identifiers: tuple[tuple[str, str], ...]  # (header, member field)
    renamed: Mapping[str, str]                 # member field -> platform header
    extra: tuple[tuple[str, str], ...] = ()

    def build(
        self, fields: Sequence[str], limits: Limits, audience: str
    ) -> Platform:
        columns = list(self.identifiers) + [
            (self.renamed.get(f, f), f) for f in fields if f not in dict(self.identifiers).values()
        ]
        max_field = limits.max_field_bytes

        def text_or_value(raw: Any) -> str:
            return safe_text(raw) if isinstance(raw, str) else cell(raw)

        def formatter(field: str) -> Callable[[Any], str]:
            """Chosen once per column, not per cell."""
            if field == "email":
                return cell
            if field == "phone":
                return plain_phone
            if field == "country":
                return lambda raw: safe_text(iso_country(raw))
            return text_or_value

        formats = [(field, formatter(field)) for _, field in columns]
        fixed = [safe_text(text) for _, text in self.extra]

        def cells(batch: Columns, count: int) -> list[list[str]]:
            out = [_column_cells(_column(batch, field, count), format_)
                   for field, format_ in formats]
            out += [[text] * count for text in fixed]
            if max_field:
                # A character is at most 4 bytes of UTF-8: shorter cells need no encoding.
                fits = max_field // 4
                return [[c if len(c) <= fits else truncate_utf8(c, max_field) for c in column]
                        for column in out]
            return out

        header = tuple(h for h, _ in columns) + tuple(h for h, _ in self.extra)
        identifiers = tuple(h for h, _ in self.identifiers)
        return Platform(self.name, header, identifiers, tuple(f for _, f in columns), cells)


def _generic(fields: Sequence[str], limits: Limits, audience: str) -> Platform:
    return _PlainLayout("generic_csv", (("customer_id", "customer_id"), ("email", "email")),
                        {}).build(fields, limits, audience)


def _mailchimp(fields: Sequence[str], limits: Limits, audience: str) -> Platform:
    renamed = {f: f.replace("_", " ").title() for f in fields}
    renamed["phone"] = "Phone Number"
    layout = _PlainLayout("mailchimp", (("Email Address", "email"),), renamed,
                          extra=(("Tags", audience),))
    return layout.build(fields, limits, audience)


def _klaviyo(fields: Sequence[str], limits: Limits, audience: str) -> Platform:
    renamed = {"first_name": "First Name", "last_name": "Last Name", "phone": "Phone Number"}
    return _PlainLayout("klaviyo", (("Email", "email"),), renamed).build(fields, limits, audience)


def _braze(fields: Sequence[str], limits: Limits, audience: str) -> Platform:
    return _PlainLayout("braze", (("external_id", "customer_id"), ("email", "email")),
                        {}).build(fields, limits, audience)


def _braze_external_id(fields: Sequence[str], limits: Limits, audience: str) -> Platform:
    """Braze by `external_id` alone: no attribute columns (personalisation ignored), so an
    import consumes no data points; use the import's tag or a segment on it to target."""
    return _PlainLayout("braze_external_id", (("external_id", "customer_id"),),
                        {}).build((), limits, audience)


def _hubspot(fields: Sequence[str], limits: Limits, audience: str) -> Platform:
    renamed = {"first_name": "First Name", "last_name": "Last Name", "phone": "Phone Number",
               "country": "Country/Region", "postal_code": "Postal Code"}
    return _PlainLayout("hubspot", (("Email", "email"),), renamed).build(fields, limits, audience)


SENDGRID_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _sendgrid(fields: Sequence[str], limits: Limits, audience: str) -> Platform:
    bad = [f for f in fields if not SENDGRID_FIELD.match(f)]
    if bad:
        raise PlatformConfigError(f"sendgrid custom field names must match [A-Za-z0-9_] and "
                                  f"start with a letter or _: {bad}")
    return _PlainLayout("sendgrid", (("email", "email"),), {"phone": "phone_number"}).build(
        fields, limits, audience)


# A fixed layout: per column, the member field it reads and the cell made of its value.
FixedColumns = tuple[tuple[str | None, Callable[[Any], str]], ...]
BLANK = (None, lambda _value: "")  # a column the layout has but the CRM cannot fill


def _hash_of(normalise: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda value: sha256_hex(normalise(value))


def _fixed_platform(name: str, header: tuple[str, ...], identifiers: tuple[str, ...],
                    spec: FixedColumns) -> Platform:
    def cells(batch: Columns, count: int) -> list[list[str]]:
        return [_column_cells(_column(batch, field, count), make) for field, make in spec]

    fields = tuple(field for field, _ in spec if field is not None)
    return Platform(name, header, identifiers, fields, cells, hashed=True)


def _google(fields: Sequence[str], limits: Limits, audience: str) -> Platform:
    """Fixed headers; email, phone and names hashed after trim/lowercase (phone E.164 with '+');
    country and zip stay plain, as Customer Match expects. No Gmail dot removal."""
    return _fixed_platform(
        "google_customer_match", ("Email", "Phone", "First Name", "Last Name", "Country", "Zip"),
        ("Email", "Phone"),
        (("email", _hash_of(normalise_email)), ("phone", _hash_of(normalise_phone_google)),
         ("first_name", _hash_of(normalise_name)), ("last_name", _hash_of(normalise_name)),
         ("country", lambda value: safe_text(iso_country(value))), ("postal_code", safe_text)))


def _meta(fields: Sequence[str], limits: Limits, audience: str) -> Platform:
    """Every column hashed after Meta's normalisation; city and state are not in the CRM, so
    `ct` and `st` stay empty."""
    return _fixed_platform(
        "meta", ("email", "phone", "fn", "ln", "ct", "st", "zip", "country"), ("email", "phone"),
        (("email", _hash_of(normalise_email)), ("phone", _hash_of(normalise_phone_meta)),
         ("first_name", _hash_of(normalise_name)), ("last_name", _hash_of(normalise_name)),
         BLANK, BLANK,
         ("postal_code", _hash_of(normalise_zip_meta)),
         ("country", _hash_of(normalise_country_meta))))


PLATFORMS: dict[str, Callable[[Sequence[str], Limits, str], Platform]] = {
    "generic_csv": _generic,
    "mailchimp": _mailchimp,
    "klaviyo": _klaviyo,
    "braze": _braze,
    "braze_external_id": _braze_external_id,
    "hubspot": _hubspot,
    "sendgrid": _sendgrid,
    "google_customer_match": _google,
    "meta": _meta,
}


def value_cell(value: Any) -> str:
    """A member's value for a platform's value column: a non-negative number with two decimals,
    blank when unknown."""
    if value is None:
        return ""
    return f"{max(float(value), 0.0):.2f}"


def platform_for(name: str, personalisation: Sequence[str], limits: Limits,
                 audience: str, *, valued: bool = False) -> Platform:
    """The layout of `name` for an audience with these personalisation fields; an audience
    ordered by a value (`valued`) adds the platform's value column when it takes one."""
    platform = PLATFORMS[name](tuple(personalisation), limits, audience)
    if not (valued and limits.value_column):
        return platform
    base = platform.cells

    def cells(batch: Columns, count: int) -> list[list[str]]:
        return [*base(batch, count),
                [value_cell(v) for v in _column(batch, "member_value", count)]]

    return Platform(platform.name, (*platform.header, limits.value_column), platform.identifiers,
                    (*platform.fields, "member_value"), cells, platform.hashed)
