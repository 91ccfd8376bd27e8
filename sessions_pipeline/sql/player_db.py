"""The SQL of a player file's sessions: reading the timeline, writing sessions, parameters.

Only `match_stats.session_id` / `session_label` and our own parameters table are ever
written; every other column and table of a LevelUp file is left alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import polars as pl

from sessions_pipeline.errors import PlayerFileError
from sessions_pipeline.rules import (
    RANKED_COLUMN,
    SessionParameters,
    in_timeline_order,
    wall_clock_to_utc,
)

PARAMETERS_TABLE = "sessions_pipeline_parameters"
SCAN_POSITION = "scan_position"
"""A row's position in a scan of the whole table, in a read that asks for it: where
`read_rule_columns_of` finds the row again."""
_CHANGES_VIEW = "sessions_pipeline_changes"
UTC_START_COLUMN = "start_time_utc"
"""LevelUp v7's instant beside the naive wall-clock `start_time`; where set, it wins."""
_WIDEST_UTC_OFFSET = "INTERVAL 27 HOUR"
"""More than any zone's offset from UTC: a wall-clock bound this much earlier than an
instant keeps every row whose instant may be at or after it."""
LEGACY_START_TIME_ZONE = "UTC"
"""What a store recorded before the start-time zone was a parameter read naive times as."""


@dataclass(frozen=True)
class TimelineRead:
    """Matches with a start time, plus what was left out so it can be reported."""

    frame: pl.DataFrame
    null_start_times: int
    null_match_ids: int
    has_signatures: bool
    has_ranked: bool = False


@dataclass(frozen=True)
class RecordedParameters:
    """What produced the stored values, so readers and drift checks replay exactly that."""

    params: SessionParameters
    stability_hours: float
    stored_at: datetime
    sources: dict[str, str] | None = field(default=None, compare=False)
    """Where each value came from when it was stored (`run config`, `settings file ...`,
    `default`...); None for a store by older code, which recorded no sources."""


def match_stats_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Column name -> type of `match_stats`; a file without it is not a player file.

    Read from the binding of the table the queries use (no catalog query to run).
    """
    try:
        table = con.table("match_stats")
    except duckdb.CatalogException:
        raise PlayerFileError(
            "the file has no match_stats table: not a LevelUp player file"
        ) from None
    columns = dict(zip(table.columns, map(str, table.types), strict=True))
    for required in ("match_id", "start_time"):
        if required not in columns:
            raise PlayerFileError(f"match_stats has no {required} column")
    return columns


def _is_aware(sql_type: str) -> bool:
    return sql_type.upper().startswith("TIMESTAMP WITH TIME ZONE")


def _as_utc(column: str, sql_type: str) -> str:
    """A TIMESTAMPTZ is read as its instant in UTC, never through the session's TimeZone."""
    if _is_aware(sql_type):
        return f"timezone('UTC', {column})"
    return f"CAST({column} AS TIMESTAMP)"


def _stored_id(columns: dict[str, str]) -> str:
    """A pre-existing VARCHAR id holds decimal text; anything unreadable counts as unstored."""
    if "session_id" not in columns:
        return "CAST(NULL AS BIGINT)"
    return "TRY_CAST(session_id AS BIGINT)"


