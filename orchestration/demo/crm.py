"""Demo consent events, suppressions, erasure requests and support tickets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.demo.common import (
    ENTITY_COLUMNS,
    SECONDS_PER_DAY,
    WRITE_SLICE,
    Clock,
    prefixed_ids,
    render_ts,
    styles,
    write_csv,
)
from orchestration.demo.customers import WORLD_FIRST, Customers, fold

_SUPPRESSION_REASONS = ("hard_bounce", "unsubscribe", "spam_complaint", "manual")
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
    rng: np.random.Generator, cust: Customers, horizon: int
) -> tuple[np.ndarray, list[tuple[str, str, str]], list[tuple[int, str, str]]]:
    """Every customer's consent events and suppressions.

    Returns the events as rows (sec, customer, seq, kind code), the (channel, status, source) of
    each kind code, and the suppressions as (sec, email as exported, reason).
    """
    suppress: list[tuple[int, str, str]] = []
    kinds: dict[tuple[str, str, str], int] = {}  # (channel, status, source) -> code
    parts: list[np.ndarray] = []  # per slice: sec, customer, seq, kind code (as rows)
    for s0 in range(0, cust.n, WRITE_SLICE):  # random draws per slice keep memory flat
        s1 = min(cust.n, s0 + WRITE_SLICE)
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
    rng: np.random.Generator, cust: Customers, horizon: int, suppress: list[tuple[int, str, str]]
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
        name = fold(WORLD_FIRST[int(rng.integers(len(WORLD_FIRST)))]) or "user"
        domain = ("gmail.com", "yahoo.com", "example.org", "web.de")[int(rng.integers(4))]
        reason = _SUPPRESSION_REASONS[int(rng.choice(4, p=[0.5, 0.3, 0.1, 0.1]))]
        suppress.append((t, f"{name}{int(rng.integers(10, 9999))}@{domain}", reason))


def _write_consent_events(
    rng: np.random.Generator,
    cust: Customers,
    clock: Clock,
    table: np.ndarray,
    kind_names: list[tuple[str, str, str]],
    path: Path,
) -> int:
    """Write the event rows of `_draw_consent` as JSON lines, in time order."""
    table = table[np.lexsort((table[:, 2], table[:, 1], table[:, 0]))]
    e_sec, e_cust, e_kind = np.minimum(table[:, 0], clock.horizon), table[:, 1], table[:, 3]
    columns = ENTITY_COLUMNS["consent_events"]
    style = styles(rng, e_sec.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        for s0 in range(0, e_sec.size, WRITE_SLICE):
            sl = slice(s0, s0 + WRITE_SLICE)
            stamps = render_ts(clock, e_sec[sl], cust.offset[e_cust[sl]], style[sl]).tolist()
            ids = cust.ids[e_cust[sl]].tolist()
            lines = []
            for cid, code, stamp in zip(ids, e_kind[sl].tolist(), stamps, strict=True):
                channel, status, source = kind_names[code]
                record = dict(zip(columns, (cid, channel, status, source, stamp), strict=True))
                lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            fh.writelines(lines)
    return int(e_sec.size)


def write_consent_and_suppressions(
    rng: np.random.Generator,
    cust: Customers,
    clock: Clock,
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
    s_txt = render_ts(
        clock, s_sec, np.zeros(s_sec.size, np.int64), styles(rng, s_sec.size)
    ).tolist()
    rows = [
        (email, reason, stamp) for (_, email, reason), stamp in zip(suppress, s_txt, strict=True)
    ]
    n_supp = write_csv(
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


def write_erasure_requests(
    rng: np.random.Generator, cust: Customers, clock: Clock, out_dir: Path
) -> int:
    count = min(cust.n, max(2, int(round(0.002 * cust.n))))
    who = np.sort(rng.choice(cust.n, size=count, replace=False)) if count else np.zeros(0, np.int64)
    created = cust.created[who]
    # Mostly recent: erasure tends to follow a last interaction.
    when = created + ((clock.horizon - created) * (1 - rng.random(count) ** 2)).astype(np.int64)
    repeat = rng.random(count) < 0.1  # asked again because nothing happened yet
    again = np.minimum(
        when[repeat] + rng.integers(3, 20, int(repeat.sum())) * SECONDS_PER_DAY, clock.horizon
    )
    who = np.concatenate((who, who[repeat]))
    when = np.concatenate((when, again))
    order = np.lexsort((who, when))
    who, when = who[order], when[order]
    stamps = render_ts(clock, when, cust.offset[who], styles(rng, who.size)).tolist()
    rows = list(zip(cust.ids[who].tolist(), stamps, strict=True))
    return write_csv(
        out_dir / "erasure_requests" / "erasure_requests.csv",
        ENTITY_COLUMNS["erasure_requests"],
        rows,
    )


def write_support_tickets(
    rng: np.random.Generator, cust: Customers, clock: Clock, out_dir: Path
) -> int:
    n, horizon = cust.n, clock.horizon
    buyer = cust.buyer
    has_ticket = rng.random(n) < np.where(buyer, 0.11, 0.04)
    who = np.flatnonzero(has_ticket)
    per = rng.choice(5, size=who.size, p=[0.7, 0.18, 0.07, 0.03, 0.02]) + 1
    who = np.repeat(who, per)
    m = who.size
    lo = np.where(cust.first_order[who] >= 0, cust.first_order[who], cust.created[who])
    hi = np.where(cust.last_order[who] >= 0, cust.last_order[who] + 45 * SECONDS_PER_DAY, horizon)
    hi = np.minimum(np.maximum(hi, lo + 3600), horizon)
    opened = lo + (rng.random(m) * (hi - lo)).astype(np.int64)
    kind = rng.choice(4, size=m, p=[0.3, 0.4, 0.15, 0.15])
    closed = opened + 600 + np.round(rng.exponential(1.5 * SECONDS_PER_DAY, m)).astype(np.int64)
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
    style = styles(rng, m)
    off = cust.offset[who]
    opened_txt = render_ts(clock, opened, off, style).tolist()
    closed_txt = render_ts(clock, np.minimum(closed, horizon), off, style).tolist()
    kinds = ("complaint", "service_request", "discount_request", "other")
    table = pa.Table.from_arrays(
        [
            pa.array(
                prefixed_ids("T", np.arange(1, m + 1), max(6, len(str(m)))).tolist(), pa.string()
            ),
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


def write_exclusions(
    rng: np.random.Generator, cust: Customers, clock: Clock, out_dir: Path
) -> int:
    """Global exclusion lists: staff by customer id, test accounts by email (spelled as another
    system stored them), a few entries ended again, and one row naming nobody (quarantined)
    in lists of 50 rows or more."""
    count = min(cust.n, max(2, int(round(0.004 * cust.n))))
    who = np.sort(rng.choice(cust.n, size=count, replace=False))
    added = cust.created[who] + rng.integers(0, 30, count) * SECONDS_PER_DAY
    added = np.minimum(added, clock.horizon)
    by_email = rng.random(count) < 0.3
    ended = rng.random(count) < 0.1
    stamps = render_ts(clock, added, cust.offset[who], styles(rng, count)).tolist()
    rows: list[tuple[str, ...]] = []
    for k, i in enumerate(who.tolist()):
        email = cust.email[i]
        if by_email[k] and email:
            rows.append(("test_accounts", "", f" {email.upper()} ", "qa", stamps[k], ""))
        else:
            rows.append(("staff", str(cust.ids[i]), "", "employee", stamps[k], ""))
        if ended[k]:
            until = min(int(added[k]) + int(rng.integers(30, 365)) * SECONDS_PER_DAY,
                        clock.horizon)
            end_stamp = render_ts(clock, np.array([until]), cust.offset[[i]], np.zeros(1, int))
            rows.append((*rows[-1][:5], end_stamp.tolist()[0]))
    # One row naming nobody, quarantined, where the list is long enough to stay well within
    # WINBACK_MAX_REJECT_SHARE (a small demo's list would fail as a whole).
    if len(rows) >= 50:
        rows.append(("staff", "", "", "left the company", stamps[0], ""))
    return write_csv(
        out_dir / "exclusions" / "exclusions.csv", ENTITY_COLUMNS["exclusions"], rows
    )
