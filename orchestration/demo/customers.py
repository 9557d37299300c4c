"""Demo customers: who they are, when they joined, and their (deliberately dirty) CRM rows."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import phonenumbers

from orchestration.demo.common import (
    CATEGORIES,
    CATEGORY_P,
    ENTITY_COLUMNS,
    EUR,
    GBP,
    SECONDS_PER_DAY,
    USD,
    WRITE_SLICE,
    Clock,
    prefixed_ids,
    render_ts,
    styles,
    with_time_of_day,
    write_csv,
)

DISPOSABLE_DOMAINS = ("mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com")
ROLE_LOCAL_PARTS = ("info", "noreply", "sales", "admin", "office")
FORMULA_PREFIXES = ("=", "+", "-", "@")

# code, weight, home currency, second currency, standard UTC offset (minutes), name culture
_COUNTRIES: tuple[tuple[str, float, int, int, int, str], ...] = (
    ("GB", 0.33, GBP, EUR, 0, "en"),
    ("US", 0.24, USD, GBP, -300, "us"),
    ("DE", 0.12, EUR, GBP, 60, "de"),
    ("FR", 0.08, EUR, GBP, 60, "fr"),
    ("NL", 0.06, EUR, GBP, 60, "nl"),
    ("IE", 0.06, EUR, GBP, 0, "ie"),
    ("ES", 0.04, EUR, GBP, 60, "es"),
    ("IT", 0.03, EUR, GBP, 60, "it"),
    ("BE", 0.02, EUR, GBP, 60, "be"),
    ("AT", 0.01, EUR, GBP, 60, "de"),
    ("PT", 0.005, EUR, GBP, 0, "pt"),
    ("FI", 0.005, EUR, GBP, 120, "fi"),
)
_COUNTRY_CODES = tuple(c[0] for c in _COUNTRIES)
_COUNTRY_P = np.array([c[1] for c in _COUNTRIES]) / sum(c[1] for c in _COUNTRIES)
_COUNTRY_CUR = np.array([c[2] for c in _COUNTRIES], dtype=np.int64)
_COUNTRY_CUR2 = np.array([c[3] for c in _COUNTRIES], dtype=np.int64)
_COUNTRY_OFFSET = np.array([c[4] for c in _COUNTRIES], dtype=np.int64)


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
WORLD_FIRST = _names(
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

_PROSPECT_SHARE = 0.14  # plus a few whose first order would fall after end_date
_MIGRATED_SHARE = 0.06


@dataclass
class Customers:
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


def draw_customers(rng: np.random.Generator, n: int, clock: Clock) -> Customers:
    horizon_days = clock.horizon_days
    country = rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P)
    offset = _COUNTRY_OFFSET[country]
    migrated = rng.random(n) < _MIGRATED_SHARE
    # Sign-ups grow over time: half uniform, half with a linearly rising density.
    u = rng.random(n)
    frac = np.where(rng.random(n) < 0.5, u, np.sqrt(u))
    created_days = with_time_of_day(rng, frac * (horizon_days - 1.0), offset)
    created_days = np.where(migrated, 2.0 / 24.0, created_days)  # the import batch, 02:00 UTC
    created = np.clip(np.round(created_days * SECONDS_PER_DAY), 0, clock.horizon).astype(np.int64)
    order = np.argsort(created, kind="stable")  # customer ids follow sign-up order
    country, offset, migrated, created = (
        country[order],
        offset[order],
        migrated[order],
        created[order],
    )
    created_days = created / SECONDS_PER_DAY

    buyer = rng.random(n) >= _PROSPECT_SHARE
    at_signup = (rng.random(n) < 0.6) & ~migrated
    delay = np.where(migrated, rng.exponential(90.0, n), rng.exponential(25.0, n))
    delayed_first = with_time_of_day(rng, created_days + delay, offset)
    delayed_first = np.maximum(delayed_first, created_days + 0.01)
    first = np.where(at_signup, created_days + rng.uniform(3.0, 25.0, n) / 1440.0, delayed_first)
    first = np.where(buyer & (first <= horizon_days), first, np.inf)

    favourite = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_P)
    tier = rng.beta(2.0, 2.5, n)
    member = rng.random(n) < np.where(np.isfinite(first), 0.35, 0.05)
    width = max(7, len(str(n)))
    ids = prefixed_ids("C", np.arange(1, n + 1), width)
    cust = Customers(
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
def fold(text: str) -> str:
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


def _draw_names(rng: np.random.Generator, cust: Customers) -> tuple[list[str], list[str]]:
    """First and last names from each customer's culture (a few from anywhere in the world)."""
    n = cust.n
    culture = [_COUNTRIES[c][5] for c in cust.country.tolist()]
    u_first, u_last = rng.random(n).tolist(), rng.random(n).tolist()
    world_first = (rng.random(n) < 0.025).tolist()
    world_last = (rng.random(n) < 0.025).tolist()
    first_names: list[str] = []
    last_names: list[str] = []
    for i in range(n):
        fpool = WORLD_FIRST if world_first[i] else _FIRST_NAMES[culture[i]]
        lpool = _WORLD_LAST if world_last[i] else _LAST_NAMES[culture[i]]
        first_names.append(fpool[int(u_first[i] * len(fpool))])
        last_names.append(lpool[int(u_last[i] * len(lpool))])
    return first_names, last_names


def _dirty_emails(
    rng: np.random.Generator,
    cust: Customers,
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
            (fold(last_names[i]) or "acme")
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


def write_customers(rng: np.random.Generator, cust: Customers, clock: Clock, path: Path) -> int:
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
    style = styles(rng, n)
    cust.email, cust.email_kind = emails, kinds
    cust.has_phone = np.array([bool(x) for x in phones], dtype=bool)

    def rows():
        for s0 in range(0, n, WRITE_SLICE):
            s1 = min(n, s0 + WRITE_SLICE)
            yield from zip(
                cust.ids[s0:s1].tolist(),
                first_names[s0:s1],
                last_names[s0:s1],
                emails[s0:s1],
                phones[s0:s1],
                [_COUNTRY_CODES[c] for c in cust.country[s0:s1].tolist()],
                postal[s0:s1],
                render_ts(clock, cust.created[s0:s1], cust.offset[s0:s1], style[s0:s1]).tolist(),
                render_ts(clock, updated[s0:s1], cust.offset[s0:s1], style[s0:s1]).tolist(),
                strict=True,
            )

    return write_csv(path, ENTITY_COLUMNS["customers"], rows())


def _base_emails(
    rng: np.random.Generator, cust: Customers, first: list[str], last: list[str]
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
        f = fold(first[i].split(" ")[0]) or "user"
        ln = fold(last[i]) or "mail"
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
    types = phonenumbers.PhoneNumberType
    kind = types.MOBILE if mobile else types.FIXED_LINE
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


def _phones(rng: np.random.Generator, cust: Customers) -> list[str]:
    out: list[str] = []
    for s0 in range(0, cust.n, WRITE_SLICE):  # random draws per slice keep memory flat
        m = min(cust.n, s0 + WRITE_SLICE) - s0
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


def _postal_codes(rng: np.random.Generator, cust: Customers) -> list[str]:
    out: list[str] = []
    for s0 in range(0, cust.n, WRITE_SLICE):
        m = min(cust.n, s0 + WRITE_SLICE) - s0
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