def read_timeline(
    con: duckdb.DuckDBPyConnection,
    *,
    start_time_zone: str,
    with_signatures: bool = True,
    with_stored: bool = True,
    with_ranked: bool = False,
    since: datetime | None = None,
    teammates: Sequence[pl.Expr] = (),
    with_scan_positions: bool = False,
) -> TimelineRead:
    """Matches in `(start instant, match_id)` order with their stored session values.

    `start_time` comes out as the naive UTC instant: a naive `start_time` is wall clock in
    `start_time_zone` (LevelUp's sync writes the machine's wall clock), a TIMESTAMPTZ or a
    non-NULL `start_time_utc` beside it is the instant itself. `since` limits the read to
    matches starting at or after that instant, so the reader only pays for the signatures
    of the window it recomputes (the null counts are then those of that range). Without
    `with_stored` there are no stored values: for a file known to hold none, they are not
    scanned. `with_ranked` adds `is_ranked` where the file has it (`has_ranked` says).
    `teammates` are columns computed from the signatures as they are read, which then
    replace them (`rules.teammate_columns`): a whole read takes the signatures in a pass of
    their own first, so their text is gone before the rest is read, halving peak memory.
    `with_scan_positions` adds each row's `SCAN_POSITION` (a whole read only).
    """
    if with_scan_positions and since is not None:
        raise ValueError("scan positions are those of a whole read, not of one since a time")
    columns = match_stats_columns(con)
    start_type = columns["start_time"]
    has_utc = UTC_START_COLUMN in columns
    has_signatures = "teammates_signature" in columns
    has_ranked = with_ranked and RANKED_COLUMN in columns
    signature = "CAST(teammates_signature AS VARCHAR)" if has_signatures else "NULL"
    label = "CAST(session_label AS VARCHAR)" if "session_label" in columns else "NULL"
    selected = [
        "CAST(match_id AS VARCHAR) AS match_id",
        f"{_as_utc('start_time', start_type)} AS start_time",
    ]
    if has_utc:
        selected.append(f"{_as_utc(UTC_START_COLUMN, columns[UTC_START_COLUMN])} AS __utc")
    if has_ranked:
        selected.append(f"CAST({RANKED_COLUMN} AS BOOLEAN) AS {RANKED_COLUMN}")
    if with_stored:
        selected += [
            f"{_stored_id(columns)} AS stored_session_id",
            f"{label} AS stored_session_label",
        ]
    where, params = _since_filter(since, start_type, columns.get(UTC_START_COLUMN))
    in_own_pass = bool(teammates) and since is None
    if in_own_pass:
        # Two scans of one table with no ORDER BY return its rows in the same order: DuckDB
        # preserves insertion order, and nobody writes while this connection is open.
        computed = _typed(
            _query(con, f"SELECT {signature} AS teammates_signature FROM match_stats")
        ).select(teammates)
    elif with_signatures or teammates:
        selected.append(f"{signature} AS teammates_signature")
    # Sorted and filtered in Polars, where both cost less than in the query; the null
    # counts come free from the frame instead of from a second scan.
    frame = _typed(_query(con, f"SELECT {', '.join(selected)} FROM match_stats{where}", params))
    frame = _with_instants(frame, start_time_zone, aware=_is_aware(start_type))
    if with_scan_positions:
        frame = frame.with_row_index(SCAN_POSITION)
    if in_own_pass:
        frame = frame.hstack(computed)
    elif teammates:
        frame = frame.with_columns(teammates).drop("teammates_signature")
    null_start_times = frame["start_time"].null_count()
    null_match_ids = frame["match_id"].null_count()
    if null_start_times or null_match_ids:
        frame = frame.drop_nulls(["match_id", "start_time"])
    if since is not None:
        frame = frame.filter(pl.col("start_time") >= since)
    return TimelineRead(
        frame=in_timeline_order(frame),
        null_start_times=null_start_times,
        null_match_ids=null_match_ids,
        has_signatures=has_signatures,
        has_ranked=has_ranked,
    )


def _since_filter(
    since: datetime | None, start_type: str, utc_type: str | None
) -> tuple[str, list[object]]:
    """A WHERE keeping every row whose instant may be at or after `since` (a few more for a
    wall-clock column: the exact cut is made on the instants, once they are known)."""
    if since is None:
        return "", []
    if _is_aware(start_type):
        condition, params = "timezone('UTC', start_time) >= ?", [since]
    else:
        condition, params = f"start_time >= CAST(? AS TIMESTAMP) - {_WIDEST_UTC_OFFSET}", [since]
    if utc_type is not None:
        condition = f"({condition} OR {_as_utc(UTC_START_COLUMN, utc_type)} >= ?)"
        params.append(since)
    return f" WHERE {condition}", params


def _with_instants(frame: pl.DataFrame, start_time_zone: str, *, aware: bool) -> pl.DataFrame:
    """`start_time` as the naive UTC instant of each match (see `read_timeline`)."""
    starts = frame["start_time"]
    if not aware and start_time_zone != LEGACY_START_TIME_ZONE:
        starts = wall_clock_to_utc(starts, start_time_zone)
    if "__utc" in frame.columns:
        utc = frame["__utc"]
        starts = utc.fill_null(starts) if utc.has_nulls() else utc.alias("start_time")
        frame = frame.drop("__utc")
    return frame.with_columns(starts.alias("start_time"))


