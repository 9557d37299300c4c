"""Deterministic, realistic demo data for the win-back landing folder.

`generate()` writes one sub-folder per entity (the loaders' input contract) with data that
behaves like a real shop's export:

* customers join at different times over the window (a few are a migrated batch on day one);
  about 15 % never order (prospects);
* buyers follow a BG/NBD-like process: a gamma-distributed purchase rate per customer (cadences
  from weekly to yearly, on a seasonal calendar with a Black-Friday/Christmas peak) and, after
  each purchase, a beta-distributed chance of dropping out for good, so customers stop buying at
  different times and the order count per customer is heavy-tailed (many one-time buyers, a few
  heavy buyers); some customers order twice on the same day;
* the overall purchase rate is calibrated so the number of distinct orders is close to the
  `orders` argument;
* orders carry 1-4 lines, biased to a favourite category and a price tier per customer, in the
  customer's currency (a small share in a second currency), with statuses that follow the
  order's age (placed -> paid -> shipped, plus cancellations and refunds);
* consent events, suppressions, erasure requests, support tickets and a loyalty ledger are
  derived from the same customers and orders;
* optionally a win-back campaign (`Campaign`): on its send date, customers who had bought before
  but not in the last `quiet_days`, and whom the pipeline's own seeded hash puts in the
  treatment group of the campaign's audience, buy once more within the conversion window with
  probability `effect`; the holdout does not, so the reactivation-outcomes mart shows a real
  lift (about `effect` x (1 - the holdout's own conversion rate));
* realistic dirt is injected on purpose: invalid / duplicate / mixed-case / padded / role /
  disposable / formula-like emails, awkward names, phones in every format, and a handful of
  malformed order rows (see `generate` for the list).

Everything is drawn from `numpy.random.default_rng`-style generators seeded from `seed` (one
independent stream per purpose), timestamps are whole seconds, money is integer cents, and files
are written in a fixed order with fixed formatting, so the same arguments give byte-identical
files. Orders are generated in time order and written in chunks (order ids follow time): the
default size takes a few seconds; 10 million orders for 1 million customers take a few minutes and
about 1 GB of memory.

Run as ``winback demo --out data/landing``.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.lib.contracts import CONTRACTS

if TYPE_CHECKING:
    from orchestration.lib.audiences import AudienceConfig

# --------------------------------------------------------------------------------------------
# Output contract
# --------------------------------------------------------------------------------------------

# The landing entities in the order generate() writes and reports them (customers first: orders
# draw on them). Every file's columns, names and order, are the input contract's, so the demo
# data always passes the loaders' header check; the demo writes no column the contract lacks.
ENTITIES = (
    "customers",
    "orders",
    "order_items",
    "consent_events",
    "suppressions",
    "erasure_requests",
    "support_tickets",
    "loyalty_ledger",
)
ENTITY_COLUMNS: dict[str, tuple[str, ...]] = {e: CONTRACTS[e].column_names for e in ENTITIES}

ORDER_STATUSES = ("placed", "paid", "shipped", "cancelled", "refunded")
_SUPPRESSION_REASONS = ("hard_bounce", "unsubscribe", "spam_complaint", "manual")
CATEGORIES = ("apparel", "shoes", "home", "beauty", "electronics", "garden", "toys", "grocery")
DISPOSABLE_DOMAINS = ("mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com")
ROLE_LOCAL_PARTS = ("info", "noreply", "sales", "admin", "office")
FORMULA_PREFIXES = ("=", "+", "-", "@")

CHUNK_ORDERS = 500_000  # orders generated per chunk
_WRITE_SLICE = 50_000  # orders rendered to text at a time
_SECONDS_PER_DAY = 86_400

# --------------------------------------------------------------------------------------------
# Reference data (made up for this generator)
# --------------------------------------------------------------------------------------------

_CURRENCIES = ("GBP", "EUR", "USD")
_GBP, _EUR, _USD = 0, 1, 2
# Price list conversion from the EUR catalogue, shipping fee and free-shipping threshold (cents).
_FX_FROM_EUR = np.array([0.86, 1.0, 1.09])
_SHIPPING_FEE = np.array([395, 495, 599], dtype=np.int64)
_FREE_SHIPPING_FROM = np.array([5_000, 6_000, 7_500], dtype=np.int64)

# code, weight, home currency, second currency, standard UTC offset (minutes), name culture
_COUNTRIES: tuple[tuple[str, float, int, int, int, str], ...] = (
    ("GB", 0.33, _GBP, _EUR, 0, "en"),
    ("US", 0.24, _USD, _GBP, -300, "us"),
    ("DE", 0.12, _EUR, _GBP, 60, "de"),
    ("FR", 0.08, _EUR, _GBP, 60, "fr"),
    ("NL", 0.06, _EUR, _GBP, 60, "nl"),
    ("IE", 0.06, _EUR, _GBP, 0, "ie"),
    ("ES", 0.04, _EUR, _GBP, 60, "es"),
    ("IT", 0.03, _EUR, _GBP, 60, "it"),
    ("BE", 0.02, _EUR, _GBP, 60, "be"),
    ("AT", 0.01, _EUR, _GBP, 60, "de"),
    ("PT", 0.005, _EUR, _GBP, 0, "pt"),
    ("FI", 0.005, _EUR, _GBP, 120, "fi"),
)
_COUNTRY_CODES = tuple(c[0] for c in _COUNTRIES)
_COUNTRY_P = np.array([c[1] for c in _COUNTRIES]) / sum(c[1] for c in _COUNTRIES)
_COUNTRY_CUR = np.array([c[2] for c in _COUNTRIES], dtype=np.int64)
_COUNTRY_CUR2 = np.array([c[3] for c in _COUNTRIES], dtype=np.int64)
_COUNTRY_OFFSET = np.array([c[4] for c in _COUNTRIES], dtype=np.int64)

# name, SKU prefix, median catalogue price (EUR), log-sd, popularity
_CATEGORY_SPEC = (
    ("apparel", "APP", 32.0, 0.6, 0.26),
    ("shoes", "SHO", 75.0, 0.45, 0.12),
    ("home", "HOM", 38.0, 0.8, 0.14),
    ("beauty", "BEA", 18.0, 0.6, 0.14),
    ("electronics", "ELE", 110.0, 0.9, 0.08),
    ("garden", "GAR", 30.0, 0.8, 0.07),
    ("toys", "TOY", 22.0, 0.7, 0.09),
    ("grocery", "GRO", 6.0, 0.5, 0.10),
)
_CATEGORY_P = np.array([c[4] for c in _CATEGORY_SPEC]) / sum(c[4] for c in _CATEGORY_SPEC)
_GROCERY = CATEGORIES.index("grocery")
_SKUS_PER_CATEGORY = 240


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


_FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "en": _names(
        "Oliver|Amelia|Jack|Isla|Harry|Ava|George|Emily|Noah|Sophie|James|Olivia|Liam|"
        "Grace|Mason|Chloe|Ethan|Charlotte|Thomas|Lucy|William|Hannah|Daniel|Jessica|"
        "Michael|Sarah|David|Emma|Matthew|Megan|Joseph|Laura|Samuel|Rebecca|Benjamin|"
        "Katie|Ryan|Rachel|Christopher|Abigail|Mohammed|Aisha|Priya|Arjun"
    ),
    "us": _names(
        "Madison|Tyler|Brandon|Ashley|Jayden|Brittany|Kayla|Austin|DeShawn|Jamal|Carlos|"
        "Maria|Emily|Michael|Jessica|Christopher|Jennifer|Joshua|Amanda|Andrew|Samantha|"
        "Justin|Elizabeth|Kevin|Lauren|Jose|Nicole|Anthony|Stephanie|Hunter|Mei|Xavier"
    ),
    "ie": _names(
        "Aoife|Seán|Niamh|Ciarán|Siobhán|Oisín|Saoirse|Pádraig|Róisín|Eoin|Caoimhe|"
        "Darragh|Conor|Ciara|Cian|Sinéad|Declan|Orla"
    ),
    "de": _names(
        "Lukas|Leon|Mia|Hannah|Jonas|Lea|Felix|Marie|Paul|Lena|Jürgen|Günter|Sören|"
        "Björn|Anja|Katrin|Matthias|Stefan|Ursula|Maximilian|Jörg|Käthe|Emre|Elif"
    ),
    "fr": _names(
        "Louis|Gabriel|Léa|Chloé|Jules|Hugo|Manon|Camille|Inès|Théo|Zoé|Raphaël|Noël|"
        "François|Hélène|Jean-Pierre|Marie-Claire|Amélie|Océane|Benoît|Yasmine|Karim"
    ),
    "nl": _names(
        "Daan|Sem|Emma|Julia|Lotte|Noah|Lucas|Sanne|Bram|Femke|Joost|Anouk|Thijs|Eva|"
        "Ruben|Maaike|Sven|Fleur"
    ),
    "es": _names(
        "Hugo|Lucía|Martín|Sofía|Mateo|María|Pablo|Paula|Álvaro|Ángela|Javier|Carmen|"
        "Sergio|Núria|Iñaki|Begoña"
    ),
    "it": _names(
        "Leonardo|Sofia|Francesco|Giulia|Alessandro|Aurora|Niccolò|Chiara|Matteo|"
        "Francesca|Lorenzo|Martina"
    ),
    "pt": _names("João|Inês|Tiago|Beatriz|Rui|Leonor|Gonçalo|Mariana"),
    "fi": _names("Väinö|Aino|Eetu|Sini|Onni|Helmi|Juho|Kaisa"),
}
_LAST_NAMES: dict[str, tuple[str, ...]] = {
    "en": _names(
        "Smith|Jones|Taylor|Brown|Williams|Wilson|Johnson|Davies|Evans|Thomas|Roberts|"
        "Walker|Wright|Robinson|Thompson|White|Hughes|Edwards|Green|Hall|Wood|Harris|"
        "Lewis|Martin|Jackson|Clarke|Patel|Khan|Singh|Ali|O'Neill|MacDonald|Ffion-Jones|"
        "Okafor"
    ),
    "us": _names(
        "Smith|Johnson|Williams|Brown|Jones|Garcia|Miller|Davis|Rodriguez|Martinez|"
        "Hernandez|Lopez|Gonzalez|Wilson|Anderson|Thomas|Taylor|Moore|Jackson|Lee|"
        "Nguyen|Kim|O'Connor|McCarthy|Washington|Rivera|Cohen|Wong"
    ),
    "ie": _names(
        "Murphy|Kelly|O'Sullivan|Walsh|Smith|O'Brien|Byrne|Ryan|O'Connor|O'Neill|"
        "O'Reilly|Doyle|McCarthy|Gallagher|Ó Súilleabháin|Mac Giolla"
    ),
    "de": _names(
        "Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|"
        "Schäfer|Koch|Bauer|Richter|Klein|Wolf|Schröder|Neumann|Braun|Zimmermann|Yılmaz|"
        "Große"
    ),
    "fr": _names(
        "Martin|Bernard|Dubois|Thomas|Robert|Richard|Petit|Durand|Leroy|Moreau|Simon|"
        "Laurent|Lefèvre|Michel|Garnier|d'Arcy|Benali|Lemaître"
    ),
    "nl": _names(
        "de Jong|Jansen|de Vries|van den Berg|van Dijk|Bakker|Janssen|Visser|Smit|"
        "Meijer|de Boer|Mulder|van 't Hof|Bos"
    ),
    "es": _names(
        "García|Fernández|González|Rodríguez|López|Martínez|Sánchez|Pérez|Gómez|Martín|"
        "Núñez|Muñoz|Peña|Jiménez|Ruiz Zafón"
    ),
    "it": _names(
        "Rossi|Russo|Ferrari|Esposito|Bianchi|Romano|Colombo|D'Angelo|Ricci|Marino|" "De Luca|Conti"
    ),
    "pt": _names("Silva|Santos|Ferreira|Pereira|Oliveira|Costa|Rodrigues|Gonçalves"),
    "fi": _names("Korhonen|Virtanen|Mäkinen|Nieminen|Mäkelä|Hämäläinen|Laine"),
}
_FIRST_NAMES["be"] = _FIRST_NAMES["fr"] + _FIRST_NAMES["nl"]
_LAST_NAMES["be"] = _LAST_NAMES["fr"] + _LAST_NAMES["nl"] + ("Peeters", "Maes", "Claes")

# Names from everywhere, used by a small share of customers in every country.
_WORLD_FIRST = _names(
    "Łukasz|Zoë|Ólafur|太郎|花子|Дмитрий|Ελένη|محمد|Bjørn|Đorđe|Søren|Małgorzata|Ngozi|"
    "Wei|Yuki|Agnieszka|Þóra|Chloë|José Luis"
)
_WORLD_LAST = _names(
    "山田|佐藤|Иванов|Παπαδοπούλου|Kowalski|Wiśniewska|Nowak|Þórsdóttir|Nguyễn|"
    "Øvergaard|Okonkwo|Tanaka|Dąbrowski|Jovanović|Al-Sayed|Chen|O'Brien|N'Diaye"
)
# Names with CSV-hostile characters (double quotes, commas).
_QUOTED_FIRST = ('Robert "Bob"', 'Elizabeth "Liz"', 'Margaret "Peggy"', 'William "Bill"')
_COMMA_LAST = ("Smith, Jr.", "Davis, Sr.", "Kennedy, III", "Müller, geb. Schmidt")
_ROMANISED = {
    "太郎": "taro",
    "花子": "hanako",
    "Дмитрий": "dmitry",
    "Ελένη": "eleni",
    "محمد": "mohamed",
    "山田": "yamada",
    "佐藤": "sato",
    "Иванов": "ivanov",
    "Παπαδοπούλου": "papadopoulou",
}

_EMAIL_DOMAINS: dict[str, tuple[tuple[str, float], ...]] = {
    "GB": (
        ("gmail.com", 0.4),
        ("hotmail.co.uk", 0.15),
        ("outlook.com", 0.1),
        ("yahoo.co.uk", 0.1),
        ("btinternet.com", 0.08),
        ("icloud.com", 0.1),
        ("sky.com", 0.07),
    ),
    "US": (
        ("gmail.com", 0.5),
        ("yahoo.com", 0.15),
        ("outlook.com", 0.1),
        ("icloud.com", 0.12),
        ("aol.com", 0.05),
        ("comcast.net", 0.08),
    ),
    "DE": (
        ("gmail.com", 0.3),
        ("web.de", 0.25),
        ("gmx.de", 0.25),
        ("t-online.de", 0.12),
        ("outlook.de", 0.08),
    ),
    "FR": (
        ("gmail.com", 0.4),
        ("orange.fr", 0.2),
        ("free.fr", 0.15),
        ("laposte.net", 0.1),
        ("hotmail.fr", 0.15),
    ),
    "NL": (("gmail.com", 0.45), ("ziggo.nl", 0.2), ("kpnmail.nl", 0.15), ("hotmail.nl", 0.2)),
    "IE": (("gmail.com", 0.5), ("eircom.net", 0.2), ("hotmail.com", 0.2), ("icloud.com", 0.1)),
    "ES": (("gmail.com", 0.5), ("hotmail.es", 0.25), ("yahoo.es", 0.15), ("telefonica.net", 0.1)),
    "IT": (("gmail.com", 0.45), ("libero.it", 0.25), ("virgilio.it", 0.15), ("alice.it", 0.15)),
    "BE": (("gmail.com", 0.5), ("skynet.be", 0.25), ("telenet.be", 0.25)),
    "AT": (("gmail.com", 0.4), ("gmx.at", 0.35), ("aon.at", 0.25)),
    "PT": (("gmail.com", 0.55), ("sapo.pt", 0.3), ("hotmail.com", 0.15)),
    "FI": (("gmail.com", 0.5), ("luukku.com", 0.25), ("outlook.com", 0.25)),
}
_COMPANY_TLD = {
    "GB": "co.uk",
    "US": "com",
    "DE": "de",
    "FR": "fr",
    "NL": "nl",
    "IE": "ie",
    "ES": "es",
    "IT": "it",
    "BE": "be",
    "AT": "at",
    "PT": "pt",
    "FI": "fi",
}
_COMPANY_SUFFIX = ("ltd", "shop", "design", "group", "studio", "consulting", "bakery", "dental")
_UK_AREAS = _names("SW|SE|N|E|W|EC|WC|M|B|LS|G|EH|BS|CF|L|NG|S|OX|CB|BN|YO|NE|BT|PL|EX")
_UK_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_IE_ROUTING = ("D01", "D02", "D04", "D06W", "D08", "D24", "T12", "H91", "V94", "A94", "X91")
_EIRCODE_CHARS = "ACDEFHKNPRTVWXY0123456789"
_BAD_PHONES = (
    "12345",
    "0000 000000",
    "n/a",
    "tbc",
    "07700 9001",
    "+44 7700 900123 900123",
    "ring after 6pm",
    "0",
    "+1 (555) 555-55555",
)
_BAD_TIMESTAMPS = (
    "2024-13-45T99:99:99+00:00",
    "yesterday",
    "0000-00-00 00:00:00",
    "#VALUE!",
    "31/02/2023 25:61",
)

# Shares (of customers unless stated)
_PROSPECT_SHARE = 0.14  # plus a few whose first order would fall after end_date
_MIGRATED_SHARE = 0.06
_RATE_SHAPE = 0.8  # gamma shape of the per-customer purchase rate (scale is calibrated)
_DROPOUT_BETA = (0.25, 0.8)  # beta(a, b) of the per-customer dropout probability
_MAX_ORDERS_PER_DAY = 2.0  # practical ceiling on a customer's repeat purchases
_SAME_DAY_SHARE = 0.03  # orders followed by another order the same day
_DUPLICATE_ORDER_SHARE = 0.02
_ORPHAN_ORDER_SHARE = 0.001
_MALFORMED_ORDER_SHARE = 0.0005
_MALFORMED_KINDS = (
    "bad_amount",
    "empty_order_id",
    "bad_ordered_at",
    "future_ordered_at",
    "missing_column",
)
# Timestamp rendering: +00:00, the customer's local standard offset, or Z.
_STYLE_P = np.array([0.85, 0.12, 0.03])


# --------------------------------------------------------------------------------------------
# Time helpers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    """The window: seconds since `start` 00:00 UTC; nothing valid lies after `horizon`."""

    start: dt.date
    end: dt.date
    start_epoch: int
    n_days: int
    horizon: int  # seconds; end_date 22:59:59 UTC, so no rendered offset moves it past end_date
    grid: np.ndarray  # day boundaries 0..n_days
    op: np.ndarray  # cumulative seasonal purchase intensity at the boundaries

    @classmethod
    def build(cls, end: dt.date, years: int) -> _Clock:
        try:
            start = end.replace(year=end.year - years)
        except ValueError:  # 29 February
            start = end.replace(year=end.year - years, day=28)
        start_epoch = int(
            dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp()
        )
        n_days = (end - start).days + 1
        days = np.datetime64(start.isoformat(), "D") + np.arange(n_days)
        month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
        dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
        weekday = (days.astype(np.int64) + 3) % 7  # Monday = 0
        h = np.ones(n_days)
        h += 0.08 * np.isin(weekday, (0, 6)) - 0.10 * (weekday == 5)
        h += 1.3 * ((month == 11) & (dom >= 22))  # Black Friday / Cyber Monday
        h += 0.5 * ((month == 12) & (dom <= 20))  # Christmas shopping
        h += 0.3 * ((month == 1) & (dom <= 10))  # January sales
        h -= 0.15 * (month == 8)  # summer holidays
        op = np.concatenate(([0.0], np.cumsum(h)))
        return cls(
            start=start,
            end=end,
            start_epoch=start_epoch,
            n_days=n_days,
            horizon=(n_days - 1) * _SECONDS_PER_DAY + 23 * 3600 - 1,
            grid=np.arange(n_days + 1, dtype=np.float64),
            op=op,
        )

    @property
    def horizon_days(self) -> float:
        return self.horizon / _SECONDS_PER_DAY

    def to_op(self, days: np.ndarray) -> np.ndarray:
        return np.interp(days, self.grid, self.op)

    def from_op(self, op: np.ndarray) -> np.ndarray:
        return np.interp(op, self.op, self.grid)

    def year_of(self, sec: np.ndarray) -> np.ndarray:
        stamp = (self.start_epoch + sec).astype("datetime64[s]")
        return stamp.astype("datetime64[Y]").astype(np.int64) + 1970

    def years(self) -> list[int]:
        return list(range(self.start.year, self.end.year + 1))


def _local_hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Local time of day (hours) for shop activity: a lunchtime and an evening peak."""
    pick = rng.random(n)
    hours = np.where(
        pick < 0.42,
        rng.normal(12.5, 2.2, n),
        np.where(pick < 0.9, rng.normal(20.5, 1.8, n), rng.uniform(0.0, 24.0, n)),
    )
    return np.mod(hours, 24.0)


