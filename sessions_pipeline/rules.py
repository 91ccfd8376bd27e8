"""The session rules, as pure functions over Polars frames (no I/O, no Dagster).

A break depends only on a match and its predecessor, so the rules are column
expressions over the timeline shifted by one row: no Python loop over matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

import polars as pl

DEFAULT_GAP_MINUTES = 120
DEFAULT_LABEL_TIME_ZONE = "Europe/Paris"
DEFAULT_STABILITY_HOURS = 4.0

LABEL_TIME_SEPARATOR = "\u2013"  # en dash, as the dashboard has always shown it
SESSION_COLUMNS = ("session_id", "session_label", "break_reason")

_TEAMMATES = "__teammates"
_FRIENDS = "__friends"


class BreakReason(StrEnum):
    """Why a match starts a new session (shown to people, so the values are words)."""

    FIRST = "first"
    GAP = "gap"
    FRIEND_JOINED = "friend_joined"
    WENT_SOLO = "went_solo"
    TEAMMATES_CHANGED = "teammates_changed"


@dataclass(frozen=True)
class SessionParameters:
    """Everything a session boundary or label depends on, so it can be recorded and replayed."""

    gap_minutes: int = DEFAULT_GAP_MINUTES
    friends_xuids: frozenset[str] = frozenset()
    label_time_zone: str = DEFAULT_LABEL_TIME_ZONE

    def __post_init__(self) -> None:
        if self.gap_minutes <= 0:
            raise ValueError(f"gap_minutes must be > 0, got {self.gap_minutes}")
        ZoneInfo(self.label_time_zone)
        object.__setattr__(self, "friends_xuids", frozenset(self.friends_xuids))


def utc_naive(start_time: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Naive UTC microseconds: a TIMESTAMPTZ is taken as the instant it is, never re-zoned."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        start_time = start_time.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return start_time.cast(pl.Datetime("us"))


def prepare_timeline(timeline: pl.DataFrame) -> pl.DataFrame:
    """Matches with a start time in `(start_time, match_id)` order, start time as naive UTC."""
    if "teammates_signature" not in timeline.columns:
        timeline = timeline.with_columns(teammates_signature=pl.lit(None, pl.String))
    return (
        timeline.with_columns(
            utc_naive(pl.col("start_time"), timeline.schema["start_time"]).alias("start_time"),
            pl.col("match_id").cast(pl.String),
            pl.col("teammates_signature").cast(pl.String),
        )
        .filter(pl.col("start_time").is_not_null())
        .sort("start_time", "match_id")
    )


def _teammate_set(signature: pl.Expr) -> pl.Expr:
    """The set of xuids of a signature (blanks dropped, duplicates merged, order kept).

    Sets are compared with set operations, never by sorting: a per-row list sort costs
    seconds on a million matches where the set operations cost a fraction of one.
    """
    no_blank = pl.lit([""], dtype=pl.List(pl.String))
    return (
        signature.fill_null("")
        .str.split(",")
        .list.eval(pl.element().str.strip_chars())
        .list.set_difference(no_blank)
    )


def _break_reasons(params: SessionParameters) -> pl.Expr:
    teammates = pl.col(_TEAMMATES)
    previous_start = pl.col("start_time").shift(1)
    is_first = previous_start.is_null()
    is_gap = (pl.col("start_time") - previous_start) > pl.duration(minutes=params.gap_minutes)
    reasons = pl.when(is_first).then(pl.lit(BreakReason.FIRST.value))
    reasons = reasons.when(is_gap).then(pl.lit(BreakReason.GAP.value))
    if params.friends_xuids:
        friends = pl.col(_FRIENDS)
        previous_friends = friends.shift(1)
        joined = friends.list.set_difference(previous_friends).list.len() > 0
        went_solo = (friends.list.len() == 0) & (previous_friends.list.len() > 0)
        reasons = reasons.when(joined).then(pl.lit(BreakReason.FRIEND_JOINED.value))
        reasons = reasons.when(went_solo).then(pl.lit(BreakReason.WENT_SOLO.value))
    else:
        changed = teammates.list.set_symmetric_difference(teammates.shift(1)).list.len() > 0
        reasons = reasons.when(changed).then(pl.lit(BreakReason.TEAMMATES_CHANGED.value))
    return reasons.otherwise(pl.lit(None, pl.String))


def format_session_labels(
    first_start: pl.Expr, last_start: pl.Expr, matches: pl.Expr, label_time_zone: str
) -> pl.Expr:
    """`DD/MM/YYYY HH:MM<en dash>HH:MM (N)` in the dashboard's zone, from naive UTC instants."""

    def local(instant: pl.Expr) -> pl.Expr:
        return instant.dt.replace_time_zone("UTC").dt.convert_time_zone(label_time_zone)

    return pl.format(
        "{}" + LABEL_TIME_SEPARATOR + "{} ({})",
        local(first_start).dt.strftime("%d/%m/%Y %H:%M"),
        local(last_start).dt.strftime("%H:%M"),
        matches,
    )


def label_sessions(sessions: pl.DataFrame, label_time_zone: str) -> pl.DataFrame:
    """(Re)compute every session's label from the matches the frame holds for it."""
    session = pl.col("session_id")
    return sessions.with_columns(
        session_label=format_session_labels(
            pl.col("start_time").min().over(session),
            pl.col("start_time").max().over(session),
            pl.len().over(session),
            label_time_zone,
        )
    )


def compute_sessions(
    timeline: pl.DataFrame, params: SessionParameters, *, first_session_id: int = 0
) -> pl.DataFrame:
    """Sessions of a timeline: `session_id`, `session_label` and `break_reason` per match.

    Rows with a NULL start time are dropped (the caller counts them). Other columns come
    through. `first_session_id` lets a recompute start at a stored session and keep its id.
    """
    prepared = prepare_timeline(timeline).with_columns(
        _teammate_set(pl.col("teammates_signature")).alias(_TEAMMATES)
    )
    if params.friends_xuids:
        friends = pl.lit(sorted(params.friends_xuids), dtype=pl.List(pl.String))
        prepared = prepared.with_columns(
            pl.col(_TEAMMATES).list.set_intersection(friends).alias(_FRIENDS)
        )
    sessions = (
        prepared.with_columns(break_reason=_break_reasons(params))
        .with_columns(
            session_id=(
                pl.col("break_reason").is_not_null().cum_sum().cast(pl.Int64) - 1 + first_session_id
            )
        )
        .drop(_TEAMMATES, _FRIENDS, strict=False)
    )
    return label_sessions(sessions, params.label_time_zone).select(
        *[c for c in sessions.columns if c not in SESSION_COLUMNS], *SESSION_COLUMNS
    )


def summarize_sessions(sessions: pl.DataFrame) -> pl.DataFrame:
    """One row per session, newest first: what `show` and the UI list."""
    return (
        sessions.group_by("session_id")
        .agg(
            pl.col("session_label").first(),
            pl.len().alias("matches"),
            pl.col("start_time").min().alias("first_start"),
            pl.col("start_time").max().alias("last_start"),
            pl.col("break_reason").sort_by("start_time", "match_id").first(),
        )
        .sort("session_id", descending=True)
    )
