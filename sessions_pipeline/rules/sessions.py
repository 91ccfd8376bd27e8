"""The session rules, as pure functions over Polars frames (no I/O, no Dagster).

A break depends only on a match and its predecessor, so the rules are column
expressions over the timeline shifted by one row: no Python loop over matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

DEFAULT_GAP_MINUTES = 120
DEFAULT_LABEL_TIME_ZONE = "Europe/Paris"
DEFAULT_START_TIME_ZONE = "Europe/Paris"
DEFAULT_STABILITY_HOURS = 4.0

PARAMETER_NAMES = (
    "gap_minutes",
    "friends_xuids",
    "team_change_mode",
    "split_on_ranked_change",
    "start_time_zone",
    "label_time_zone",
)
"""The fields of `SessionParameters`, in the order people read them."""
LABEL_TIME_SEPARATOR = "\u2013"  # en dash, as the dashboard has always shown it
SESSION_COLUMNS = ("session_id", "session_label", "break_reason")
RANKED_COLUMN = "is_ranked"
"""A timeline column read only when ranked changes cut: NULL counts as not ranked."""

_TEAMMATES = "__teammates"
_FRIEND = "__friend_"


class BreakReason(StrEnum):
    """Why a match starts a new session (shown to people, so the values are words)."""

    FIRST = "first"
    GAP = "gap"
    FRIEND_JOINED = "friend_joined"
    WENT_SOLO = "went_solo"
    TEAMMATES_CHANGED = "teammates_changed"
    RANKED_CHANGED = "ranked_changed"


class TeamChangeMode(StrEnum):
    """When a change of teammates cuts a session (LevelUp's `session_team_change_mode`)."""

    FRIENDS = "friends"
    GROUP = "group"
    IGNORE = "ignore"


def check_time_zone(name: str, what: str = "time zone") -> str:
    """`name` if it is an IANA zone this machine knows; else a ValueError naming it."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} {name!r} is not an IANA time zone name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{what} {name!r} is not an IANA time zone name (e.g. Europe/Paris, UTC)"
        ) from None
    return name


def check_team_change_mode(value: str) -> TeamChangeMode:
    """`value` as a mode; else a ValueError naming it and the modes there are."""
    try:
        return TeamChangeMode(value)
    except ValueError:
        modes = ", ".join(mode.value for mode in TeamChangeMode)
        raise ValueError(f"team_change_mode {value!r} is not one of {modes}") from None


@dataclass(frozen=True)
class SessionParameters:
    """Everything a session boundary or label depends on, so it can be recorded and replayed.

    `start_time_zone` is how naive start times are read (LevelUp's sync writes the wall
    clock of the machine's zone); the rules themselves only ever see instants.
    """

    gap_minutes: int = DEFAULT_GAP_MINUTES
    friends_xuids: frozenset[str] = frozenset()
    label_time_zone: str = DEFAULT_LABEL_TIME_ZONE
    start_time_zone: str = DEFAULT_START_TIME_ZONE
    split_on_ranked_change: bool = False
    team_change_mode: TeamChangeMode = TeamChangeMode.FRIENDS

    def __post_init__(self) -> None:
        if isinstance(self.gap_minutes, bool) or not isinstance(self.gap_minutes, int):
            raise ValueError(f"gap_minutes must be a whole number, got {self.gap_minutes!r}")
        if self.gap_minutes <= 0:
            raise ValueError(f"gap_minutes must be > 0, got {self.gap_minutes}")
        check_time_zone(self.label_time_zone, "label_time_zone")
        check_time_zone(self.start_time_zone, "start_time_zone")
        if not isinstance(self.split_on_ranked_change, bool):
            raise ValueError(
                f"split_on_ranked_change must be true or false, got {self.split_on_ranked_change!r}"
            )
        object.__setattr__(self, "team_change_mode", check_team_change_mode(self.team_change_mode))
        object.__setattr__(self, "friends_xuids", frozenset(self.friends_xuids))

    @property
    def cuts_on_friends(self) -> bool:
        """Friends mode with friends: only a friend joining or everyone leaving cuts."""
        return self.team_change_mode == TeamChangeMode.FRIENDS and bool(self.friends_xuids)

    @property
    def cuts_on_teammates(self) -> bool:
        """Group mode, or friends mode with no friend: any teammate-set change cuts."""
        return self.team_change_mode != TeamChangeMode.IGNORE and not self.cuts_on_friends


def wall_clock_to_utc(wall: pl.Series, time_zone: str) -> pl.Series:
    """Naive wall-clock times of `time_zone` as naive UTC instants (microseconds).

    An ambiguous time (the autumn hour) takes the earlier instant; a time that does not
    exist (the spring hour) takes the offset in force just before the change: Python's
    `fold=0`. Offsets are constant between transitions, so each row subtracts the offset
    of its stretch of wall clock, found by a sorted search over the few transitions of
    the years spanned: a fraction of converting each row through the zone database.
    """
    wall = wall.cast(pl.Datetime("us"))
    lowest, highest = wall.min(), wall.max()
    if lowest is None:
        return wall
    bounds, offsets = _offset_stretches(time_zone, lowest.year - 1, highest.year + 1)
    micros = wall.dt.epoch("us")
    if not bounds:
        return (micros - offsets[0]).cast(pl.Datetime("us")).alias(wall.name)
    bounds_series = pl.Series(bounds, dtype=pl.Int64)
    if micros.is_sorted() and not micros.has_nulls():
        # Files are mostly synced in time order: each stretch is then a run of rows, found
        # by one search per transition rather than one per row.
        first_rows = micros.search_sorted(bounds_series, side="left").value_counts()
        steps = pl.zeros(len(micros) + 1, dtype=pl.UInt32, eager=True).scatter(
            first_rows[:, 0], first_rows["count"].cast(pl.UInt32)
        )
        stretch = steps.cum_sum().head(len(micros))
    else:
        stretch = bounds_series.search_sorted(micros, side="right")
    shifted = micros - pl.Series(offsets, dtype=pl.Int64).gather(stretch)
    return shifted.cast(pl.Datetime("us")).alias(wall.name)


@lru_cache(maxsize=256)
def _offset_stretches(
    time_zone: str, first_year: int, last_year: int
) -> tuple[list[int], list[int]]:
    """Where (wall clock, epoch µs) each offset stretch of these years starts, and the
    offsets (µs): the wall time `t + max(before, after)` of a transition at instant `t`
    is the first that takes the new offset, which gives `fold=0` on both sides."""
    transitions = [
        t for year in range(first_year, last_year + 1) for t in _transitions(time_zone, year)
    ]
    zone = ZoneInfo(time_zone)
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    offsets = [_offset_micros(zone, start)]
    bounds = []
    for instant, before, after in transitions:
        bounds.append(_epoch_micros(instant) + max(before, after))
        offsets.append(after)
    return bounds, offsets


@lru_cache(maxsize=1024)
def _transitions(time_zone: str, year: int) -> tuple[tuple[datetime, int, int], ...]:
    """The UTC instants of `year` where the zone's offset changes, with the offsets (µs)
    before and after: daily samples, then a bisection to the second of each change."""
    zone = ZoneInfo(time_zone)
    day = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    found = []
    previous = _offset_micros(zone, day)
    while day < end:
        following = day + timedelta(days=1)
        offset = _offset_micros(zone, following)
        if offset != previous:
            low, high = day, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset_micros(zone, middle) == previous:
                    low = middle
                else:
                    high = middle
            found.append((high.replace(tzinfo=None, microsecond=0), previous, offset))
            previous = offset
        day = following
    return tuple(found)


def _offset_micros(zone: ZoneInfo, instant: datetime) -> int:
    return int(instant.astimezone(zone).utcoffset() / timedelta(microseconds=1))


def _epoch_micros(naive_utc: datetime) -> int:
    return int((naive_utc - datetime(1970, 1, 1)) / timedelta(microseconds=1))


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

    A flag per friend in friends mode, the teammate set in group mode, nothing when
    teammates never cut. Each depends on its own row only, so a reader can compute them
    as it reads and let go of the signatures' text; `compute_sessions` uses them when the
    timeline holds them, else computes them.
    """
    if params.cuts_on_friends:
        return _friend_presence(params.friends_xuids)
    if params.cuts_on_teammates:
        return [_teammate_set(pl.col("teammates_signature")).alias(_TEAMMATES)]
    return []


def _break_conditions(
    params: SessionParameters, helpers: list[str], *, has_ranked: bool
) -> list[tuple[str, pl.Expr]]:
    """Each reason a match starts a session, with its test, in order of precedence."""
    previous_start = pl.col("start_time").shift(1)
    gap = (pl.col("start_time") - previous_start) > pl.duration(minutes=params.gap_minutes)
    conditions = [(BreakReason.FIRST, previous_start.is_null()), (BreakReason.GAP, gap)]
    if params.split_on_ranked_change and has_ranked:
        ranked = pl.col(RANKED_COLUMN).fill_null(False)
        conditions.append((BreakReason.RANKED_CHANGED, ranked != ranked.shift(1)))
    if params.cuts_on_friends:
        present = [pl.col(name) for name in helpers]
        any_friend = pl.any_horizontal(present)
        joined = pl.any_horizontal([friend & ~friend.shift(1) for friend in present])
        conditions.append((BreakReason.FRIEND_JOINED, joined))
        conditions.append((BreakReason.WENT_SOLO, ~any_friend & any_friend.shift(1)))
    elif params.cuts_on_teammates:
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
    has_ranked = RANKED_COLUMN in prepared.columns
    if missing:
        if "teammates_signature" not in prepared.columns:
            prepared = prepared.with_columns(teammates_signature=pl.lit(None, pl.String))
        prepared = prepared.with_columns(pl.col("teammates_signature").cast(pl.String))
        prepared = prepared.with_columns(missing)
    return prepared, _break_conditions(params, names, has_ranked=has_ranked), names


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


def describe_parameters(params: SessionParameters, sources: Mapping[str, str]) -> pl.DataFrame:
    """Each rule's value as a person reads it, and where it came from: what the run's
    metadata, `show` and the dashboard list, so they can never tell two stories."""

    def shown(name: str) -> str:
        value = getattr(params, name)
        if name == "friends_xuids":
            return f"{len(value)} friends"
        return str(value).lower() if isinstance(value, bool) else str(value)

    return pl.DataFrame(
        {
            "parameter": list(PARAMETER_NAMES),
            "value": [shown(name) for name in PARAMETER_NAMES],
            "from": [sources.get(name, "?") for name in PARAMETER_NAMES],
        }
    )