def _with_time_of_day(
    rng: np.random.Generator, days: np.ndarray, offset_min: np.ndarray
) -> np.ndarray:
    """Keep each instant's local calendar day but redraw its local time of day."""
    shift = offset_min / 1440.0
    local_day = np.floor(days + shift)
    return local_day + _local_hours(rng, days.size) / 24.0 - shift


_SUFFIX_CACHE: dict[int, str] = {}


def _offset_suffix(minutes: int) -> str:
    if minutes not in _SUFFIX_CACHE:
        sign = "+" if minutes >= 0 else "-"
        hh, mm = divmod(abs(minutes), 60)
        _SUFFIX_CACHE[minutes] = f"{sign}{hh:02d}:{mm:02d}"
    return _SUFFIX_CACHE[minutes]


def _render_ts(
    clock: _Clock, sec: np.ndarray, offset_min: np.ndarray, style: np.ndarray
) -> np.ndarray:
    """ISO-8601 strings: style 0 = +00:00, 1 = the customer's local offset, 2 = Z."""
    sec = np.asarray(sec, dtype=np.int64)
    if sec.size == 0:
        return np.array([], dtype=str)
    off = np.where(style == 1, offset_min, 0).astype(np.int64)
    text = np.datetime_as_string(
        (clock.start_epoch + sec + off * 60).astype("datetime64[s]"), unit="s"
    )
    uniq, inverse = np.unique(off, return_inverse=True)
    suffix = np.array([_offset_suffix(int(u)) for u in uniq])[inverse]
    suffix = np.where(style == 2, "Z", suffix)
    return np.strings.add(text, suffix)


def _zero_padded(numbers: np.ndarray, width: int) -> np.ndarray:
    text = np.asarray(numbers, dtype=np.int64).astype(str)
    return np.strings.zfill(text, width) if text.size else text


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.strings.add(prefix, _zero_padded(numbers, width))