def read_rule_columns_of(
    con: duckdb.DuckDBPyConnection, positions: pl.Series, *, with_ranked: bool = False
) -> pl.DataFrame:
    """The `teammates_signature` (and `is_ranked`) of these rows (by `SCAN_POSITION`).

    One scan of the columns alone, then a gather: for a few thousand rows of a big file,
    cheaper than filtering the scan on them (a join in DuckDB), and far cheaper than
    carrying every row's signature through the read and the rules. Scans of a table
    return its rows in one order (DuckDB preserves insertion order); the file must not
    have changed since the read that gave the positions (same open).
    """
    columns = match_stats_columns(con)
    selected = [
        "CAST(teammates_signature AS VARCHAR) AS teammates_signature"
        if "teammates_signature" in columns
        else "CAST(NULL AS VARCHAR) AS teammates_signature"
    ]
    if with_ranked and RANKED_COLUMN in columns:
        selected.append(f"CAST({RANKED_COLUMN} AS BOOLEAN) AS {RANKED_COLUMN}")
    scanned = _query(con, f"SELECT {', '.join(selected)} FROM match_stats")
    return scanned[positions]


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """Rows into Polars through the Arrow C stream: less memory than `.pl()` for the same rows."""
    return pl.DataFrame(con.sql(sql, params=params))


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    """The types the rules expect; a column already of its type is left alone."""
    schema = {
        "match_id": pl.String,
        "start_time": pl.Datetime("us"),
        "stored_session_id": pl.Int64,
        "stored_session_label": pl.String,
        "teammates_signature": pl.String,
    }
    casts = [
        pl.col(name).cast(dtype)
        for name, dtype in schema.items()
        if name in frame.columns and frame.schema[name] != dtype
    ]
    return frame.with_columns(casts) if casts else frame


def refuse_duplicate_match_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Sessions are written by match_id: two rows sharing one would get one value for both."""
    duplicates = con.sql(
        "SELECT match_id, count(*) FROM match_stats WHERE match_id IS NOT NULL "
        "GROUP BY match_id HAVING count(*) > 1 ORDER BY match_id LIMIT 3"
    ).fetchall()
    if duplicates:
        examples = ", ".join(f"{match_id!r} x{count}" for match_id, count in duplicates)
        raise PlayerFileError(
            f"match_stats holds duplicate match_id rows ({examples}); remove the duplicates "
            "(the sync should keep one row per match) and run again — nothing was written"
        )


def has_stored_sessions(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any row holds a readable stored session id (stops at the first one)."""
    stored_id = _stored_id(match_stats_columns(con))
    [(found,)] = con.sql(
        f"SELECT EXISTS (SELECT 1 FROM match_stats WHERE {stored_id} IS NOT NULL)"
    ).fetchall()
    return found


