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
_FRIEND = "__friend_"


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
    """Matches with a start time in `(start_time, match_id)` order, start time as naive UTC.

    A timeline already prepared (as the reader hands it over) passes through without a
    copy: no filter without a NULL start time, no reordering of rows already in order.
    """
    timeline = timeline.with_columns(
        utc_naive(pl.col("start_time"), timeline.schema["start_time"]).alias("start_time"),
        pl.col("match_id").cast(pl.String),
    )
    if timeline["start_time"].has_nulls():
        timeline = timeline.filter(pl.col("start_time").is_not_null())
    return in_timeline_order(timeline)


def in_timeline_order(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` sorted by `(start_time, match_id)`, without a copy when it already is.

    Files are mostly synced in time order. Checking that costs a scan of the start times
    (and a look at the match ids of equal ones), where a sort copies every column and
    builds keys of both columns for every row: half the peak memory of a million matches.
    """
    start = frame["start_time"]
    if start.is_sorted():
        tied = start.eq(start.shift(1)).fill_null(False).arg_true()
        if tied.is_empty():
            return frame
        match_id = frame["match_id"]
        if match_id.gather(tied).gt(match_id.gather(tied - 1)).fill_null(False).all():
            return frame
    return frame.sort("start_time", "match_id")


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


def _friend_presence(friends_xuids: frozenset[str]) -> list[pl.Expr]:
    """One boolean column per friend: is it one of the signature's items, once stripped?

    A token test on the text (the xuid between commas or ends, blanks around it allowed)
    costs a fraction of splitting every signature into a list. `\\s` and `strip_chars`
    both mean Unicode White_Space, so the test is exactly "a stripped item equals it"; a
    friend no stripped item can equal (blank, holding a comma or outer blanks) gets none.
    """
    text = pl.col("teammates_signature").fill_null("")
    testable = sorted(x for x in friends_xuids if x and x == x.strip() and "," not in x)
    return [
        text.str.contains(rf"(?:^|,)\s*{pl.escape_regex(xuid)}\s*(?:,|$)").alias(_FRIEND + xuid)
        for xuid in testable
    ] or [pl.lit(False).alias(_FRIEND)]  # no friend can ever be present


def teammate_columns(params: SessionParameters) -> list[pl.Expr]:
    """What the break rules read of `teammates_signature`, as columns computed per row.

    A flag per friend in friends mode, else the teammate set. Each depends on its own row
    only, so a reader can compute them as it reads and let go of the signatures' text;
    `compute_sessions` uses them when the timeline holds them, else computes them.
    """
    if params.friends_xuids:
        return _friend_presence(params.friends_xuids)
    return [_teammate_set(pl.col("teammates_signature")).alias(_TEAMMATES)]


def _break_conditions(params: SessionParameters, helpers: list[str]) -> list[tuple[str, pl.Expr]]:
    """Each reason a match starts a session, with its test, in order of precedence."""
    previous_start = pl.col("start_time").shift(1)
    gap = (pl.col("start_time") - previous_start) > pl.duration(minutes=params.gap_minutes)
    conditions = [(BreakReason.FIRST, previous_start.is_null()), (BreakReason.GAP, gap)]
    if params.friends_xuids:
        present = [pl.col(name) for name in helpers]
        any_friend = pl.any_horizontal(present)
        joined = pl.any_horizontal([friend & ~friend.shift(1) for friend in present])
        conditions.append((BreakReason.FRIEND_JOINED, joined))
        conditions.append((BreakReason.WENT_SOLO, ~any_friend & any_friend.shift(1)))
    else:
        teammates = pl.col(_TEAMMATES)
        changed = teammates.list.set_symmetric_difference(teammates.shift(1)).list.len() > 0
        conditions.append((BreakReason.TEAMMATES_CHANGED, changed))
    return [(reason.value, test) for reason, test in conditions]


def _with_break_tests(
    timeline: pl.DataFrame, params: SessionParameters
) -> tuple[pl.DataFrame, list[tuple[str, pl.Expr]], list[str]]:
    """The prepared timeline with the teammate columns it lacks, their tests and names."""
    helpers = teammate_columns(params)
    names = [helper.meta.output_name() for helper in helpers]
    missing = [helper for helper, name in zip(helpers, names, strict=True) if name not in timeline]
    prepared = prepare_timeline(timeline)
    if missing:
        if "teammates_signature" not in prepared.columns:
            prepared = prepared.with_columns(teammates_signature=pl.lit(None, pl.String))
        prepared = prepared.with_columns(pl.col("teammates_signature").cast(pl.String))
        prepared = prepared.with_columns(missing)
    return prepared, _break_conditions(params, names), names


def _reason(conditions: list[tuple[str, pl.Expr]]) -> pl.Expr:
    [(first, test), *others] = conditions
    reasons = pl.when(test).then(pl.lit(first))
    for reason, test in others:
        reasons = reasons.when(test).then(pl.lit(reason))
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
    """(Re)compute every session's label from its matches.

    Sessions are runs of equal `session_id` in time order, as `compute_sessions` makes
    them: each is formatted once, from its run's first and last match, then spread over
    its matches by run index, with no grouping and no formatting per match.
    """
    runs = sessions["session_id"].rle()
    matches = runs.struct.field("len")
    last = matches.cum_sum() - 1
    start = sessions["start_time"]
    bounds = pl.DataFrame(
        {"first": start.gather(last - matches + 1), "last": start.gather(last), "matches": matches}
    )
    labels = bounds.select(
        format_session_labels(pl.col("first"), pl.col("last"), pl.col("matches"), label_time_zone)
    ).to_series()
    return sessions.with_columns(session_label=labels.gather(sessions["session_id"].rle_id()))


def break_reasons(timeline: pl.DataFrame, params: SessionParameters) -> pl.DataFrame:
    """The prepared timeline with `break_reason`: why each match starts a session (or null).

    Other columns come through; no session ids or labels, for callers that only ask why.
    """
    prepared, conditions, helpers = _with_break_tests(timeline, params)
    return prepared.with_columns(break_reason=_reason(conditions)).drop(helpers)


def compute_sessions(
    timeline: pl.DataFrame,
    params: SessionParameters,
    *,
    first_session_id: int = 0,
    with_break_reasons: bool = True,
) -> pl.DataFrame:
    """Sessions of a timeline: `session_id`, `session_label` and `break_reason` per match.

    Rows with a NULL start time are dropped (the caller counts them). Other columns come
    through, but for the teammate columns. `first_session_id` lets a recompute start at a
    stored session and keep its id. Without `with_break_reasons` there is no `break_reason`:
    a reader that only needs the sessions skips naming why each one started.
    """
    prepared, conditions, helpers = _with_break_tests(timeline, params)
    starts = pl.any_horizontal([test for _, test in conditions])
    reasons = {"break_reason": _reason(conditions)} if with_break_reasons else {}
    sessions = prepared.with_columns(
        session_id=starts.cum_sum().cast(pl.Int64) - 1 + first_session_id, **reasons
    )
    kept = [c for c in sessions.columns if c not in SESSION_COLUMNS and c not in helpers]
    return label_sessions(sessions, params.label_time_zone).select(
        *kept, "session_id", "session_label", *reasons
    )


def summarize_sessions(sessions: pl.DataFrame, **true_counts: str) -> pl.DataFrame:
    """One row per session, newest first: what `show`, the dashboard and the UI list.

    `sessions` is in timeline order, each session one run of rows, as `compute_sessions`
    and `load_sessions` return it: a session's first row holds its label, start and break
    reason, its last row its last start, so they are read by position, with no grouping.
    Each of `true_counts` names a result column counting, per session, the rows where a
    boolean column is true (`stored_matches="is_stored"`).
    """
    matches = sessions["session_id"].rle().struct.field("len")
    last = matches.cum_sum() - 1
    first = last - matches + 1
    counts = {}
    for name, column in true_counts.items():
        # Rows true before each row, and after the last: a session's count is a difference.
        before = pl.concat([pl.Series([0]), sessions[column].cast(pl.Int64).cum_sum()])
        counts[name] = before.gather(last + 1) - before.gather(first)
    return (
        sessions.select(
            pl.col("session_id", "session_label").gather(first),
            matches=matches,
            first_start=pl.col("start_time").gather(first),
            last_start=pl.col("start_time").gather(last),
            break_reason=pl.col("break_reason").gather(first),
        )
        .with_columns(**counts)
        .reverse()
    )