def _money(cents: np.ndarray) -> np.ndarray:
    cents = np.asarray(cents, dtype=np.int64)
    units = (cents // 100).astype(str)
    return np.strings.add(np.strings.add(units, "."), _zero_padded(cents % 100, 2))


def _styles(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(3, size=n, p=_STYLE_P)


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------


@dataclass
class _Customers:
    n: int
    id_width: int
    country: np.ndarray  # index into _COUNTRIES
    offset: np.ndarray  # minutes
    currency: np.ndarray
    currency2: np.ndarray
    created: np.ndarray  # seconds
    migrated: np.ndarray  # bool
    first_order_days: np.ndarray  # float days, +inf for prospects
    at_signup: np.ndarray  # bool: first order placed when the account was created
    favourite: np.ndarray  # category index
    tier: np.ndarray  # preferred price position in the catalogue, 0..1
    member: np.ndarray  # loyalty member
    email: list[str]
    has_phone: np.ndarray
    email_kind: list[str]
    ids: np.ndarray  # 'C0000001', ...
    last_order: np.ndarray | None = None  # seconds, -1 when none
    first_order: np.ndarray | None = None

    @property
    def buyer(self) -> np.ndarray:
        return np.isfinite(self.first_order_days)


def _draw_customers(rng: np.random.Generator, n: int, clock: _Clock) -> _Customers:
    horizon_days = clock.horizon_days
    country = rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P)
    offset = _COUNTRY_OFFSET[country]
    migrated = rng.random(n) < _MIGRATED_SHARE
    # Sign-ups grow over time: half uniform, half with a linearly rising density.
    u = rng.random(n)
    frac = np.where(rng.random(n) < 0.5, u, np.sqrt(u))
    created_days = _with_time_of_day(rng, frac * (horizon_days - 1.0), offset)
    created_days = np.where(migrated, 2.0 / 24.0, created_days)  # the import batch, 02:00 UTC
    created = np.clip(np.round(created_days * _SECONDS_PER_DAY), 0, clock.horizon).astype(np.int64)
    order = np.argsort(created, kind="stable")  # customer ids follow sign-up order
    country, offset, migrated, created = (
        country[order],
        offset[order],
        migrated[order],
        created[order],
    )
    created_days = created / _SECONDS_PER_DAY

    buyer = rng.random(n) >= _PROSPECT_SHARE
    at_signup = (rng.random(n) < 0.6) & ~migrated
    delay = np.where(migrated, rng.exponential(90.0, n), rng.exponential(25.0, n))
    delayed_first = _with_time_of_day(rng, created_days + delay, offset)
    delayed_first = np.maximum(delayed_first, created_days + 0.01)
    first = np.where(at_signup, created_days + rng.uniform(3.0, 25.0, n) / 1440.0, delayed_first)
    first = np.where(buyer & (first <= horizon_days), first, np.inf)

    favourite = rng.choice(len(CATEGORIES), size=n, p=_CATEGORY_P)
    tier = rng.beta(2.0, 2.5, n)
    member = rng.random(n) < np.where(np.isfinite(first), 0.35, 0.05)
    width = max(7, len(str(n)))
    ids = _ids("C", np.arange(1, n + 1), width)
    cust = _Customers(
        n=n,
        id_width=width,
        country=country,
        offset=offset,
        currency=_COUNTRY_CUR[country],
        currency2=_COUNTRY_CUR2[country],
        created=created,
        migrated=migrated,
        first_order_days=first,
        at_signup=at_signup,
        favourite=favourite,
        tier=tier,
        member=member,
        email=[],
        has_phone=np.zeros(n, dtype=bool),
        email_kind=[],
        ids=ids,
    )
    return cust


@functools.lru_cache(maxsize=4096)
def _fold(text: str) -> str:
    """Lower-case ASCII letters of a name, for building email addresses."""
    if text in _ROMANISED:
        return _ROMANISED[text]
    text = text.lower()
    for src, dst in (
        ("ß", "ss"),
        ("ø", "o"),
        ("ł", "l"),
        ("đ", "d"),
        ("þ", "th"),
        ("æ", "ae"),
        ("œ", "oe"),
        ("ı", "i"),
    ):
        text = text.replace(src, dst)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in text if "a" <= ch <= "z")


def _draw_names(rng: np.random.Generator, cust: _Customers) -> tuple[list[str], list[str]]:
    """First and last names from each customer's culture (a few from anywhere in the world)."""
    n = cust.n
    culture = [_COUNTRIES[c][5] for c in cust.country.tolist()]
    u_first, u_last = rng.random(n).tolist(), rng.random(n).tolist()
    world_first = (rng.random(n) < 0.025).tolist()
    world_last = (rng.random(n) < 0.025).tolist()
    first_names: list[str] = []
    last_names: list[str] = []
    for i in range(n):
        fpool = _WORLD_FIRST if world_first[i] else _FIRST_NAMES[culture[i]]
        lpool = _WORLD_LAST if world_last[i] else _LAST_NAMES[culture[i]]
        first_names.append(fpool[int(u_first[i] * len(fpool))])
        last_names.append(lpool[int(u_last[i] * len(lpool))])
    return first_names, last_names