def count_stored(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Matches (with a start time) holding a stored session id, and the sessions they form."""
    columns = match_stats_columns(con)
    stored_id = _stored_id(columns)
    has_start = "start_time IS NOT NULL"
    if UTC_START_COLUMN in columns:
        has_start += f" OR {UTC_START_COLUMN} IS NOT NULL"
    [(matches, sessions)] = con.sql(
        f"SELECT count({stored_id}), count(DISTINCT {stored_id}) FROM match_stats WHERE {has_start}"
    ).fetchall()
    return matches, sessions


def ensure_session_columns(con: duckdb.DuckDBPyConnection) -> bool:
    """Add the session columns when missing (never retype: v4 files have a VARCHAR id).

    Returns whether `session_id` holds text, which decides how ids are written.
    """
    con.execute("ALTER TABLE match_stats ADD COLUMN IF NOT EXISTS session_id INTEGER")
    con.execute("ALTER TABLE match_stats ADD COLUMN IF NOT EXISTS session_label VARCHAR")
    session_id_type = match_stats_columns(con)["session_id"].upper()
    return session_id_type in {"VARCHAR", "TEXT", "STRING"}


def write_session_values(
    con: duckdb.DuckDBPyConnection, changes: pl.DataFrame, *, session_id_is_text: bool
) -> None:
    """One set-based UPDATE for every changed row (`match_id`, `session_id`, `session_label`)."""
    if changes.is_empty():
        return
    new_id = "CAST(c.session_id AS VARCHAR)" if session_id_is_text else "c.session_id"
    con.register(_CHANGES_VIEW, changes.select("match_id", "session_id", "session_label"))
    try:
        con.execute(
            f"UPDATE match_stats SET session_id = {new_id}, session_label = c.session_label "
            f"FROM {_CHANGES_VIEW} AS c WHERE match_stats.match_id = c.match_id"
        )
    finally:
        con.unregister(_CHANGES_VIEW)


_RECORDED_COLUMNS = {
    "stored_at": "TIMESTAMP",
    "gap_minutes": "INTEGER",
    "friends_xuids": "VARCHAR",
    "label_time_zone": "VARCHAR",
    "stability_hours": "DOUBLE",
    "forced": "BOOLEAN",
    "include_recent": "BOOLEAN",
    "rows_written": "BIGINT",
    # Added with the start-time zone; NULL in rows stored by older code.
    "start_time_zone": "VARCHAR",
    "split_on_ranked_change": "BOOLEAN",
    "team_change_mode": "VARCHAR",
    "sources": "VARCHAR",
}
_IMPLIED_BY_OLDER_CODE = {
    "start_time_zone": LEGACY_START_TIME_ZONE,
    "split_on_ranked_change": False,
    "team_change_mode": "friends",
}
"""What a row stored before a parameter existed was computed with (DESIGN: start-time zone
`UTC`, no ranked split, team mode `friends`)."""


def read_recorded_parameters(con: duckdb.DuckDBPyConnection) -> RecordedParameters | None:
    """The parameters of the latest store that changed the file, if any.

    On a fresh connection, listing the catalog (`duckdb_tables()`) or sorting costs more
    than reading the table: it has one row per store that changed the file, so it is read
    whole and the newest row (by `stored_at`, then insertion) picked here; a missing table
    is found by binding it (`con.table` binds: a missing table does not abort the store's
    transaction, as a failed `execute` would). A column older code did not write reads as
    the value that code used.
    """
    try:
        present = set(con.table(PARAMETERS_TABLE).columns)
    except duckdb.CatalogException:
        return None
    names = [name for name in _RECORDED_COLUMNS if name not in ("forced", "include_recent")]
    present.add("rowid")  # a table's pseudo-column: insertion order breaks `stored_at` ties
    selected = ", ".join(
        name if name in present else f"NULL AS {name}"
        for name in ["stored_at", "rowid", *names[1:]]
    )
    rows = con.sql(
        f"SELECT {selected} FROM {PARAMETERS_TABLE} WHERE stored_at IS NOT NULL"
    ).fetchall()
    if not rows:
        return None
    newest = dict(zip(["stored_at", "rowid", *names[1:]], max(rows), strict=True))
    for name, implied in _IMPLIED_BY_OLDER_CODE.items():
        if newest[name] is None:
            newest[name] = implied
    return RecordedParameters(
        params=SessionParameters(
            gap_minutes=newest["gap_minutes"],
            friends_xuids=frozenset(json.loads(newest["friends_xuids"])),
            label_time_zone=newest["label_time_zone"],
            start_time_zone=newest["start_time_zone"],
            split_on_ranked_change=newest["split_on_ranked_change"],
            team_change_mode=newest["team_change_mode"],
        ),
        stability_hours=newest["stability_hours"],
        stored_at=newest["stored_at"],
        sources=None if newest["sources"] is None else json.loads(newest["sources"]),
    )


def record_parameters(
    con: duckdb.DuckDBPyConnection,
    recorded: RecordedParameters,
    *,
    forced: bool,
    include_recent: bool,
    rows_written: int,
) -> None:
    """Append the parameters of this store; the newest row is the one readers replay.

    A table made by older code gains the newer columns (never retyped or dropped).
    """
    definitions = ", ".join(f"{name} {sql_type}" for name, sql_type in _RECORDED_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {PARAMETERS_TABLE} ({definitions})")
    present = set(con.table(PARAMETERS_TABLE).columns)
    for name, sql_type in _RECORDED_COLUMNS.items():
        if name not in present:
            con.execute(f"ALTER TABLE {PARAMETERS_TABLE} ADD COLUMN {name} {sql_type}")
    params = recorded.params
    values = {
        "stored_at": recorded.stored_at,
        "gap_minutes": params.gap_minutes,
        "friends_xuids": json.dumps(sorted(params.friends_xuids)),
        "label_time_zone": params.label_time_zone,
        "stability_hours": recorded.stability_hours,
        "forced": forced,
        "include_recent": include_recent,
        "rows_written": rows_written,
        "start_time_zone": params.start_time_zone,
        "split_on_ranked_change": params.split_on_ranked_change,
        "team_change_mode": params.team_change_mode.value,
        "sources": json.dumps(recorded.sources or {}, sort_keys=True),
    }
    con.execute(
        f"INSERT INTO {PARAMETERS_TABLE} ({', '.join(values)}) "
        f"VALUES ({', '.join('?' for _ in values)})",
        list(values.values()),
    )
