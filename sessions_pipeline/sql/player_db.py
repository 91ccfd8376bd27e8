"""The SQL of a player file's sessions: reading the timeline, writing sessions, parameters.

Only `match_stats.session_id` / `session_label` and our own parameters table are ever
written; every other column and table of a LevelUp file is left alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from sessions_pipeline.errors import PlayerFileError
from sessions_pipeline.rules import SessionParameters, in_timeline_order

PARAMETERS_TABLE = "sessions_pipeline_parameters"
SCAN_POSITION = "scan_position"
"""A row's position in a scan of the whole table, in a read that asks for it: where
`read_signatures_of` finds the row again."""
_CHANGES_VIEW = "sessions_pipeline_changes"


@dataclass(frozen=True)
class TimelineRead:
    """Matches with a start time, plus what was left out so it can be reported."""

    frame: pl.DataFrame
    null_start_times: int
    null_match_ids: int
    has_signatures: bool


@dataclass(frozen=True)
class RecordedParameters:
    """What produced the stored values, so readers and drift checks replay exactly that."""

    params: SessionParameters
    stability_hours: float
    stored_at: datetime


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


def _utc_start_time(columns: dict[str, str]) -> str:
    """A TIMESTAMPTZ is read as its instant in UTC, never through the session's TimeZone."""
    if columns["start_time"].upper().startswith("TIMESTAMP WITH TIME ZONE"):
        return "timezone('UTC', start_time)"
    return "CAST(start_time AS TIMESTAMP)"


def _stored_id(columns: dict[str, str]) -> str:
    """A pre-existing VARCHAR id holds decimal text; anything unreadable counts as unstored."""
    if "session_id" not in columns:
        return "CAST(NULL AS BIGINT)"
    return "TRY_CAST(session_id AS BIGINT)"


def read_timeline(
    con: duckdb.DuckDBPyConnection,
    *,
    with_signatures: bool = True,
    with_stored: bool = True,
    since: datetime | None = None,
    teammates: Sequence[pl.Expr] = (),
    with_scan_positions: bool = False,
) -> TimelineRead:
    """Matches in `(start_time, match_id)` order with their stored session values.

    `since` limits the read to matches starting at or after that UTC instant, so the
    reader only pays for the signatures of the window it recomputes (the null counts are
    then those of that range: none of its start times is NULL). Without `with_stored`
    there are no stored values: for a file known to hold none, they are not scanned.
    `teammates` are columns computed from the signatures as they are read, which then
    replace them (`rules.teammate_columns`): a whole read takes the signatures in a pass of
    their own first, so their text is gone before the rest is read, halving peak memory.
    `with_scan_positions` adds each row's `SCAN_POSITION` (a whole read only).
    """
    if with_scan_positions and since is not None:
        raise ValueError("scan positions are those of a whole read, not of one since a time")
    columns = match_stats_columns(con)
    start = _utc_start_time(columns)
    has_signatures = "teammates_signature" in columns
    signature = "CAST(teammates_signature AS VARCHAR)" if has_signatures else "NULL"
    label = "CAST(session_label AS VARCHAR)" if "session_label" in columns else "NULL"
    where, params = ("", []) if since is None else (f" WHERE {start} >= ?", [since])
    selected = ["CAST(match_id AS VARCHAR) AS match_id", f"{start} AS start_time"]
    if with_stored:
        selected += [
            f"{_stored_id(columns)} AS stored_session_id",
            f"{label} AS stored_session_label",
        ]
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
    return TimelineRead(
        frame=in_timeline_order(frame),
        null_start_times=null_start_times,
        null_match_ids=null_match_ids,
        has_signatures=has_signatures,
    )


def read_signatures_of(con: duckdb.DuckDBPyConnection, positions: pl.Series) -> pl.Series:
    """The `teammates_signature` of these rows (by `SCAN_POSITION`), in their order.

    One scan of the column alone, then a gather: for a few thousand rows of a big file,
    cheaper than filtering the scan on them (a join in DuckDB), and far cheaper than
    carrying every row's signature through the read and the rules. Scans of a table
    return its rows in one order (DuckDB preserves insertion order); the file must not
    have changed since the read that gave the positions (same open).
    """
    if "teammates_signature" not in match_stats_columns(con):
        return pl.repeat(None, len(positions), dtype=pl.String, eager=True)
    scanned = _query(
        con, "SELECT CAST(teammates_signature AS VARCHAR) AS teammates_signature FROM match_stats"
    )
    return scanned["teammates_signature"].gather(positions)


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
    stored_id = _stored_id(match_stats_columns(con))
    [(matches, sessions)] = con.sql(
        f"SELECT count({stored_id}), count(DISTINCT {stored_id}) FROM match_stats "
        "WHERE start_time IS NOT NULL"
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


def read_recorded_parameters(con: duckdb.DuckDBPyConnection) -> RecordedParameters | None:
    """The parameters of the latest store that changed the file, if any.

    On a fresh connection, listing the catalog (`duckdb_tables()`) or sorting costs more
    than reading the table: it has one row per store that changed the file, so it is read
    whole and the newest row (by `stored_at`, then insertion) picked here; a missing table
    is found by binding the query (`con.sql` binds before running: a missing table does
    not abort the store's transaction, as a failed `execute` would).
    """
    try:
        rows = con.sql(
            "SELECT stored_at, rowid, gap_minutes, friends_xuids, label_time_zone, "
            f"stability_hours FROM {PARAMETERS_TABLE} WHERE stored_at IS NOT NULL"
        ).fetchall()
    except duckdb.CatalogException:
        return None
    if not rows:
        return None
    stored_at, _, gap_minutes, friends_json, label_time_zone, stability_hours = max(rows)
    return RecordedParameters(
        params=SessionParameters(
            gap_minutes=gap_minutes,
            friends_xuids=frozenset(json.loads(friends_json)),
            label_time_zone=label_time_zone,
        ),
        stability_hours=stability_hours,
        stored_at=stored_at,
    )


def record_parameters(
    con: duckdb.DuckDBPyConnection,
    recorded: RecordedParameters,
    *,
    forced: bool,
    include_recent: bool,
    rows_written: int,
) -> None:
    """Append the parameters of this store; the newest row is the one readers replay."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {PARAMETERS_TABLE} ("
        "stored_at TIMESTAMP, gap_minutes INTEGER, friends_xuids VARCHAR, "
        "label_time_zone VARCHAR, stability_hours DOUBLE, forced BOOLEAN, "
        "include_recent BOOLEAN, rows_written BIGINT)"
    )
    params = recorded.params
    con.execute(
        f"INSERT INTO {PARAMETERS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            recorded.stored_at,
            params.gap_minutes,
            json.dumps(sorted(params.friends_xuids)),
            params.label_time_zone,
            recorded.stability_hours,
            forced,
            include_recent,
            rows_written,
        ],
    )