def _dirty_emails(
    rng: np.random.Generator,
    cust: _Customers,
    emails: list[str],
    first_names: list[str],
    last_names: list[str],
) -> list[str]:
    """Dirty `emails` in place, in disjoint groups of customers; return each one's email kind.

    A duplicate's holder often is the same person registered twice, so it may take over the
    names of the customer whose address it repeats.
    """
    n = cust.n
    perm = rng.permutation(n)
    kinds = ["clean"] * n

    def take(count: int) -> np.ndarray:
        nonlocal perm
        count = int(min(count, max(0, perm.size - n // 2)))
        chosen, perm = perm[:count], perm[count:]
        return np.sort(chosen)

    def share(p: float, minimum: int) -> int:
        return max(minimum, int(round(p * n)))

    for i in take(share(0.01, 2)):
        emails[i], kinds[i] = "", "empty"
    for kind in ("missing_at", "double_dot", "inner_space", "trailing_dot"):
        for i in take(share(0.0075, 2)):
            emails[i], kinds[i] = _break_email(emails[i], kind, rng), kind
    for i in take(share(0.005, 3)):
        tld = _COMPANY_TLD[_COUNTRY_CODES[cust.country[i]]]
        company = (
            (_fold(last_names[i]) or "acme")
            + "-"
            + _COMPANY_SUFFIX[int(rng.integers(len(_COMPANY_SUFFIX)))]
        )
        emails[i] = f"{ROLE_LOCAL_PARTS[int(rng.integers(len(ROLE_LOCAL_PARTS)))]}@{company}.{tld}"
        kinds[i] = "role"
    for i in take(share(0.004, 3)):
        local = emails[i].split("@")[0]
        emails[i] = f"{local}@{DISPOSABLE_DOMAINS[int(rng.integers(len(DISPOSABLE_DOMAINS)))]}"
        kinds[i] = "disposable"
    for j, i in enumerate(take(share(0.0005, 4))):
        emails[i], kinds[i] = FORMULA_PREFIXES[j % 4] + emails[i], "formula"
    # Duplicates: the second holder of an address another (clean) customer already uses.
    secondaries = take(share(0.01, 3))
    clean_pool = np.sort(perm)  # never altered above
    for i in secondaries:
        j = int(clean_pool[int(rng.integers(clean_pool.size))])
        emails[i], kinds[i] = emails[j], "duplicate"
        kinds[j] = "duplicate" if kinds[j] == "clean" else kinds[j]
        if rng.random() < 0.5:
            first_names[i], last_names[i] = first_names[j], last_names[j]
    # Case and whitespace noise on otherwise usable addresses.
    noise = rng.random(n)
    for i in range(n):
        if not emails[i] or kinds[i] == "formula":
            continue
        if noise[i] < 0.05:
            emails[i] = _title_email(emails[i])
        elif noise[i] < 0.065:
            emails[i] = emails[i].upper()
        elif noise[i] < 0.08:
            emails[i] = (" " + emails[i]) if noise[i] < 0.072 else (emails[i] + "  ")
    return kinds


def _dirty_names(rng: np.random.Generator, first_names: list[str], last_names: list[str]) -> None:
    """Formula-like, quoted, comma-suffixed, upper/lower-cased, padded and empty names, in place."""
    n = len(first_names)
    perm_n = rng.permutation(n)
    pos = 0

    def take_n(count: int) -> np.ndarray:
        nonlocal pos
        count = int(min(count, max(0, n - pos)))
        chosen = perm_n[pos : pos + count]
        pos += count
        return np.sort(chosen)

    for j, i in enumerate(take_n(max(4, int(round(0.0005 * n))))):
        first_names[i] = FORMULA_PREFIXES[j % 4] + first_names[i]
    for j, i in enumerate(take_n(max(2, int(round(0.002 * n))))):
        first_names[i] = _QUOTED_FIRST[j % len(_QUOTED_FIRST)]
    for j, i in enumerate(take_n(max(2, int(round(0.002 * n))))):
        last_names[i] = _COMMA_LAST[j % len(_COMMA_LAST)]
    for i in take_n(int(round(0.015 * n))):
        last_names[i] = last_names[i].upper()
    for i in take_n(int(round(0.01 * n))):
        first_names[i] = first_names[i].lower()
    for i in take_n(int(round(0.01 * n))):
        first_names[i] = first_names[i] + " "
    for i in take_n(int(round(0.005 * n))):
        first_names[i] = ""


def _write_customers(rng: np.random.Generator, cust: _Customers, clock: _Clock, path: Path) -> int:
    n = cust.n
    first_names, last_names = _draw_names(rng, cust)
    # Emails from the clean names, unique before any dirt is added.
    emails = _base_emails(rng, cust, first_names, last_names)
    kinds = _dirty_emails(rng, cust, emails, first_names, last_names)
    _dirty_names(rng, first_names, last_names)

    phones = _phones(rng, cust)
    postal = _postal_codes(rng, cust)

    # updated_at: many profiles never change after sign-up; others were edited later.
    edited = rng.random(n) < 0.45
    updated = cust.created + (edited * rng.random(n) * (clock.horizon - cust.created)).astype(
        np.int64
    )
    style = _styles(rng, n)
    cust.email, cust.email_kind = emails, kinds
    cust.has_phone = np.array([bool(x) for x in phones], dtype=bool)

    def rows():
        for s0 in range(0, n, _WRITE_SLICE):
            s1 = min(n, s0 + _WRITE_SLICE)
            yield from zip(
                cust.ids[s0:s1].tolist(),
                first_names[s0:s1],
                last_names[s0:s1],
                emails[s0:s1],
                phones[s0:s1],
                [_COUNTRY_CODES[c] for c in cust.country[s0:s1].tolist()],
                postal[s0:s1],
                _render_ts(clock, cust.created[s0:s1], cust.offset[s0:s1], style[s0:s1]).tolist(),
                _render_ts(clock, updated[s0:s1], cust.offset[s0:s1], style[s0:s1]).tolist(),
                strict=True,
            )

    return _write_csv(path, ENTITY_COLUMNS["customers"], rows())


def _base_emails(
    rng: np.random.Generator, cust: _Customers, first: list[str], last: list[str]
) -> list[str]:
    n = cust.n
    pattern = rng.choice(8, size=n, p=[0.3, 0.14, 0.12, 0.08, 0.12, 0.1, 0.06, 0.08])
    number = rng.integers(1, 100, size=n)
    year = rng.integers(55, 106, size=n) % 100
    dom_u = rng.random(n)
    domains: list[str] = [""] * n
    for c, code in enumerate(_COUNTRY_CODES):
        names = [d for d, _ in _EMAIL_DOMAINS[code]]
        cum = np.cumsum([w for _, w in _EMAIL_DOMAINS[code]])
        rows = np.flatnonzero(cust.country == c)
        picked = np.minimum(
            np.searchsorted(cum / cum[-1], dom_u[rows], side="right"), len(names) - 1
        )
        for i, j in zip(rows.tolist(), picked.tolist(), strict=True):
            domains[i] = names[j]
    pattern, number, year = pattern.tolist(), number.tolist(), year.tolist()
    seen: set[str] = set()
    out: list[str] = []
    for i in range(n):
        f = _fold(first[i].split(" ")[0]) or "user"
        ln = _fold(last[i]) or "mail"
        p = pattern[i]
        if p == 0:
            local = f"{f}.{ln}"
        elif p == 1:
            local = f"{f}{ln}"
        elif p == 2:
            local = f"{f[0]}.{ln}"
        elif p == 3:
            local = f"{f}_{ln}"
        elif p == 4:
            local = f"{f}.{ln}{year[i]:02d}"
        elif p == 5:
            local = f"{f}{number[i]}"
        elif p == 6:
            local = f"{ln}.{f}"
        else:
            local = f"{f[0]}{ln}{number[i]}"
        domain = domains[i]
        email = f"{local}@{domain}"
        bump = 0
        while email in seen:
            bump += 1
            suffix = (i * 7 + bump * 13) % 1000 if bump < 50 else f".{i}"  # .{i} is always free
            email = f"{local}{suffix}@{domain}"
        seen.add(email)
        out.append(email)
    return out


def _break_email(email: str, kind: str, rng: np.random.Generator) -> str:
    local, domain = email.split("@", 1)
    if kind == "missing_at":
        return local + domain if rng.random() < 0.6 else f"{local} at {domain}".replace(" ", "")
    if kind == "double_dot":
        if "." in local and rng.random() < 0.5:
            return local.replace(".", "..", 1) + "@" + domain
        return local + "@" + domain.replace(".", "..", 1)
    if kind == "inner_space":
        if "." in local:
            return local.replace(".", " ", 1) + "@" + domain
        return local + " @" + domain
    return email + "."  # trailing dot


def _title_email(email: str) -> str:
    local, _, domain = email.partition("@")
    parts = [p[:1].upper() + p[1:] for p in local.split(".")]
    return ".".join(parts) + "@" + domain[:1].upper() + domain[1:]


def _random_digits(rng: np.random.Generator, n: int) -> list[str]:
    """Twelve random decimal digits per row."""
    return [f"{x:012d}" for x in rng.integers(0, 10**12, size=n).tolist()]


@functools.cache
def _phone_template(code: str, mobile: bool) -> tuple[int, str]:
    """Country calling code and national number of phonenumbers' example for the region."""
    kind = phonenumbers.PhoneNumberType.MOBILE if mobile else phonenumbers.PhoneNumberType.FIXED_LINE
    example = phonenumbers.example_number_for_type(code, kind) or phonenumbers.example_number(code)
    return example.country_code, phonenumbers.national_significant_number(example)


def _local_phone(code: str, dg: str, u: float) -> tuple[str, str]:
    """(national format, international format) of a made-up number in an allocated range: the
    region's example number with its last six (or four) digits drawn, so it validates."""
    calling_code, national = _phone_template(code, u < 0.7)
    number = phonenumbers.parse(f"+{calling_code}{national}")
    for drawn in (6, 4):
        candidate = phonenumbers.parse(f"+{calling_code}{national[:-drawn]}{dg[:drawn]}")
        if phonenumbers.is_valid_number(candidate):
            number = candidate
            break
    local = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    intl = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if code == "US":
        d = phonenumbers.national_significant_number(number)
        local = (local, f"{d[:3]}-{d[3:6]}-{d[6:]}", f"{d[:3]}.{d[3:6]}.{d[6:]}")[int(u * 30) % 3]
    return local, intl


def _phones(rng: np.random.Generator, cust: _Customers) -> list[str]:
    out: list[str] = []
    for s0 in range(0, cust.n, _WRITE_SLICE):  # random draws per slice keep memory flat
        m = min(cust.n, s0 + _WRITE_SLICE) - s0
        kind = rng.random(m).tolist()
        u = rng.random(m).tolist()
        pick = rng.integers(0, 1 << 30, size=m).tolist()
        digits = _random_digits(rng, m)
        countries = cust.country[s0 : s0 + m].tolist()
        for i in range(m):
            k = kind[i]
            if k < 0.15:
                out.append("")
                continue
            if k < 0.17:
                out.append(_BAD_PHONES[pick[i] % len(_BAD_PHONES)])
                continue
            local, intl = _local_phone(_COUNTRY_CODES[countries[i]], digits[i], u[i])
            if k < 0.26:
                out.append(intl)
            elif k < 0.27:
                ext = (" ext. ", " x", " ext ")[pick[i] % 3] + str(1 + int(digits[i][9:12]) % 399)
                out.append(intl + ext)
            elif k < 0.28:
                out.append(intl.replace(" ", ""))  # E.164 as typed by the careful few
            else:
                out.append(local)
    return out


def _postal_codes(rng: np.random.Generator, cust: _Customers) -> list[str]:
    out: list[str] = []
    for s0 in range(0, cust.n, _WRITE_SLICE):
        m = min(cust.n, s0 + _WRITE_SLICE) - s0
        u = rng.random(m).tolist()
        pick = rng.integers(0, 1 << 30, size=(m, 5)).tolist()
        digits = _random_digits(rng, m)
        countries = cust.country[s0 : s0 + m].tolist()
        out.extend(
            _postal_code(_COUNTRY_CODES[countries[i]], digits[i], pick[i], u[i]) for i in range(m)
        )
    return out


def _postal_code(code: str, dg: str, pk: list[int], u: float) -> str:
    """A postal code in the country's format from 12 digits, 5 random ints and a uniform."""
    if u < 0.02:
        return ""
    if code == "GB":
        area = _UK_AREAS[pk[0] % len(_UK_AREAS)]
        letters = _UK_UNIT_LETTERS[pk[1] % 20] + _UK_UNIT_LETTERS[pk[2] % 20]
        pc = f"{area}{1 + int(dg[:2]) % 19} {dg[2]}{letters}"
        return pc.lower().replace(" ", "") if u < 0.04 else pc  # as typed
    if code == "US":
        z = f"{501 + int(dg[:5]) % 99450:05d}"
        return f"{z}-{dg[5:9]}" if u < 0.07 else z  # some ZIP+4
    if code in ("DE", "ES", "IT", "FI"):
        return f"{1001 + int(dg[:5]) % 98998:05d}"
    if code == "FR":
        return f"{1 + int(dg[:2]) % 95:02d}{dg[2:5]}"
    if code == "NL":
        return f"{1000 + int(dg[:4]) % 9000} {chr(65 + pk[0] % 26)}{chr(65 + pk[1] % 26)}"
    if code == "IE":
        unique = "".join(_EIRCODE_CHARS[x % len(_EIRCODE_CHARS)] for x in pk[1:5])
        return f"{_IE_ROUTING[pk[0] % len(_IE_ROUTING)]} {unique}"
    if code in ("BE", "AT"):
        return str(1000 + int(dg[:4]) % 9000)
    return f"{1000 + int(dg[:4]) % 9000}-{1 + int(dg[4:7]) % 999:03d}"  # PT


# --------------------------------------------------------------------------------------------
# The purchase process
# --------------------------------------------------------------------------------------------


def _poisson_inverse(mu: np.ndarray, log_u: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """min(cap, smallest n with PoissonCDF(n; mu) >= u), vectorised in log space.

    With fixed uniforms the result is non-decreasing in mu, which makes the rate calibration a
    monotone search.
    """
    out = np.zeros(mu.shape, dtype=np.int64)
    idx = np.flatnonzero(cap > 0)
    m = np.maximum(mu[idx], 1e-300)
    log_pmf = -m
    log_cdf = log_pmf.copy()
    log_mu, lu, cp = np.log(m), log_u[idx], cap[idx]
    limit = m + 40.0 * np.sqrt(m) + 50.0  # guard against rounding when u is ~1
    live = log_cdf < lu
    idx, log_pmf, log_cdf, log_mu, lu, cp, limit = (
        a[live] for a in (idx, log_pmf, log_cdf, log_mu, lu, cp, limit)
    )
    k = 0
    while idx.size:
        k += 1
        log_pmf = log_pmf + log_mu - math.log(k)
        log_cdf = np.logaddexp(log_cdf, log_pmf)
        done = (log_cdf >= lu) | (cp <= k) | (limit <= k)
        out[idx[done]] = k
        live = ~done
        idx, log_pmf, log_cdf, log_mu, lu, cp, limit = (
            a[live] for a in (idx, log_pmf, log_cdf, log_mu, lu, cp, limit)
        )
    return out


@dataclass
class _OrderPlan:
    keys: np.ndarray  # sorted (second << 32 | customer index), one per distinct order


def _purchase_caps(
    drop: np.ndarray, u_drop: np.ndarray, practical: np.ndarray, goal: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Purchase lives, the cap on repeat purchases, and the dropout chances they used.

    Repeat purchases stop at dropout, and nobody keeps up more than ~2 orders a day. When the
    request asks for more orders per customer than dropout allows, customers stay longer.
    """

    def purchase_lives(p: np.ndarray) -> np.ndarray:
        """Purchases before dropping out if time were unlimited (first purchase included)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            n = 1 + np.floor(np.log(u_drop) / np.log1p(-p))
        return np.clip(np.where(np.isfinite(n), n, 1), 1, 10_000_000).astype(np.int64)

    for _ in range(40):
        lives = purchase_lives(drop)
        cap = np.minimum(lives - 1, practical)
        if drop.size + cap.sum() >= 1.2 * goal or drop.max() < 1e-9:
            break
        drop = drop / 2
    return lives, cap, drop


def _calibrate_rate(
    rate: np.ndarray,
    tau: np.ndarray,
    drop: np.ndarray,
    log_u: np.ndarray,
    cap: np.ndarray,
    goal: float,
) -> float:
    """The scale of the purchase rates whose realised order count is closest to `goal`."""
    b = rate.size

    def realised(k: float) -> int:
        return int(b + _poisson_inverse(k * rate * tau, log_u, cap).sum())

    # Start from the expected count, E[min(D, 1 + Poisson(mu))] = (1 - q e^{-mu p}) / p.
    def expected(k: float) -> float:
        x = k * rate * tau * drop
        return float(np.sum(-np.expm1(-x) / drop + np.exp(-x)))

    lo, hi = math.log(1e-9), math.log(1e4)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if expected(math.exp(mid)) < goal else (lo, mid)
    k0 = math.exp(hi)
    lo_k, hi_k = k0 / 2, k0 * 2
    for _ in range(30):
        if realised(lo_k) <= goal:
            break
        lo_k /= 2
    for _ in range(60):
        if realised(hi_k) >= goal:
            break
        hi_k *= 2
    best_k, best_gap = hi_k, abs(realised(hi_k) - goal)
    for _ in range(40):
        mid = math.sqrt(lo_k * hi_k)
        got = realised(mid)
        if abs(got - goal) < best_gap:
            best_k, best_gap = mid, abs(got - goal)
        if best_gap <= max(1.0, 0.002 * goal):
            break
        lo_k, hi_k = (mid, hi_k) if got < goal else (lo_k, mid)
    return best_k


def _plan_orders(
    rng: np.random.Generator, cust: _Customers, clock: _Clock, target: int
) -> _OrderPlan:
    """Order instants for every customer, calibrated so their number is close to `target`."""
    n = cust.n
    last = np.full(n, -1, dtype=np.int64)
    first = np.full(n, -1, dtype=np.int64)
    cust.last_order, cust.first_order = last, first
    buyers = np.flatnonzero(cust.buyer)
    if buyers.size == 0 or target <= 0:
        return _OrderPlan(keys=np.zeros(0, dtype=np.int64))
    if buyers.size > target:  # fewer orders than buyers: only the earliest first orders happen
        keep = np.argsort(cust.first_order_days[buyers], kind="stable")[:target]
        buyers = np.sort(buyers[keep])
    b = buyers.size
    rate = rng.gamma(_RATE_SHAPE, 1.0, b)  # relative purchase rate (heterogeneous cadence)
    drop = np.clip(rng.beta(*_DROPOUT_BETA, b), 1e-12, 1.0)  # dropout chance after each purchase
    u_drop = 1.0 - rng.random(b)
    u_count = np.clip(1.0 - rng.random(b), 1e-300, 1.0 - 1e-12)
    t0 = cust.first_order_days[buyers]
    op0 = clock.to_op(t0)
    tau = np.maximum(clock.to_op(np.array([clock.horizon_days]))[0] - op0, 1e-9)
    practical = np.floor(_MAX_ORDERS_PER_DAY * tau).astype(np.int64)
    goal = target / (1.0 + _SAME_DAY_SHARE)
    lives, cap, drop = _purchase_caps(drop, u_drop, practical, goal)
    goal = min(goal, float(b + cap.sum()))
    log_u = np.log(u_count)
    mu = _calibrate_rate(rate, tau, drop, log_u, cap, goal) * rate * tau
    extra = _poisson_inverse(mu, log_u, cap)  # repeat purchases
    # Poisson events in (0, tau): more than `extra` for customers who dropped out, whose
    # purchases are then the first `extra` of those events.
    events = extra.copy()
    dropped = np.flatnonzero(extra == lives - 1)
    exact = dropped[mu[dropped] <= 1e4]
    events[exact] = _poisson_inverse(mu[exact], log_u[exact], np.full(exact.size, 1 << 62))
    rough = dropped[mu[dropped] > 1e4]
    if rough.size:
        events[rough] = rng.poisson(mu[rough])
    events = np.maximum(events, extra)
    return _order_instants(rng, cust, clock, buyers, extra, events, t0, tau)


def _order_instants(
    rng: np.random.Generator,
    cust: _Customers,
    clock: _Clock,
    buyers: np.ndarray,
    extra: np.ndarray,
    events: np.ndarray,
    t0: np.ndarray,
    tau: np.ndarray,
) -> _OrderPlan:
    """Place each buyer's first order and `extra` repeat orders in time, chunk by chunk.

    Also records every customer's first and last order second in `cust`.
    """
    last, first = cust.last_order, cust.first_order
    b = buyers.size
    op0 = clock.to_op(t0)
    offset = cust.offset[buyers]
    keys: list[np.ndarray] = []
    per_block = np.cumsum(extra + 1)
    bounds = np.searchsorted(per_block, np.arange(CHUNK_ORDERS, int(per_block[-1]), CHUNK_ORDERS))
    edges = np.unique(np.concatenate(([0], bounds, [b])))
    for lo_i, hi_i in zip(edges[:-1], edges[1:], strict=True):
        j = extra[lo_i:hi_i]
        total_j = int(j.sum())
        s = np.cumsum(rng.standard_exponential(total_j))
        seg_end = np.cumsum(j)
        seg_start = seg_end - j
        base = np.where(seg_start > 0, s[np.maximum(seg_start - 1, 0)] if total_j else 0.0, 0.0)
        s_rel = s - np.repeat(base, j)
        last_s = np.where(j > 0, s_rel[np.maximum(seg_end - 1, 0)] if total_j else 0.0, 0.0)
        # Order statistics of `events` uniforms: S_k / S_{events+1}.
        total = last_s + rng.standard_gamma((events[lo_i:hi_i] - j + 1).astype(np.float64))
        op = np.repeat(op0[lo_i:hi_i], j) + np.repeat(tau[lo_i:hi_i], j) * s_rel / np.repeat(
            total, j
        )
        when = clock.from_op(op)
        when = _with_time_of_day(rng, when, np.repeat(offset[lo_i:hi_i], j))
        when = np.maximum(when, np.repeat(t0[lo_i:hi_i], j) + 0.02)
        when = np.where(when > clock.horizon_days, clock.from_op(op), when)
        who = np.concatenate((buyers[lo_i:hi_i], np.repeat(buyers[lo_i:hi_i], j)))
        when = np.concatenate((t0[lo_i:hi_i], when))
        # Some orders are followed by a second one the same day ("forgot something").
        again = rng.random(when.size) < _SAME_DAY_SHARE
        later = when[again] + rng.uniform(10.0, 240.0, int(again.sum())) / 1440.0
        fits = later <= clock.horizon_days
        who = np.concatenate((who, who[again][fits]))
        when = np.concatenate((when, later[fits]))
        sec = np.clip(np.floor(when * _SECONDS_PER_DAY), 0, clock.horizon).astype(np.int64)
        np.maximum.at(last, who, sec)
        keys.append((sec << 32) | who.astype(np.int64))
        first[buyers[lo_i:hi_i]] = sec[: hi_i - lo_i]
    all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    all_keys.sort(kind="stable")
    return _OrderPlan(keys=all_keys)


@dataclass(frozen=True)
class Campaign:
    """A simulated win-back send `days_before_end` days before the end date (see the module
    docstring). `holdout_seed` and `holdout_share` must be the audience's own (config/
    audiences.yml), so the simulated treatment group is the one the pipeline exports."""

    audience: str
    holdout_seed: str
    holdout_share: float
    effect: float = 0.25
    days_before_end: int = 40
    quiet_days: int = 45
    window_days: int = 30

    @classmethod
    def for_audience(cls, config: AudienceConfig, audience: str, **overrides) -> Campaign:
        """The campaign for one audience of an AudienceConfig (orchestration.lib.audiences)."""
        found = config.get(audience)
        return cls(audience=audience, holdout_seed=config.holdout_seed,
                   holdout_share=found.holdout_share, **overrides)

    def send_date(self, end_date: dt.date) -> dt.date:
        return end_date - dt.timedelta(days=self.days_before_end)


def _add_campaign_orders(
    rng: np.random.Generator, cust: _Customers, clock: _Clock, plan: _OrderPlan,
    campaign: Campaign,
) -> _OrderPlan:
    """The campaign's extra purchases, added to the planned orders (kept sorted)."""
    from orchestration.lib.audiences import assign_group

    send_day = (campaign.send_date(clock.end) - clock.start).days
    if send_day < campaign.quiet_days or not plan.keys.size:
        return plan
    day_end = (send_day + 1) * _SECONDS_PER_DAY
    sec, who = plan.keys >> 32, plan.keys & 0xFFFFFFFF
    known = sec < day_end
    last = np.full(cust.n, -1, dtype=np.int64)
    np.maximum.at(last, who[known], sec[known])
    eligible = np.flatnonzero(
        (last >= 0) & (last < day_end - campaign.quiet_days * _SECONDS_PER_DAY))
    treated = np.array(
        [assign_group(campaign.holdout_seed, campaign.audience, str(cid),
                      campaign.holdout_share) == "treatment" for cid in cust.ids[eligible]],
        dtype=bool)
    buyers = eligible[treated & (rng.random(eligible.size) < campaign.effect)]
    # One purchase on a day 1..window after the send date, during the day.
    day = send_day + rng.integers(1, campaign.window_days + 1, buyers.size)
    when = day * _SECONDS_PER_DAY + rng.integers(8 * 3600, 20 * 3600, buyers.size)
    fits = when <= clock.horizon
    buyers, when = buyers[fits], when[fits]
    np.maximum.at(cust.last_order, buyers, when)
    keys = np.concatenate((plan.keys, (when << 32) | buyers.astype(np.int64)))
    keys.sort(kind="stable")
    return _OrderPlan(keys=keys)


# --------------------------------------------------------------------------------------------
# Orders, order items and the loyalty ledger (streamed in time order)
# --------------------------------------------------------------------------------------------


def _catalogue(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(SKU codes [category, sku], prices in cents [category, sku, currency]), prices ascending."""
    s = _SKUS_PER_CATEGORY
    codes = np.empty((len(CATEGORIES), s), dtype=object)
    prices = np.zeros((len(CATEGORIES), s, len(_CURRENCIES)), dtype=np.int64)
    for c, (_, prefix, median, sigma, _) in enumerate(_CATEGORY_SPEC):
        numbers = rng.choice(90_000, size=s, replace=False) + 10_000
        codes[c] = [f"{prefix}-{x:05d}" for x in numbers]
        eur = np.sort(np.exp(rng.normal(math.log(median), sigma, s)))
        for cur in range(len(_CURRENCIES)):
            amount = eur * _FX_FROM_EUR[cur]
            # Shelf prices end in .99 (or .49 below 3.00).
            shelf = np.where(
                amount >= 3.0, np.ceil(amount) * 100 - 1, np.round(amount * 2) * 50 - 1
            )
            prices[c, :, cur] = np.maximum(shelf, 49).astype(np.int64)
    return codes, prices


class _CsvYears:
    """One CSV writer per calendar year: `<folder>/<entity>_<year>.csv`."""

    def __init__(self, folder: Path, entity: str, years: list[int]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in sorted(folder.glob(f"{entity}_*.csv")):
            stale.unlink()
        self.handles = {}
        self.writers = {}
        for y in years:
            handle = (folder / f"{entity}_{y}.csv").open("w", encoding="utf-8", newline="")
            writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
            writer.writerow(ENTITY_COLUMNS[entity])
            self.handles[y], self.writers[y] = handle, writer
        self.rows = 0

    def write(self, year: int, rows: list) -> None:
        self.writers[year].writerows(rows)
        self.rows += len(rows)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


@dataclass
class _Defects:
    """Deliberately broken order rows and orphaned orders, at fixed global positions."""

    bad_pos: np.ndarray  # sorted positions of malformed rows
    bad_kind: np.ndarray  # index into _MALFORMED_KINDS, per bad_pos
    orphan_pos: np.ndarray  # sorted positions of orders for customers that do not exist
    orphan_ids: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, cust: _Customers, total: int) -> _Defects:
        # Future-dated rows come from the most recent orders (a till with its clock set ahead).
        per_kind = max(1, int(round(_MALFORMED_ORDER_SHARE * total / len(_MALFORMED_KINDS))))
        recent_from = max(0, total - max(total // 50, 50 * per_kind))
        bad: dict[int, int] = {}
        for kind_no, kind in enumerate(_MALFORMED_KINDS):
            lo = recent_from if kind == "future_ordered_at" else 0
            if total - lo <= 0:
                continue
            for p in rng.choice(total - lo, size=min(per_kind, total - lo), replace=False).tolist():
                bad.setdefault(p + lo, kind_no)
        bad_pos = np.array(sorted(bad), dtype=np.int64)
        bad_kind = np.array([bad[p] for p in bad_pos.tolist()], dtype=np.int64)
        n_orphan = min(total, max(1, int(round(_ORPHAN_ORDER_SHARE * total)))) if total else 0
        orphan_pos = (
            np.unique(rng.integers(0, total, size=n_orphan)) if n_orphan else np.zeros(0, np.int64)
        )
        orphan_ids = _ids(
            "C",
            cust.n + 1 + rng.integers(0, max(20, cust.n // 50), size=orphan_pos.size),
            cust.id_width,
        )
        return cls(bad_pos, bad_kind, orphan_pos, orphan_ids)


@dataclass
class _Lines:
    """A chunk's order lines (flat, in order) and each order's currency and total."""

    cur: np.ndarray  # per order: index into _CURRENCIES
    n_lines: np.ndarray  # per order
    amount: np.ndarray  # per order, cents
    line_order: np.ndarray  # per line: the order it belongs to, within the chunk
    line_no: np.ndarray
    cat: np.ndarray
    sku: np.ndarray
    qty: np.ndarray
    unit: np.ndarray  # cents


def _draw_lines(
    rng: np.random.Generator, cust: _Customers, who: np.ndarray, prices: np.ndarray
) -> _Lines:
    n = who.size
    cur = np.where(rng.random(n) < 0.03, cust.currency2[who], cust.currency[who])
    n_lines = rng.choice(4, size=n, p=[0.5, 0.28, 0.14, 0.08]) + 1
    line_order = np.repeat(np.arange(n), n_lines)
    n_l = line_order.size
    line_no = np.arange(n_l) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    lw = who[line_order]
    cat = np.where(
        rng.random(n_l) < 0.55,
        cust.favourite[lw],
        rng.choice(len(CATEGORIES), size=n_l, p=_CATEGORY_P),
    )
    sku = np.clip(
        np.round((cust.tier[lw] + rng.normal(0.0, 0.18, n_l)) * (_SKUS_PER_CATEGORY - 1)),
        0,
        _SKUS_PER_CATEGORY - 1,
    ).astype(np.int64)
    qty = rng.choice(6, size=n_l, p=[0.8, 0.12, 0.05, 0.015, 0.01, 0.005]) + 1
    qty = qty + np.where(cat == _GROCERY, rng.poisson(1.2, n_l), 0)
    unit = prices[cat, sku, cur[line_order]]
    on_sale = rng.random(n_l) < 0.08
    unit = np.where(on_sale, np.round(unit * rng.uniform(0.5, 0.8, n_l)), unit).astype(np.int64)
    free = rng.random(n) < 0.008  # replacements and 100 % vouchers
    unit = np.where(free[line_order], 0, unit)
    subtotal = np.round(np.bincount(line_order, weights=qty * unit, minlength=n)).astype(np.int64)
    voucher = (rng.random(n) < 0.06) & ~free
    subtotal = subtotal - np.where(voucher, np.round(subtotal * 0.1).astype(np.int64), 0)
    shipping = np.where((subtotal < _FREE_SHIPPING_FROM[cur]) & ~free, _SHIPPING_FEE[cur], 0)
    return _Lines(
        cur=cur,
        n_lines=n_lines,
        amount=subtotal + shipping,
        line_order=line_order,
        line_no=line_no,
        cat=cat,
        sku=sku,
        qty=qty,
        unit=unit,
    )


@dataclass
class _Statuses:
    """Each order's status as of the horizon, and the one before it (for re-exports)."""

    status: np.ndarray  # index into ORDER_STATUSES
    updated: np.ndarray  # seconds
    prev_status: np.ndarray
    prev_updated: np.ndarray
    paid_t: np.ndarray  # seconds the order was (or would be) paid
    refund_t: np.ndarray


def _draw_statuses(rng: np.random.Generator, sec: np.ndarray, horizon: int) -> _Statuses:
    n = sec.size
    plan_u = rng.random(n)
    paid_t = sec + rng.integers(20, 1800, n)
    ship_t = paid_t + rng.integers(6 * 3600, 4 * _SECONDS_PER_DAY, n)
    refund_t = ship_t + rng.integers(3 * _SECONDS_PER_DAY, 35 * _SECONDS_PER_DAY, n)
    cancel_t = sec + np.round(rng.exponential(8 * 3600, n)).astype(np.int64) + 60
    status = np.full(n, 0)  # placed
    updated = sec.copy()
    status = np.where(paid_t <= horizon, 1, status)
    updated = np.where(paid_t <= horizon, paid_t, updated)
    status = np.where(ship_t <= horizon, 2, status)
    updated = np.where(ship_t <= horizon, ship_t, updated)
    refunded = (plan_u >= 0.05) & (plan_u < 0.08) & (refund_t <= horizon)
    status = np.where(refunded, 4, status)
    updated = np.where(refunded, refund_t, updated)
    cancelled = (plan_u < 0.05) & (cancel_t <= horizon)
    pending = (plan_u < 0.05) & ~cancelled  # will be cancelled, not yet
    status = np.where(cancelled, 3, np.where(pending, 0, status))
    updated = np.where(cancelled, cancel_t, np.where(pending, sec, updated))
    abandoned = (plan_u >= 0.08) & (plan_u < 0.083)  # never paid
    status = np.where(abandoned, 0, status)
    updated = np.where(abandoned, sec, updated)
    # The status before the final one, shown by the first export of a re-exported order.
    prev_status = np.select([status == 4, status == 2, status == 1, status == 3], [2, 1, 0, 0], 0)
    prev_updated = np.select([status == 4, status == 2], [ship_t, paid_t], sec)
    return _Statuses(status, updated, prev_status, prev_updated, paid_t, refund_t)


def _write_order_chunk(
    rng: np.random.Generator,
    cust: _Customers,
    clock: _Clock,
    start: int,
    sec: np.ndarray,
    who: np.ndarray,
    lines: _Lines,
    st: _Statuses,
    defects: _Defects,
    codes: np.ndarray,
    width: int,
    orders_out: _CsvYears,
    items_out: _CsvYears,
) -> None:
    """Write one chunk's orders (~2 % first with an earlier status) and order lines."""
    n = sec.size
    pos = np.arange(start, start + n)
    bad_lo, bad_hi = np.searchsorted(defects.bad_pos, [start, start + n])
    chunk_bad = defects.bad_pos[bad_lo:bad_hi] - start
    chunk_kinds = defects.bad_kind[bad_lo:bad_hi]
    dup = (rng.random(n) < _DUPLICATE_ORDER_SHARE / 0.98) & (st.status != 0)
    dup[chunk_bad] = False
    style = _styles(rng, n)
    off = cust.offset[who]
    year = clock.year_of(sec)
    o_lo, o_hi = np.searchsorted(defects.orphan_pos, [start, start + n])
    orphans = dict(
        zip(
            (defects.orphan_pos[o_lo:o_hi] - start).tolist(),
            defects.orphan_ids[o_lo:o_hi].tolist(),
            strict=True,
        )
    )

    def order_rows(idx: np.ndarray, status: np.ndarray, updated: np.ndarray) -> list[tuple]:
        return list(
            zip(
                _ids("O", pos[idx] + 1, width).tolist(),
                _customer_ids(cust, who, idx, orphans),
                _render_ts(clock, sec[idx], off[idx], style[idx]).tolist(),
                [ORDER_STATUSES[x] for x in status[idx].tolist()],
                [_CURRENCIES[x] for x in lines.cur[idx].tolist()],
                _money(lines.amount[idx]).tolist(),
                _render_ts(clock, updated[idx], off[idx], style[idx]).tolist(),
                strict=True,
            )
        )

    # Render and write in slices, to keep the Python row objects small.
    shown_status = np.where(dup, st.prev_status, st.status)
    shown_updated = np.where(dup, st.prev_updated, st.updated)
    first_line = np.concatenate((np.cumsum(lines.n_lines) - lines.n_lines, [lines.line_order.size]))
    for s0 in range(0, n, _WRITE_SLICE):
        s1 = min(n, s0 + _WRITE_SLICE)
        rows = order_rows(np.arange(s0, s1), shown_status, shown_updated)
        order_ids = [row[0] for row in rows]  # before any row is malformed
        m_lo, m_hi = np.searchsorted(chunk_bad, [s0, s1])
        for p, kind in zip(
            chunk_bad[m_lo:m_hi].tolist(), chunk_kinds[m_lo:m_hi].tolist(), strict=True
        ):
            rows[p - s0] = _malform(
                rows[p - s0], _MALFORMED_KINDS[kind], int(sec[p]), int(lines.amount[p]), clock, rng
            )
        y_slice = year[s0:s1]
        for y in np.unique(y_slice).tolist():
            orders_out.write(y, [rows[i] for i in np.flatnonzero(y_slice == y).tolist()])
        _write_item_slice(lines, order_ids, s0, int(first_line[s0]), int(first_line[s1]), codes,
                          year, items_out)

    # Re-exports: the same orders with their final status, after the chunk's rows.
    d_idx = np.flatnonzero(dup)
    if d_idx.size:
        d_idx = d_idx[np.argsort(st.updated[d_idx], kind="stable")]
        d_rows = order_rows(d_idx, st.status, st.updated)
        d_year = year[d_idx]
        for y in np.unique(d_year).tolist():
            orders_out.write(y, [d_rows[j] for j in np.flatnonzero(d_year == y).tolist()])


def _write_item_slice(
    lines: _Lines,
    order_ids: list[str],
    s0: int,
    l0: int,
    l1: int,
    codes: np.ndarray,
    year: np.ndarray,
    items_out: _CsvYears,
) -> None:
    """Write lines `l0:l1`, those of the orders `order_ids` (the chunk's orders from `s0`)."""
    line_order = lines.line_order[l0:l1]
    cat, sku = lines.cat[l0:l1], lines.sku[l0:l1]
    item_rows = list(
        zip(
            [order_ids[i] for i in (line_order - s0).tolist()],
            lines.line_no[l0:l1].tolist(),
            codes[cat, sku].tolist(),
            [CATEGORIES[c] for c in cat.tolist()],
            lines.qty[l0:l1].tolist(),
            _money(lines.unit[l0:l1]).tolist(),
            strict=True,
        )
    )
    l_year = year[line_order]
    for y in np.unique(l_year).tolist():
        items_out.write(y, [item_rows[i] for i in np.flatnonzero(l_year == y).tolist()])


def _write_orders(
    rng: np.random.Generator,
    cat_rng: np.random.Generator,
    cust: _Customers,
    plan: _OrderPlan,
    clock: _Clock,
    out_dir: Path,
) -> tuple[int, int, int]:
    """Write orders, order lines and the loyalty ledger; return the rows written to each."""
    keys = plan.keys
    total = keys.size
    years = clock.years()
    codes, prices = _catalogue(cat_rng)
    width = max(8, len(str(total)))
    defects = _Defects.draw(rng, cust, total)

    orders_out = _CsvYears(out_dir / "orders", "orders", years)
    items_out = _CsvYears(out_dir / "order_items", "order_items", years)
    ledger_dir = out_dir / "loyalty_ledger"
    ledger_dir.mkdir(parents=True, exist_ok=True)
    ledger_schema = pa.schema(
        zip(
            ENTITY_COLUMNS["loyalty_ledger"],
            (pa.string(), pa.string(), pa.int64(), pa.string()),
            strict=True,
        )
    )
    ledger = pq.ParquetWriter(
        ledger_dir / "loyalty_ledger.parquet", ledger_schema, compression="zstd"
    )
    ledger_rows = 0
    lots = _Lots()
    # Members' welcome bonus at sign-up, emitted with the chunk covering that instant.
    bonus_members = np.flatnonzero(cust.member)
    bonus_sec = cust.created[bonus_members]

    starts = list(range(0, total, CHUNK_ORDERS)) or [0]
    for ci, a in enumerate(starts):
        b = min(a + CHUNK_ORDERS, total)
        k = keys[a:b]
        sec = k >> 32
        who = (k & 0xFFFFFFFF).astype(np.int64)
        lines = _draw_lines(rng, cust, who, prices)
        st = _draw_statuses(rng, sec, clock.horizon)
        _write_order_chunk(rng, cust, clock, a, sec, who, lines, st, defects, codes, width,
                           orders_out, items_out)

        lo_t = -1 if ci == 0 else int(sec[0])
        hi_t = (1 << 62) if ci == len(starts) - 1 else int(keys[b] >> 32)
        bonus = (
            bonus_members[(bonus_sec > lo_t) & (bonus_sec <= hi_t)]
            if ci
            else bonus_members[bonus_sec <= hi_t]
        )
        ledger_rows += _write_ledger_chunk(
            ledger, rng, cust, clock, lots, bonus, who, sec, st.paid_t, st.refund_t, st.status,
            lines.amount,
        )

    orders_out.close()
    items_out.close()
    ledger.close()
    return orders_out.rows, items_out.rows, ledger_rows


def _customer_ids(
    cust: _Customers, who: np.ndarray, idx: np.ndarray, orphans: dict[int, str]
) -> list[str]:
    """Customer ids of chunk orders `idx`, with the deliberately orphaned ones swapped in."""
    out = cust.ids[who[idx]].tolist()
    for j, i in enumerate(idx.tolist()):
        if i in orphans:
            out[j] = orphans[i]
    return out


def _malform(
    row: tuple, kind: str, sec: int, cents: int, clock: _Clock, rng: np.random.Generator
) -> tuple:
    order_id, customer_id, ordered_at, status, currency, amount, updated_at = row
    if kind == "bad_amount":
        amount = (f"{cents // 100},{(cents % 100) // 10}x", "N/A", "12,5x", "#REF!")[
            int(rng.integers(4))
        ]
    elif kind == "empty_order_id":
        order_id = ""
    elif kind == "bad_ordered_at":
        ordered_at = _BAD_TIMESTAMPS[int(rng.integers(len(_BAD_TIMESTAMPS)))]
    elif kind == "future_ordered_at":
        future = sec + int(rng.integers(30, 400)) * _SECONDS_PER_DAY
        future = max(future, clock.horizon + 3600 + int(rng.integers(0, 30 * _SECONDS_PER_DAY)))
        ordered_at = _render_ts(clock, np.array([future]), np.array([0]), np.array([0]))[0]
        updated_at = ordered_at
    else:  # missing_column: the trailing updated_at (and its delimiter) is gone
        return (order_id, customer_id, ordered_at, status, currency, amount)
    return (order_id, customer_id, ordered_at, status, currency, amount, updated_at)


class _Lots:
    """Each member's unexpired loyalty points as FIFO lots [expires, points], with totals."""

    def __init__(self) -> None:
        self.lots: dict[int, list[list[int]]] = {}
        self.total: dict[int, int] = {}

    def add(self, member: int, expires: int, points: int) -> None:
        self.lots.setdefault(member, []).append([expires, points])
        self.total[member] = self.total.get(member, 0) + points

    def available(self, member: int, now: int) -> int:
        held = self.lots.get(member)
        if not held:
            return 0
        while held and held[0][0] <= now:
            self.total[member] -= held.pop(0)[1]
        return self.total[member]

    def take(self, member: int, points: int, newest_first: bool = False) -> None:
        held = self.lots.get(member, [])
        order = range(len(held) - 1, -1, -1) if newest_first else range(len(held))
        for idx in order:
            got = min(held[idx][1], points)
            held[idx][1] -= got
            self.total[member] -= got
            points -= got
            if points == 0:
                break
        held[:] = [x for x in held if x[1] > 0]

    def expire(self, now: int) -> None:
        """Forget lots that expired by `now` (keeps memory flat for members who stopped buying)."""
        for member in list(self.lots):
            self.available(member, now)
            if not self.lots[member]:
                del self.lots[member]
                del self.total[member]


def _write_ledger_chunk(
    writer: pq.ParquetWriter,
    rng: np.random.Generator,
    cust: _Customers,
    clock: _Clock,
    lots: _Lots,
    bonus: np.ndarray,
    who: np.ndarray,
    sec: np.ndarray,
    paid_t: np.ndarray,
    refund_t: np.ndarray,
    status: np.ndarray,
    amount: np.ndarray,
) -> int:
    """Loyalty entries for one chunk of orders (in time order).

    Members earn 1 point per whole currency unit when an order is paid (expiring a year later),
    lose them again when it is refunded, and sometimes redeem multiples of 500 unexpired points
    at checkout.
    """
    year = 365 * _SECONDS_PER_DAY
    out_c: list[int] = []
    out_t: list[int] = []
    out_p: list[int] = []
    for c, t in zip(bonus.tolist(), (cust.created[bonus] + 5).tolist(), strict=True):
        lots.add(c, t + year, 100)
        out_c.append(c), out_t.append(t), out_p.append(100)
    members = np.flatnonzero(cust.member[who])
    u = rng.random(members.size).tolist()
    k = rng.integers(1, 4, members.size).tolist()
    points = (amount[members] // 100).tolist()
    m_who, m_sec = who[members].tolist(), sec[members].tolist()
    m_status, m_paid, m_refund = (
        status[members].tolist(),
        paid_t[members].tolist(),
        refund_t[members].tolist(),
    )
    for j in range(members.size):
        c, st, t = m_who[j], m_status[j], m_sec[j]
        if st != 3 and u[j] < 0.3:
            available = lots.available(c, t)
            if available >= 500:
                spend = min(available // 500, k[j]) * 500
                out_c.append(c), out_t.append(t), out_p.append(-spend)
                lots.take(c, spend)
        if st in (1, 2, 4) and points[j] > 0:
            out_c.append(c), out_t.append(m_paid[j]), out_p.append(points[j])
            lots.add(c, m_paid[j] + year, points[j])
            if st == 4:
                out_c.append(c), out_t.append(m_refund[j]), out_p.append(-points[j])
                lots.take(c, points[j], newest_first=True)
    if sec.size:
        lots.expire(int(sec[-1]))
    if not out_c:
        return 0
    cust_idx = np.array(out_c, dtype=np.int64)
    when = np.minimum(np.array(out_t, dtype=np.int64), clock.horizon)
    pts = np.array(out_p, dtype=np.int64)
    order = np.lexsort((cust_idx, when))
    cust_idx, when, pts = cust_idx[order], when[order], pts[order]
    style = _styles(rng, cust_idx.size)
    off = cust.offset[cust_idx]
    occurred = _render_ts(clock, when, off, style).tolist()
    expiry = _render_ts(clock, when + year, off, style).tolist()
    table = pa.Table.from_arrays(
        [
            pa.array(cust.ids[cust_idx].tolist(), pa.string()),
            pa.array(occurred, pa.string()),
            pa.array(pts, pa.int64()),
            pa.array(
                [e if p > 0 else None for e, p in zip(expiry, pts.tolist(), strict=True)],
                pa.string(),
            ),
        ],
        schema=writer.schema,
    )
    writer.write_table(table)
    return table.num_rows


# --------------------------------------------------------------------------------------------
# Consent, suppressions, erasure requests, support tickets
# --------------------------------------------------------------------------------------------


_INVALID_EMAIL_KINDS = ("missing_at", "double_dot", "inner_space", "trailing_dot")


def _customer_consent(
    i: int,
    created: int,
    horizon: int,
    email: str,
    kind: str,
    migrated: bool,
    at_signup: bool,
    has_phone: bool,
    u: list[float],
    events: list[tuple[int, int, int, str, str, str]],
    suppress: list[tuple[int, str, str]],
) -> None:
    """Append one customer's consent events and suppressions (u: 11 uniforms)."""
    c, span = created, max(horizon - created, 1)
    if email:
        if migrated:
            events.append((c, i, 0, "email", "opted_in" if u[0] < 0.8 else "opted_out", "import"))
        elif u[0] < 0.09:
            pass  # never asked (guest checkout, legacy)
        elif u[0] < 0.14:
            events.append((c + 2, i, 0, "email", "opted_out", "checkout"))
        else:
            source = "checkout" if at_signup else "preference_centre"
            events.append((c + 2, i, 0, "email", "opted_in", source))
            if u[0] > 0.86:  # later unsubscribed, by link or in the preference centre
                later = c + 60 + int(u[1] * span)
                via_link = u[2] < 0.7
                how = "unsubscribe_link" if via_link else "preference_centre"
                events.append((later, i, 1, "email", "opted_out", how))
                if via_link and u[3] < 0.2:
                    suppress.append((later + 30, _suppression_spelling(email, u[4]), "unsubscribe"))
                if u[5] < 0.15:  # and came back
                    back = later + int(u[6] * max(horizon - later, 1))
                    events.append((back, i, 2, "email", "opted_in", "preference_centre"))
        if u[7] < 0.005 and events and events[-1][1] == i:
            events.append(events[-1])  # the same webhook delivered twice
        # Suppressions that do not come from a consent change.
        bounce_p = 0.5 if kind in _INVALID_EMAIL_KINDS else 0.008
        r, t = u[8], c + int(u[9] * span)
        spelled = _suppression_spelling(email, u[10])
        if r < bounce_p:
            suppress.append((t, spelled, "hard_bounce"))
        elif r < bounce_p + 0.003:
            suppress.append((t, spelled, "spam_complaint"))
        elif (kind == "role" and r < 0.5) or r < bounce_p + 0.005:
            suppress.append((t, spelled, "manual"))
    if has_phone and u[3] < 0.25 and not migrated:
        events.append((c + 3, i, 3, "sms", "opted_in", "checkout"))
        if u[4] < 0.1:
            events.append((c + int(u[6] * span) + 4, i, 4, "sms", "opted_out", "sms_stop"))


def _draw_consent(
    rng: np.random.Generator, cust: _Customers, horizon: int
) -> tuple[np.ndarray, list[tuple[str, str, str]], list[tuple[int, str, str]]]:
    """Every customer's consent events and suppressions.

    Returns the events as rows (sec, customer, seq, kind code), the (channel, status, source) of
    each kind code, and the suppressions as (sec, email as exported, reason).
    """
    suppress: list[tuple[int, str, str]] = []
    kinds: dict[tuple[str, str, str], int] = {}  # (channel, status, source) -> code
    parts: list[np.ndarray] = []  # per slice: sec, customer, seq, kind code (as rows)
    for s0 in range(0, cust.n, _WRITE_SLICE):  # random draws per slice keep memory flat
        s1 = min(cust.n, s0 + _WRITE_SLICE)
        events: list[tuple[int, int, int, str, str, str]] = []  # sec, customer, seq, ...
        for i, u, created, migrated, at_signup, has_phone in zip(
            range(s0, s1),
            rng.random((s1 - s0, 11)).tolist(),
            cust.created[s0:s1].tolist(),
            cust.migrated[s0:s1].tolist(),
            cust.at_signup[s0:s1].tolist(),
            cust.has_phone[s0:s1].tolist(),
            strict=True,
        ):
            _customer_consent(
                i,
                created,
                horizon,
                cust.email[i],
                cust.email_kind[i],
                migrated,
                at_signup,
                has_phone,
                u,
                events,
                suppress,
            )
        codes = [kinds.setdefault(e[3:], len(kinds)) for e in events]
        parts.append(np.array([e[:3] for e in events], dtype=np.int64).reshape(-1, 3))
        parts.append(np.array(codes, dtype=np.int64).reshape(-1, 1))
    table = np.hstack((np.vstack(parts[0::2]), np.vstack(parts[1::2])))
    return table, list(kinds), suppress


def _add_platform_suppressions(
    rng: np.random.Generator, cust: _Customers, horizon: int, suppress: list[tuple[int, str, str]]
) -> None:
    """Make `suppress` look like the email platform's export, in place."""
    # The platform's copy differs from the CRM's spelling for some addresses (at least one).
    crm_spelling = set(cust.email)
    if suppress and all(e in crm_spelling for _, e, _ in suppress):
        t, e, reason = suppress[0]
        suppress[0] = (t, e.strip().upper(), reason)
    # Addresses suppressed at the email platform that match no customer (old lists, typos).
    n_foreign = max(2, int(round(0.1 * len(suppress))))
    for _ in range(n_foreign):
        t = int(rng.integers(0, horizon))
        name = _fold(_WORLD_FIRST[int(rng.integers(len(_WORLD_FIRST)))]) or "user"
        domain = ("gmail.com", "yahoo.com", "example.org", "web.de")[int(rng.integers(4))]
        reason = _SUPPRESSION_REASONS[int(rng.choice(4, p=[0.5, 0.3, 0.1, 0.1]))]
        suppress.append((t, f"{name}{int(rng.integers(10, 9999))}@{domain}", reason))


def _write_consent_events(
    rng: np.random.Generator,
    cust: _Customers,
    clock: _Clock,
    table: np.ndarray,
    kind_names: list[tuple[str, str, str]],
    path: Path,
) -> int:
    """Write the event rows of `_draw_consent` as JSON lines, in time order."""
    table = table[np.lexsort((table[:, 2], table[:, 1], table[:, 0]))]
    e_sec, e_cust, e_kind = np.minimum(table[:, 0], clock.horizon), table[:, 1], table[:, 3]
    columns = ENTITY_COLUMNS["consent_events"]
    style = _styles(rng, e_sec.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        for s0 in range(0, e_sec.size, _WRITE_SLICE):
            sl = slice(s0, s0 + _WRITE_SLICE)
            stamps = _render_ts(clock, e_sec[sl], cust.offset[e_cust[sl]], style[sl]).tolist()
            ids = cust.ids[e_cust[sl]].tolist()
            lines = []
            for cid, code, stamp in zip(ids, e_kind[sl].tolist(), stamps, strict=True):
                channel, status, source = kind_names[code]
                record = dict(zip(columns, (cid, channel, status, source, stamp), strict=True))
                lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            fh.writelines(lines)
    return int(e_sec.size)


def _write_consent_and_suppressions(
    rng: np.random.Generator,
    cust: _Customers,
    clock: _Clock,
    out_dir: Path,
) -> tuple[int, int]:
    horizon = clock.horizon
    events, kind_names, suppress = _draw_consent(rng, cust, horizon)
    _add_platform_suppressions(rng, cust, horizon, suppress)
    n_events = _write_consent_events(
        rng, cust, clock, events, kind_names, out_dir / "consent_events" / "consent_events.jsonl"
    )

    suppress.sort(key=lambda s: (s[0], s[1], s[2]))
    s_sec = np.minimum(np.array([s[0] for s in suppress], dtype=np.int64), horizon)
    s_txt = _render_ts(
        clock, s_sec, np.zeros(s_sec.size, np.int64), _styles(rng, s_sec.size)
    ).tolist()
    rows = [
        (email, reason, stamp) for (_, email, reason), stamp in zip(suppress, s_txt, strict=True)
    ]
    n_supp = _write_csv(
        out_dir / "suppressions" / "suppressions.csv", ENTITY_COLUMNS["suppressions"], rows
    )
    return n_events, n_supp


def _suppression_spelling(email: str, u: float) -> str:
    """The email platform's copy of an address: mostly as given, sometimes re-cased or padded."""
    if u < 0.6:
        return email
    if u < 0.75:
        return email.strip().lower()
    if u < 0.9:
        return email.strip().upper()
    return " " + email.strip() + " "


def _write_erasure_requests(
    rng: np.random.Generator, cust: _Customers, clock: _Clock, out_dir: Path
) -> int:
    count = min(cust.n, max(2, int(round(0.002 * cust.n))))
    who = np.sort(rng.choice(cust.n, size=count, replace=False)) if count else np.zeros(0, np.int64)
    created = cust.created[who]
    # Mostly recent: erasure tends to follow a last interaction.
    when = created + ((clock.horizon - created) * (1 - rng.random(count) ** 2)).astype(np.int64)
    repeat = rng.random(count) < 0.1  # asked again because nothing happened yet
    again = np.minimum(
        when[repeat] + rng.integers(3, 20, int(repeat.sum())) * _SECONDS_PER_DAY, clock.horizon
    )
    who = np.concatenate((who, who[repeat]))
    when = np.concatenate((when, again))
    order = np.lexsort((who, when))
    who, when = who[order], when[order]
    stamps = _render_ts(clock, when, cust.offset[who], _styles(rng, who.size)).tolist()
    rows = list(zip(cust.ids[who].tolist(), stamps, strict=True))
    return _write_csv(
        out_dir / "erasure_requests" / "erasure_requests.csv",
        ENTITY_COLUMNS["erasure_requests"],
        rows,
    )


def _write_support_tickets(
    rng: np.random.Generator, cust: _Customers, clock: _Clock, out_dir: Path
) -> int:
    n, horizon = cust.n, clock.horizon
    buyer = cust.buyer
    has_ticket = rng.random(n) < np.where(buyer, 0.11, 0.04)
    who = np.flatnonzero(has_ticket)
    per = rng.choice(5, size=who.size, p=[0.7, 0.18, 0.07, 0.03, 0.02]) + 1
    who = np.repeat(who, per)
    m = who.size
    lo = np.where(cust.first_order[who] >= 0, cust.first_order[who], cust.created[who])
    hi = np.where(cust.last_order[who] >= 0, cust.last_order[who] + 45 * _SECONDS_PER_DAY, horizon)
    hi = np.minimum(np.maximum(hi, lo + 3600), horizon)
    opened = lo + (rng.random(m) * (hi - lo)).astype(np.int64)
    kind = rng.choice(4, size=m, p=[0.3, 0.4, 0.15, 0.15])
    closed = opened + 600 + np.round(rng.exponential(1.5 * _SECONDS_PER_DAY, m)).astype(np.int64)
    is_open = (closed > horizon) | (rng.random(m) < 0.04)
    answered = ~is_open & (rng.random(m) < 0.55)
    happy = rng.choice(5, size=m, p=[0.05, 0.07, 0.15, 0.33, 0.40]) + 1
    unhappy = rng.choice(5, size=m, p=[0.30, 0.25, 0.20, 0.15, 0.10]) + 1
    score = np.where(kind == 0, unhappy, happy)
    order = np.lexsort((who, opened))
    who, opened, closed, kind, is_open, answered, score = (
        x[order] for x in (who, opened, closed, kind, is_open, answered, score)
    )
    if m:  # the newest tickets are still being worked on
        newest = max(1, int(round(0.01 * m)))
        is_open[-newest:] = True
        answered[-newest:] = False
    style = _styles(rng, m)
    off = cust.offset[who]
    opened_txt = _render_ts(clock, opened, off, style).tolist()
    closed_txt = _render_ts(clock, np.minimum(closed, horizon), off, style).tolist()
    kinds = ("complaint", "service_request", "discount_request", "other")
    table = pa.Table.from_arrays(
        [
            pa.array(_ids("T", np.arange(1, m + 1), max(6, len(str(m)))).tolist(), pa.string()),
            pa.array(cust.ids[who].tolist(), pa.string()),
            pa.array(opened_txt, pa.string()),
            pa.array(
                [None if o else t for t, o in zip(closed_txt, is_open.tolist(), strict=True)],
                pa.string(),
            ),
            pa.array([kinds[k] for k in kind.tolist()], pa.string()),
            pa.array(
                [
                    int(s) if a else None
                    for s, a in zip(score.tolist(), answered.tolist(), strict=True)
                ],
                pa.int64(),
            ),
        ],
        names=ENTITY_COLUMNS["support_tickets"],
    )
    folder = out_dir / "support_tickets"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "support_tickets.parquet", compression="zstd")
    return m


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def _write_csv(path: Path, header: Sequence[str], rows) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def generate(
    out_dir: Path,
    *,
    customers: int = 20_000,
    orders: int = 200_000,
    seed: int = 42,
    end_date: dt.date,
    years: int = 3,
    campaign: Campaign | None = None,
) -> dict[str, int]:
    """Write the demo landing folder under `out_dir`; return data rows written per entity.

    Row counts include the deliberately malformed order rows and the ~2 % of orders exported
    twice (an earlier status first, the final status later with a later `updated_at`). Dirt that
    a loader must handle: a handful of order rows (about 0.05 %, at least one of each kind) with
    an unparseable amount, an empty order_id, an unparseable ordered_at, an ordered_at after
    `end_date`, or a missing trailing column; about 0.1 % of orders for customer_ids that do not
    exist; and dirty emails, names and phones in customers.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if orders < 0:
        raise ValueError("orders must not be negative")
    if years < 1:
        raise ValueError("years must be at least 1")
    if customers >= 1 << 32:
        raise ValueError("customers must be below 2**32")
    out_dir = Path(out_dir)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(9)]
    (r_cust, r_names, r_plan, r_orders, r_catalogue, r_consent, r_erasure, r_tickets,
     r_campaign) = streams
    clock = _Clock.build(end_date, years)

    cust = _draw_customers(r_cust, customers, clock)
    counts: dict[str, int] = {}
    counts["customers"] = _write_customers(
        r_names, cust, clock, out_dir / "customers" / "customers.csv"
    )
    plan = _plan_orders(r_plan, cust, clock, orders)
    if campaign is not None:
        plan = _add_campaign_orders(r_campaign, cust, clock, plan, campaign)
    o_rows, i_rows, l_rows = _write_orders(r_orders, r_catalogue, cust, plan, clock, out_dir)
    del plan
    counts["orders"] = o_rows
    counts["order_items"] = i_rows
    counts["consent_events"], counts["suppressions"] = _write_consent_and_suppressions(
        r_consent, cust, clock, out_dir
    )
    counts["erasure_requests"] = _write_erasure_requests(r_erasure, cust, clock, out_dir)
    counts["support_tickets"] = _write_support_tickets(r_tickets, cust, clock, out_dir)
    counts["loyalty_ledger"] = l_rows
    return {entity: counts[entity] for entity in ENTITIES}
