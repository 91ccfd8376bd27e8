"""The SQL of a player file's sessions: reading the timeline, writing sessions, parameters.

Reads scan the file's timeline (`PlayerFile.relation`: `match_stats`, or a v5+ player's
joined matches). Only `session_id` / `session_label` (of `match_stats`, or of
`player_match_enrichment`) and our own parameters table are ever written; every other
column and table of a LevelUp file is left alone, and the warehouse is never written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import polars as pl

from sessions_pipeline.errors import PlayerFileError
from sessions_pipeline.levelup.sql.player_file import PlayerFile
from sessions_pipeline.rules.sessions import (
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
    layout: str = "v4"
    orphan_enrichment_rows: int = 0


@dataclass(frozen=True)
class RecordedParameters:
    """What produced the stored values, so readers and drift checks replay exactly that."""

    params: SessionParameters
    stability_hours: float
    stored_at: datetime
    sources: dict[str, str] | None = field(default=None, compare=False)
    """Where each value came from when it was stored (`run config`, `settings file ...`,
    `default`...); None for a store by older code, which recorded no sources."""


def timeline_columns(file: PlayerFile) -> dict[str, str]:
    """Column name -> type of the timeline the reads scan (from its binding: no catalog
    query to run); one without a match id or a start time cannot be read."""
    table = file.con.table(file.relation)
    columns = dict(zip(table.columns, map(str, table.types), strict=True))
    for required in ("match_id", "start_time"):
        if required not in columns:
            raise PlayerFileError(f"{file.relation} has no {required} column")
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
    file: PlayerFile,
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
    con, relation = file.con, file.relation
    columns = timeline_columns(file)
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
            _query(con, f"SELECT {signature} AS teammates_signature FROM {relation}")
        ).select(teammates)
    elif with_signatures or teammates:
        selected.append(f"{signature} AS teammates_signature")
    # Sorted and filtered in Polars, where both cost less than in the query; the null
    # counts come free from the frame instead of from a second scan.
    frame = _typed(_query(con, f"SELECT {', '.join(selected)} FROM {relation}{where}", params))
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
        layout=file.layout,
        orphan_enrichment_rows=file.orphan_enrichment_rows,
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
    file: PlayerFile, positions: pl.Series, *, with_ranked: bool = False
) -> pl.DataFrame:
    """The `teammates_signature` (and `is_ranked`) of these rows (by `SCAN_POSITION`).

    One scan of the columns alone, then a gather: for a few thousand rows of a big file,
    cheaper than filtering the scan on them (a join in DuckDB), and far cheaper than
    carrying every row's signature through the read and the rules. Scans of a table
    return its rows in one order (DuckDB preserves insertion order); the file must not
    have changed since the read that gave the positions (same open).
    """
    columns = timeline_columns(file)
    selected = [
        "CAST(teammates_signature AS VARCHAR) AS teammates_signature"
        if "teammates_signature" in columns
        else "CAST(NULL AS VARCHAR) AS teammates_signature"
    ]
    if with_ranked and RANKED_COLUMN in columns:
        selected.append(f"CAST({RANKED_COLUMN} AS BOOLEAN) AS {RANKED_COLUMN}")
    scanned = _query(file.con, f"SELECT {', '.join(selected)} FROM {file.relation}")
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


def refuse_duplicate_match_ids(file: PlayerFile) -> None:
    """Sessions are written by match_id: two rows sharing one would get one value for both."""
    duplicates = file.con.sql(
        f"SELECT match_id, count(*) FROM {file.relation} WHERE match_id IS NOT NULL "
        "GROUP BY match_id HAVING count(*) > 1 ORDER BY match_id LIMIT 3"
    ).fetchall()
    if duplicates:
        examples = ", ".join(f"{match_id!r} x{count}" for match_id, count in duplicates)
        raise PlayerFileError(
            f"{file.written_table} holds duplicate match_id rows ({examples}); remove the "
            "duplicates (the sync should keep one row per match) and run again — nothing "
            "was written"
        )


def has_stored_sessions(file: PlayerFile) -> bool:
    """Whether any row holds a readable stored session id (stops at the first one)."""
    stored_id = _stored_id(timeline_columns(file))
    [(found,)] = file.con.sql(
        f"SELECT EXISTS (SELECT 1 FROM {file.relation} WHERE {stored_id} IS NOT NULL)"
    ).fetchall()
    return found


def count_stored(file: PlayerFile) -> tuple[int, int]:
    """Matches (with a start time) holding a stored session id, and the sessions they form."""
    columns = timeline_columns(file)
    stored_id = _stored_id(columns)
    has_start = "start_time IS NOT NULL"
    if UTC_START_COLUMN in columns:
        has_start += f" OR {UTC_START_COLUMN} IS NOT NULL"
    [(matches, sessions)] = file.con.sql(
        f"SELECT count({stored_id}), count(DISTINCT {stored_id}) FROM {file.relation} "
        f"WHERE {has_start}"
    ).fetchall()
    return matches, sessions


def ensure_session_columns(file: PlayerFile) -> bool:
    """Add the session columns when missing (never retype: v4 files have a VARCHAR id).

    Returns whether `session_id` holds text, which decides how ids are written (v5+
    always: LevelUp declares it VARCHAR).
    """
    table, id_type = file.written_table, "INTEGER" if file.is_v4 else "VARCHAR"
    con = file.con
    con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS session_id {id_type}")
    con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS session_label VARCHAR")
    written = con.table(table)
    session_id_type = str(written.types[written.columns.index("session_id")])
    return session_id_type.upper() in {"VARCHAR", "TEXT", "STRING"}


def write_session_values(
    file: PlayerFile, changes: pl.DataFrame, *, session_id_is_text: bool
) -> None:
    """Set-based writes of every changed row (`match_id`, `session_id`, `session_label`).

    v4: one UPDATE of `match_stats`. v5+: one UPDATE of the enrichment rows there are,
    and one INSERT of those a stable match lacks (their other columns take their
    defaults); no other column of an existing row is touched.
    """
    if changes.is_empty():
        return
    con, table = file.con, file.written_table
    new_id = "CAST(c.session_id AS VARCHAR)" if session_id_is_text else "c.session_id"
    con.register(_CHANGES_VIEW, changes.select("match_id", "session_id", "session_label"))
    try:
        con.execute(
            f"UPDATE {table} SET session_id = {new_id}, session_label = c.session_label "
            f"FROM {_CHANGES_VIEW} AS c WHERE {table}.match_id = c.match_id"
        )
        if not file.is_v4:
            con.execute(
                f"INSERT INTO {table} (match_id, session_id, session_label) "
                f"SELECT c.match_id, {new_id}, c.session_label FROM {_CHANGES_VIEW} AS c "
                f"WHERE c.match_id NOT IN (SELECT match_id FROM {table})"
            )
    finally:
        con.unregister(_CHANGES_VIEW)


SESSION_SUMMARIES = "mv_session_stats"
_SUMMARY_COLUMNS = (
    "session_id, match_count, start_time, end_time, total_kills, total_deaths, "
    "total_assists, kd_ratio, win_rate, avg_accuracy, avg_life_seconds, updated_at"
)


def refresh_session_summaries(file: PlayerFile, shared: str, changes: pl.DataFrame) -> int:
    """Rebuild LevelUp's per-session summaries of the sessions a store changed.

    LevelUp's pages read `mv_session_stats`, which its sync refreshes after a sync, not
    after a sessions backfill (`src/data/repositories/_materialized_views.py`), so the
    rows of every session id a store moved a match from or to are deleted and rebuilt
    here, in the store's transaction, with LevelUp's own query (`_SESSION_STATS_INSERT_SQL`,
    against the warehouse attached as `shared`). Returns the sessions rebuilt.
    """
    con = file.con
    if changes.is_empty():
        return 0
    touched = (
        pl.concat([changes["stored_session_id"], changes["session_id"]])
        .drop_nulls()
        .unique()
        .cast(pl.String)
        .to_list()
    )
    participants = _columns_of(con, f"{shared}.match_participants") or {}
    accuracy, life = (
        f"AVG(mp.{name})" if name in participants else "NULL"
        for name in ("accuracy", "avg_life_seconds")
    )
    con.execute(
        f"DELETE FROM {SESSION_SUMMARIES} WHERE session_id IN (SELECT unnest($ids))",
        {"ids": touched},
    )
    con.execute(
        f"""
        INSERT INTO {SESSION_SUMMARIES} ({_SUMMARY_COLUMNS})
        SELECT pme.session_id, COUNT(*), MIN(mr.start_time), MAX(mr.start_time),
               SUM(mp.kills), SUM(mp.deaths), SUM(mp.assists),
               CASE WHEN SUM(mp.deaths) > 0 THEN CAST(SUM(mp.kills) AS DOUBLE) / SUM(mp.deaths)
                    ELSE SUM(mp.kills) END,
               CASE WHEN COUNT(*) > 0
                    THEN SUM(CASE WHEN mp.outcome = 2 THEN 1.0 ELSE 0.0 END) / COUNT(*)
                    ELSE 0 END,
               {accuracy}, {life}, CURRENT_TIMESTAMP
        FROM player_match_enrichment AS pme
        JOIN {shared}.match_participants AS mp
          ON mp.match_id = pme.match_id AND mp.xuid = $xuid
        JOIN {shared}.match_registry AS mr ON mr.match_id = pme.match_id
        WHERE pme.session_id IN (SELECT unnest($ids))
        GROUP BY pme.session_id
        """,
        {"ids": touched, "xuid": file.player_xuid},
    )
    return len(touched)


def has_session_summaries(file: PlayerFile) -> bool:
    """Whether the player file has LevelUp's `mv_session_stats` (v5+ files made by its sync)."""
    return _columns_of(file.con, SESSION_SUMMARIES) is not None


def _columns_of(con: duckdb.DuckDBPyConnection, table: str) -> set[str] | None:
    try:
        return set(con.table(table).columns)
    except duckdb.CatalogException:
        return None


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
