"""What the session tests share: a literal reference of the rules, timelines, file probes.

The reference follows DESIGN's "Session rules" one match at a time, so the vectorised
rules are checked against the wording rather than against themselves.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
from hypothesis import strategies as st

from sessions_pipeline.entry_points.environment import environment_variable
from sessions_pipeline.levelup.store import StoreOptions, StoreResult, store_sessions
from sessions_pipeline.rules.sessions import SessionParameters, compute_sessions
from sessions_pipeline_tests.levelup_files import (
    Match,
    append_matches,
    as_read_back,
    matches_frame,
    read_match_stats,
    start_instants,
)

SessionRow = tuple[str, datetime, int, str, str | None]
"""(match_id, start_time, session_id, session_label, break_reason)"""

SESSION_VALUES = ("match_id", "start_time", "session_id", "session_label")
"""What a store freezes and a reader returns, per match."""

XUIDS = ("2533274800000001", "2533274800000002", "2533274800000003", "2533274800000004")

# ---------------------------------------------------------------- the reference rules


def teammates_of(signature: str | None) -> frozenset[str]:
    """The set of xuids of a signature: blanks and spaces ignored, NULL means none."""
    return frozenset(item.strip() for item in (signature or "").split(",")) - {""}


def reference_label(starts: Sequence[datetime], time_zone: str) -> str:
    """`DD/MM/YYYY HH:MM<en dash>HH:MM (N)` of naive UTC starts, in `time_zone`."""
    zone = ZoneInfo(time_zone)
    first, last = (start.replace(tzinfo=UTC).astimezone(zone) for start in (starts[0], starts[-1]))
    return f"{first:%d/%m/%Y %H:%M}\u2013{last:%H:%M} ({len(starts)})"


def _break_reason(
    previous: tuple[datetime, frozenset[str], bool] | None,
    match: tuple[datetime, frozenset[str], bool],
    params: SessionParameters,
    *,
    has_ranked: bool,
) -> str | None:
    if previous is None:
        return "first"
    (previous_start, previous_teammates, previous_ranked), (start, teammates, ranked) = (
        previous,
        match,
    )
    if start - previous_start > timedelta(minutes=params.gap_minutes):
        return "gap"
    if params.split_on_ranked_change and has_ranked and ranked != previous_ranked:
        return "ranked_changed"
    mode = params.team_change_mode
    if mode == "ignore":
        return None
    if mode == "group" or not params.friends_xuids:
        return "teammates_changed" if teammates != previous_teammates else None
    friends = teammates & params.friends_xuids
    previous_friends = previous_teammates & params.friends_xuids
    if friends - previous_friends:
        return "friend_joined"
    if not friends and previous_friends:
        return "went_solo"
    return None


def reference_sessions(
    matches: Sequence[Match],
    params: SessionParameters,
    *,
    ranked: Mapping[str, bool | None] | None = None,
) -> list[SessionRow]:
    """The sessions of matches (instants, naive UTC), computed one match at a time.

    `ranked` gives each match's `is_ranked` (missing or None: not ranked); None: the file
    has no `is_ranked` column.
    """
    timeline = sorted(
        (
            (match_id, start, signature)
            for match_id, start, signature in matches
            if start is not None
        ),
        key=lambda match: (match[1], match[0]),
    )
    session_ids: list[int] = []
    reasons: list[str | None] = []
    previous = None
    for match_id, start, signature in timeline:
        current = (start, teammates_of(signature), bool((ranked or {}).get(match_id)))
        reason = _break_reason(previous, current, params, has_ranked=ranked is not None)
        session_ids.append(session_ids[-1] + (reason is not None) if session_ids else 0)
        reasons.append(reason)
        previous = current
    starts_by_session: dict[int, list[datetime]] = {}
    for (_, start, _), session_id in zip(timeline, session_ids, strict=True):
        starts_by_session.setdefault(session_id, []).append(start)
    labels = {
        session_id: reference_label(starts, params.label_time_zone)
        for session_id, starts in starts_by_session.items()
    }
    return [
        (match_id, start, session_id, labels[session_id], reason)
        for (match_id, start, _), session_id, reason in zip(
            timeline, session_ids, reasons, strict=True
        )
    ]


# ---------------------------------------------------------------- timelines for hypothesis

LABEL_TIME_ZONES = ("Europe/Paris", "UTC", "America/New_York", "Asia/Kolkata")
GAPS_MINUTES = (120, 45)
BASES = (
    datetime(2026, 3, 28, 23, 0),  # the night Paris springs forward
    datetime(2026, 10, 24, 23, 30),  # the night Paris falls back
    datetime(2026, 12, 31, 21, 0),  # midnight and a new year
)
_EDGE_STEPS_SECONDS = (0, 1, 45 * 60, 45 * 60 + 1, 120 * 60, 120 * 60 + 1, 4 * 3600)
STEPS_SECONDS = st.one_of(st.sampled_from(_EDGE_STEPS_SECONDS), st.integers(0, 3 * 3600))


@st.composite
def signatures(draw: st.DrawFn) -> str | None:
    """Signatures as a sync may write them: any order, spaces, blanks, duplicates, empty."""
    xuids = draw(st.lists(st.sampled_from(XUIDS), max_size=4))
    if not xuids:
        return draw(st.sampled_from([None, "", " , ", ",", "  "]))
    separator = draw(st.sampled_from([",", ", ", " , "]))
    padding = draw(st.sampled_from(["", " ", ", "]))
    return padding + separator.join(xuids) + padding[::-1]


@st.composite
def timelines(draw: st.DrawFn, *, min_size: int = 0, max_size: int = 20) -> list[Match]:
    """Matches in shuffled row order, with start ties, edge gaps and a few NULL starts.

    Ids are a permutation, so their order is independent of time order (the tie-break).
    """
    size = draw(st.integers(min_size, max_size))
    start = draw(st.sampled_from(BASES))
    starts: list[datetime | None] = []
    for step in draw(st.lists(STEPS_SECONDS, min_size=size, max_size=size)):
        start += timedelta(seconds=step)
        starts.append(start)
    for index in draw(st.sets(st.integers(0, max(size - 1, 0)), max_size=2 if size else 0)):
        starts[index] = None
    ids = draw(st.permutations(range(size)))
    sigs = draw(st.lists(signatures(), min_size=size, max_size=size))
    matches = [
        (f"m{number:02d}", start, sig) for number, start, sig in zip(ids, starts, sigs, strict=True)
    ]
    return draw(st.permutations(matches))


session_parameters = st.builds(
    SessionParameters,
    gap_minutes=st.sampled_from(GAPS_MINUTES),
    friends_xuids=st.frozensets(st.sampled_from(XUIDS), max_size=3),
    label_time_zone=st.sampled_from(LABEL_TIME_ZONES),
)


@dataclass(frozen=True)
class Batch:
    """Matches the sync inserts together, then the store run at `now` (None: no store)."""

    matches: list[Match]
    now: datetime
    store: StoreOptions | None


LAGS_HOURS = (0.0, 1.0, 2.5, 3.99, 4.0, 5.0, 30.0)

store_options = st.builds(StoreOptions, force=st.booleans(), include_recent=st.booleans())
"""Any store mode a user may run (dry runs aside: they change nothing)."""


@st.composite
def arrivals(
    draw: st.DrawFn,
    stores: st.SearchStrategy[StoreOptions | None],
    *,
    first_store: st.SearchStrategy[StoreOptions | None] | None = None,
    max_batches: int = 4,
) -> list[Batch]:
    """A timeline reaching the file in batches, some matches late (earlier than stored ones).

    Each batch's `now` is after every start in the file so far (matches are inserted
    after they are played) and never goes back in time.
    """
    matches = draw(timelines(min_size=1, max_size=12))
    cuts = sorted(draw(st.sets(st.integers(1, len(matches)), max_size=max_batches - 1)))
    chunks = [matches[a:b] for a, b in zip([0, *cuts], [*cuts, len(matches)], strict=True)]
    batches: list[Batch] = []
    starts = [start for _, start, _ in matches if start is not None]
    latest_start = now = min(starts, default=BASES[0])
    for chunk in filter(None, chunks):
        latest_start = max([latest_start, *(start for _, start, _ in chunk if start is not None)])
        lag = timedelta(hours=draw(st.sampled_from(LAGS_HOURS)))
        now = max(now, latest_start + lag)
        options = draw(first_store if first_store is not None and not batches else stores)
        batches.append(Batch(chunk, now, None if options is None else replace(options, now=now)))
    return batches


def replay(path: Path, batches: Sequence[Batch], params: SessionParameters) -> None:
    """Each batch reaches the file, then its store runs."""
    for batch in batches:
        append_matches(path, batch.matches)
        if batch.store is not None:
            store_sessions(path, params, batch.store)


# ---------------------------------------------------------------- player files at a fixed time

NOW = datetime(2026, 2, 8, 12, 0)
"""The instant stores and reads run at, unless a test says otherwise (naive UTC)."""
T0 = datetime(2026, 2, 7, 19, 0)
"""A Saturday, 20:00 in Paris, 17 hours before NOW: matches from here on are stable."""
R1, R2 = "2533274899999991", "2533274899999992"
"""Teammates outside any friends set: randoms."""


def store(path: Path, params: SessionParameters | None = None, **options: Any) -> StoreResult:
    """A store at NOW with the default parameters, unless the test says otherwise."""
    return store_sessions(
        path, params or SessionParameters(), StoreOptions(**{"now": NOW, **options})
    )


def full_recompute(
    matches: Sequence[Match], params: SessionParameters | None = None
) -> pl.DataFrame:
    """`SESSION_VALUES` of the whole timeline once written by the sync and read back with
    `params`' start-time zone, computed in one go."""
    params = params or SessionParameters()
    read_back = as_read_back(matches, params.start_time_zone)
    return session_values(compute_sessions(matches_frame(read_back), params))


def edit_by_hand(path: Path, statement: str) -> None:
    """Change a file as another tool would (a hand edit, an older pipeline)."""
    con = duckdb.connect(str(path))
    try:
        con.execute(statement)
    finally:
        con.close()


def file_digest(path: Path) -> str:
    """The file's bytes, hashed: a read or a no-op store must leave them as they were."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def session_values(frame: pl.DataFrame) -> pl.DataFrame:
    """`SESSION_VALUES` of a computed, loaded or stored frame, with integer ids."""
    return frame.select(*SESSION_VALUES).with_columns(pl.col("session_id").cast(pl.Int64))


def stored_values(path: Path) -> pl.DataFrame:
    """`SESSION_VALUES` of every match with a start time, as the file holds them (start
    times as instants)."""
    rows = start_instants(read_match_stats(path))
    return session_values(rows.filter(pl.col("start_time").is_not_null()))


@contextmanager
def connection_time_zone(time_zone: str) -> Iterator[None]:
    """Make new DuckDB connections default to `time_zone`, as on a machine set to it.

    A TIMESTAMPTZ must be read as its instant whatever the connection's TimeZone is;
    on a UTC machine that would go untested.
    """
    try:
        with environment_variable("TZ", time_zone):
            time.tzset()
            yield
    finally:
        time.tzset()


def with_ranked(matches: Sequence[Match], ranked: dict[str, bool | None]) -> pl.DataFrame:
    """A v4 `match_stats` frame of these matches, each with its `is_ranked`."""
    flags = [ranked.get(match_id) for match_id, _, _ in matches]
    return matches_frame(matches).with_columns(is_ranked=pl.Series(flags, dtype=pl.Boolean))


def stored_by_id(path: Path) -> dict[str, tuple[int, str]]:
    """`match_id -> (session_id, session_label)` of every row holding a stored session."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.sql(
            "SELECT match_id, CAST(session_id AS BIGINT), session_label FROM match_stats "
            "WHERE session_id IS NOT NULL"
        ).fetchall()
    return {match_id: (session_id, label) for match_id, session_id, label in rows}


def by_id(reference: Sequence[tuple]) -> dict[str, tuple[int, str]]:
    return {match_id: (session_id, label) for match_id, _, session_id, label, _ in reference}
