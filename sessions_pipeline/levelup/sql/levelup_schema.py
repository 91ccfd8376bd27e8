"""The tables of LevelUp's files, as its sync creates them: a v4 player file, and from v5 on
the shared warehouse (`match_registry`, `match_participants`, `xuid_aliases`) beside a player
file holding only the player's own rows (`player_match_enrichment`, `sync_meta`,
`mv_session_stats`).

The pipeline never creates these tables in a real file: the demo and the tests do, so that
what they exercise is shaped like what users have on disk (a primary key or not, a VARCHAR
`session_id`, a sync-created `match_stats` with no session columns at all, a warehouse with
or without `is_ranked` or `start_time_utc`). A column spec is (name, type), the type
followed by LevelUp's NOT NULL or DEFAULT when it declares one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from itertools import count
from typing import Literal

import duckdb
import polars as pl

SchemaKind = Literal["v4", "sync"]
WarehouseLayout = Literal["v5", "v6", "v7"]

MATCH_STATS_V4_COLUMNS: tuple[tuple[str, str], ...] = (
    ("match_id", "VARCHAR"),
    ("start_time", "TIMESTAMP"),
    ("end_time", "TIMESTAMP"),
    ("playlist_id", "VARCHAR"),
    ("playlist_name", "VARCHAR"),
    ("map_id", "VARCHAR"),
    ("map_name", "VARCHAR"),
    ("game_variant_name", "VARCHAR"),
    ("mode_category", "VARCHAR"),
    ("is_ranked", "BOOLEAN"),
    ("outcome", "INTEGER"),
    ("team_id", "INTEGER"),
    ("rank", "INTEGER"),
    ("kills", "INTEGER"),
    ("deaths", "INTEGER"),
    ("assists", "INTEGER"),
    ("kda", "DOUBLE"),
    ("accuracy", "DOUBLE"),
    ("headshot_kills", "INTEGER"),
    ("max_killing_spree", "INTEGER"),
    ("medal_count", "INTEGER"),
    ("personal_score", "INTEGER"),
    ("damage_dealt", "DOUBLE"),
    ("damage_taken", "DOUBLE"),
    ("shots_fired", "INTEGER"),
    ("shots_hit", "INTEGER"),
    ("time_played_seconds", "DOUBLE"),
    ("avg_life_seconds", "DOUBLE"),
    ("my_team_score", "INTEGER"),
    ("enemy_team_score", "INTEGER"),
    ("team_mmr", "DOUBLE"),
    ("enemy_mmr", "DOUBLE"),
    ("teammates_signature", "VARCHAR"),
    ("session_id", "VARCHAR"),
    ("session_label", "VARCHAR"),
    ("updated_at", "TIMESTAMP"),
)
"""`match_stats` of LevelUp v4; `outcome` uses the Halo API codes (1 tie, 2 win, 3 loss, 4 left)."""

SYNC_MATCH_STATS_COLUMN_NAMES: tuple[str, ...] = (
    "match_id",
    "start_time",
    "playlist_name",
    "map_name",
    "game_variant_name",
    "outcome",
    "team_id",
    "kills",
    "deaths",
    "assists",
    "accuracy",
    "time_played_seconds",
    "teammates_signature",
)
"""The `match_stats` a fresh sync creates before any migration: no session columns."""

XUID_ALIASES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("xuid", "VARCHAR"),
    ("gamertag", "VARCHAR"),
    ("last_seen", "TIMESTAMP"),
    ("source", "VARCHAR"),
    ("updated_at", "TIMESTAMP"),
)

MATCH_PARTICIPANTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("match_id", "VARCHAR"),
    ("xuid", "VARCHAR"),
    ("gamertag", "VARCHAR"),
    ("team_id", "INTEGER"),
    ("outcome", "INTEGER"),
    ("rank", "INTEGER"),
    ("kills", "INTEGER"),
    ("deaths", "INTEGER"),
    ("assists", "INTEGER"),
    ("personal_score", "INTEGER"),
)

TEAMMATES_AGGREGATE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("teammate_xuid", "VARCHAR"),
    ("teammate_gamertag", "VARCHAR"),
    ("matches_together", "INTEGER"),
    ("same_team_count", "INTEGER"),
    ("opposite_team_count", "INTEGER"),
    ("wins_together", "INTEGER"),
    ("losses_together", "INTEGER"),
    ("first_played", "TIMESTAMP"),
    ("last_played", "TIMESTAMP"),
    ("computed_at", "TIMESTAMP"),
)

SHARED_MATCHES_DB_NAME = "shared_matches_v2.duckdb"
"""The warehouse's file name from v6 on (LevelUp src/utils/paths.py SHARED_MATCHES_DB_FILENAME);
v5 named it `shared_matches.duckdb`. It lives in `<data>/warehouse/`, beside `<data>/players/`."""

MATCH_REGISTRY_V6_COLUMNS: tuple[tuple[str, str], ...] = (
    ("match_id", "VARCHAR"),
    ("start_time", "TIMESTAMP NOT NULL"),
    ("end_time", "TIMESTAMP"),
    ("playlist_id", "VARCHAR"),
    ("playlist_name", "VARCHAR"),
    ("map_id", "VARCHAR"),
    ("map_name", "VARCHAR"),
    ("pair_id", "VARCHAR"),
    ("pair_name", "VARCHAR"),
    ("game_variant_id", "VARCHAR"),
    ("game_variant_name", "VARCHAR"),
    ("mode_category", "VARCHAR"),
    ("is_ranked", "BOOLEAN DEFAULT FALSE"),
    ("is_firefight", "BOOLEAN DEFAULT FALSE"),
    ("duration_seconds", "INTEGER"),
    ("playable_duration_seconds", "INTEGER"),
    ("real_start_time", "TIMESTAMP"),
    ("team_0_score", "SMALLINT"),
    ("team_1_score", "SMALLINT"),
    ("team_0_ps_score", "INTEGER"),
    ("team_1_ps_score", "INTEGER"),
    ("backfill_completed", "INTEGER DEFAULT 0"),
    ("participants_loaded", "BOOLEAN DEFAULT FALSE"),
    ("events_loaded", "BOOLEAN DEFAULT FALSE"),
    ("medals_loaded", "BOOLEAN DEFAULT FALSE"),
    ("first_sync_by", "VARCHAR"),
    ("first_sync_at", "TIMESTAMP"),
    ("last_updated_at", "TIMESTAMP"),
    ("player_count", "SMALLINT DEFAULT 0"),
    ("created_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
    ("updated_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
)
"""`match_registry` of shared_matches_v2.duckdb: LevelUp src/data/sync/_engine_connections.py
_SHARED_SCHEMA_SQL (@45e0a451); a naive `start_time` is the sync machine's wall clock."""

_V6_REGISTRY_ADDITIONS = frozenset(
    {"playable_duration_seconds", "real_start_time", "team_0_ps_score", "team_1_ps_score"}
)
MATCH_REGISTRY_V5_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    column for column in MATCH_REGISTRY_V6_COLUMNS if column[0] not in _V6_REGISTRY_ADDITIONS
)
"""`match_registry` of v5's shared_matches.duckdb: the same _SHARED_SCHEMA_SQL at @016018a0,
before the four columns v6 added."""

MATCH_REGISTRY_V7_COLUMNS: tuple[tuple[str, str], ...] = (
    *MATCH_REGISTRY_V6_COLUMNS,
    ("start_time_utc", "TIMESTAMPTZ"),
    ("end_time_utc", "TIMESTAMPTZ"),
)
"""v6's `match_registry` as LevelUp's Go era migrates it: the step
add_start_time_utc_to_match_registry (apps/go-api/internal/migration, AddColumnIfMissing)
appends the match's instants."""

WAREHOUSE_MATCH_PARTICIPANTS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("match_id", "VARCHAR NOT NULL"),
    ("xuid", "VARCHAR NOT NULL"),
    ("gamertag", "VARCHAR"),
    ("team_id", "INTEGER"),
    ("outcome", "INTEGER"),
    ("rank", "SMALLINT"),
    ("score", "INTEGER"),
    ("kills", "SMALLINT"),
    ("deaths", "SMALLINT"),
    ("assists", "SMALLINT"),
    ("shots_fired", "INTEGER"),
    ("shots_hit", "INTEGER"),
    ("damage_dealt", "FLOAT"),
    ("damage_taken", "FLOAT"),
    ("created_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
)
"""`match_participants` of the warehouse, v5 to v7 (LevelUp _engine_connections.py
_SHARED_SCHEMA_SQL); primary key (match_id, xuid)."""

WAREHOUSE_XUID_ALIASES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("xuid", "VARCHAR"),
    ("gamertag", "VARCHAR NOT NULL"),
    ("last_seen", "TIMESTAMP"),
    ("source", "VARCHAR"),
    ("updated_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
)
"""`xuid_aliases` of the warehouse (LevelUp _engine_connections.py _SHARED_SCHEMA_SQL)."""

PLAYER_MATCH_ENRICHMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("match_id", "VARCHAR"),
    ("performance_score", "FLOAT"),
    ("session_id", "VARCHAR"),
    ("session_label", "VARCHAR"),
    ("is_with_friends", "BOOLEAN"),
    ("teammates_signature", "VARCHAR"),
    ("known_teammates_count", "SMALLINT"),
    ("friends_xuids", "VARCHAR"),
    ("had_bot_teammate", "BOOLEAN"),
    ("created_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
    ("updated_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
)
"""A v5+ player file's one row per match (LevelUp src/data/sync/_engine_schema.py
SYNC_SCHEMA_DDL): the sync writes `teammates_signature`, the backfill the session columns."""

SYNC_META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "VARCHAR"),
    ("value", "VARCHAR"),
    ("updated_at", "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"),
)
"""Key-value facts of a v5+ player file, its `xuid` among them (_engine_schema.py
SYNC_SCHEMA_DDL)."""

MV_SESSION_STATS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("session_id", "VARCHAR"),
    ("match_count", "INTEGER"),
    ("start_time", "TIMESTAMP"),
    ("end_time", "TIMESTAMP"),
    ("total_kills", "INTEGER"),
    ("total_deaths", "INTEGER"),
    ("total_assists", "INTEGER"),
    ("kd_ratio", "DOUBLE"),
    ("win_rate", "DOUBLE"),
    ("avg_accuracy", "DOUBLE"),
    ("avg_life_seconds", "DOUBLE"),
    ("updated_at", "TIMESTAMP"),
)
"""LevelUp's per-session summary, a plain table of the v5+ player file
(src/data/repositories/_materialized_views.py `_ensure_mv_tables`, @83edd854)."""

_SQL_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\(\d+(, *\d+)?\))?$")
_view_numbers = count()


def quote_identifier(name: str) -> str:
    """Quote a table or column name, so any name a file may hold is safe in a statement."""
    return '"' + name.replace('"', '""') + '"'


def match_stats_spec(schema: SchemaKind = "v4") -> tuple[tuple[str, str], ...]:
    """Columns (name, SQL type) LevelUp creates `match_stats` with, v4 or sync schema.

    The specification, not a given file's columns: those are `player_db.match_stats_columns`.
    """
    if schema == "v4":
        return MATCH_STATS_V4_COLUMNS
    if schema == "sync":
        types = dict(MATCH_STATS_V4_COLUMNS)
        return tuple((name, types[name]) for name in SYNC_MATCH_STATS_COLUMN_NAMES)
    raise ValueError(f"unknown match_stats schema {schema!r}; expected 'v4' or 'sync'")


def _create_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    primary_key: Sequence[str],
) -> None:
    """Create `table` from column specs. A spec is words and numbers only (a type, then
    LevelUp's NOT NULL or DEFAULT FALSE/0/CURRENT_TIMESTAMP), so no quote or separator
    ever reaches the statement."""
    for name, sql_type in columns:
        if not _SQL_TYPE.match(sql_type):
            raise ValueError(
                f"column {name!r} of {table}: {sql_type!r} is not a SQL type "
                "(with NOT NULL or DEFAULT <word>)"
            )
    parts = [f"{quote_identifier(name)} {sql_type}" for name, sql_type in columns]
    if primary_key:
        parts.append(f"PRIMARY KEY ({', '.join(map(quote_identifier, primary_key))})")
    con.execute(f"CREATE TABLE {quote_identifier(table)} ({', '.join(parts)})")


def create_match_stats(
    con: duckdb.DuckDBPyConnection,
    *,
    schema: SchemaKind = "v4",
    primary_key: bool = True,
    column_types: Mapping[str, str] | None = None,
    extra_columns: Mapping[str, str] | None = None,
) -> None:
    """Create `match_stats`.

    LevelUp's sync declares `match_id` the primary key, but older or hand-made files may
    not; `column_types` retypes a column (e.g. `start_time` as TIMESTAMPTZ, `session_id`
    as INTEGER) and `extra_columns` adds some, so tests can build every variant seen.
    """
    columns = dict(match_stats_spec(schema))
    unknown = set(column_types or {}) - set(columns)
    if unknown:
        raise ValueError(f"cannot retype columns absent from match_stats: {sorted(unknown)}")
    columns.update(column_types or {})
    clashing = set(extra_columns or {}) & set(columns)
    if clashing:
        raise ValueError(f"extra columns already in match_stats: {sorted(clashing)}")
    columns.update(extra_columns or {})
    _create_table(con, "match_stats", list(columns.items()), ["match_id"] if primary_key else [])


def create_xuid_aliases(con: duckdb.DuckDBPyConnection, *, primary_key: bool = True) -> None:
    """Create `xuid_aliases`, the xuid -> gamertag map the dashboard resolves names with."""
    _create_table(con, "xuid_aliases", XUID_ALIASES_COLUMNS, ["xuid"] if primary_key else [])


def create_match_participants(con: duckdb.DuckDBPyConnection, *, primary_key: bool = True) -> None:
    """Create `match_participants`: every player of every match, with their team."""
    _create_table(
        con,
        "match_participants",
        MATCH_PARTICIPANTS_COLUMNS,
        ["match_id", "xuid"] if primary_key else [],
    )


def create_teammates_aggregate(con: duckdb.DuckDBPyConnection, *, primary_key: bool = True) -> None:
    """Create `teammates_aggregate`: per other player, how often the owner met them."""
    _create_table(
        con,
        "teammates_aggregate",
        TEAMMATES_AGGREGATE_COLUMNS,
        ["teammate_xuid"] if primary_key else [],
    )


def create_v4_player_tables(con: duckdb.DuckDBPyConnection, *, primary_key: bool = True) -> None:
    """Create the four tables a LevelUp v4 player file holds."""
    create_match_stats(con, schema="v4", primary_key=primary_key)
    create_xuid_aliases(con, primary_key=primary_key)
    create_match_participants(con, primary_key=primary_key)
    create_teammates_aggregate(con, primary_key=primary_key)


def match_registry_spec(layout: WarehouseLayout = "v6") -> tuple[tuple[str, str], ...]:
    """Columns LevelUp creates `match_registry` with in a v5, v6 or v7 warehouse."""
    specs = {
        "v5": MATCH_REGISTRY_V5_COLUMNS,
        "v6": MATCH_REGISTRY_V6_COLUMNS,
        "v7": MATCH_REGISTRY_V7_COLUMNS,
    }
    if layout not in specs:
        raise ValueError(f"unknown warehouse layout {layout!r}; expected 'v5', 'v6' or 'v7'")
    return specs[layout]


def _without(
    table: str,
    columns: Sequence[tuple[str, str]],
    primary_key: Sequence[str],
    dropped: Collection[str],
) -> list[tuple[str, str]]:
    unknown = set(dropped) - {name for name, _ in columns}
    if unknown:
        raise ValueError(f"cannot leave out columns absent from {table}: {sorted(unknown)}")
    keyed = set(dropped) & set(primary_key)
    if keyed:
        raise ValueError(f"cannot leave out the primary key of {table}: {sorted(keyed)}")
    return [column for column in columns if column[0] not in dropped]


def create_warehouse_tables(
    con: duckdb.DuckDBPyConnection,
    *,
    layout: WarehouseLayout = "v6",
    without_columns: Mapping[str, Collection[str]] | None = None,
) -> None:
    """Create the warehouse's `match_registry`, `match_participants` and `xuid_aliases`.

    `without_columns` leaves columns out, per table (e.g. `{"match_registry":
    ["is_ranked"]}`), for the warehouses readers must survive: files migrated by hand or
    older than the DDL that added a column.
    """
    tables = {
        "match_registry": (match_registry_spec(layout), ("match_id",)),
        "match_participants": (WAREHOUSE_MATCH_PARTICIPANTS_COLUMNS, ("match_id", "xuid")),
        "xuid_aliases": (WAREHOUSE_XUID_ALIASES_COLUMNS, ("xuid",)),
    }
    dropped = dict(without_columns or {})
    unknown = set(dropped) - set(tables)
    if unknown:
        raise ValueError(f"no warehouse tables {sorted(unknown)}; expected {sorted(tables)}")
    # Every table checked before any is created: a refused spec leaves no half warehouse.
    kept = {
        table: _without(table, columns, primary_key, dropped.get(table, ()))
        for table, (columns, primary_key) in tables.items()
    }
    for table, (_, primary_key) in tables.items():
        _create_table(con, table, kept[table], primary_key)


def create_v5_player_tables(
    con: duckdb.DuckDBPyConnection, *, with_mv_session_stats: bool = True
) -> None:
    """Create the tables of a v5+ player file the pipeline reads or writes; a sync that never
    refreshed its summaries has no `mv_session_stats` (`with_mv_session_stats=False`)."""
    _create_table(con, "player_match_enrichment", PLAYER_MATCH_ENRICHMENT_COLUMNS, ["match_id"])
    _create_table(con, "sync_meta", SYNC_META_COLUMNS, ["key"])
    if with_mv_session_stats:
        _create_table(con, "mv_session_stats", MV_SESSION_STATS_COLUMNS, ["session_id"])


def _column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    described = con.sql(f"DESCRIBE {quote_identifier(table)}").fetchall()
    return {row[0]: row[1] for row in described}


SYNC_TIME_ZONE = "Europe/Paris"
"""The zone of the machine LevelUp's sync ran on, for the files the demo and tests write."""


def _align_time_zones(
    frame: pl.DataFrame, target_types: Mapping[str, str], sync_time_zone: str
) -> pl.DataFrame:
    """Make each datetime column hold what LevelUp's sync would write in its target column.

    The sync inserts the API's UTC instant; into a naive `TIMESTAMP` DuckDB casts it with
    the session TimeZone, the machine's zone: the wall clock there (`sync_time_zone`). A
    naive frame value is taken as written already; into a `TIMESTAMPTZ`, as UTC.
    """
    fixes = []
    for name, dtype in frame.schema.items():
        if not isinstance(dtype, pl.Datetime) or name not in target_types:
            continue
        target_is_aware = target_types[name] == "TIMESTAMP WITH TIME ZONE"
        if dtype.time_zone is not None and not target_is_aware:
            fixes.append(
                pl.col(name).dt.convert_time_zone(sync_time_zone).dt.replace_time_zone(None)
            )
        elif dtype.time_zone is None and target_is_aware:
            fixes.append(pl.col(name).dt.replace_time_zone("UTC"))
    return frame.with_columns(fixes) if fixes else frame


def insert_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    sync_time_zone: str = SYNC_TIME_ZONE,
) -> int:
    """Insert a frame's rows in one INSERT ... SELECT, matching columns by name.

    Set-based so thousands of matches load in one statement; columns the frame lacks take
    their default (NULL). Aware datetimes land as the sync stores them (see
    `_align_time_zones`), never through this connection's TimeZone. Returns the number of
    rows inserted.
    """
    target_types = _column_types(con, table)
    unknown = [name for name in frame.columns if name not in target_types]
    if unknown:
        raise ValueError(f"{table} has no columns {unknown}")
    frame = _align_time_zones(frame, target_types, sync_time_zone)
    view = f"levelup_frame_{next(_view_numbers)}"
    con.register(view, frame)
    try:
        con.execute(f"INSERT INTO {quote_identifier(table)} BY NAME SELECT * FROM {view}")
    finally:
        con.unregister(view)
    return frame.height


def read_table(
    con: duckdb.DuckDBPyConnection, table: str, *, order_by: Sequence[str] = ()
) -> pl.DataFrame:
    """Every row of a table, in a stable order when `order_by` names columns."""
    query = f"SELECT * FROM {quote_identifier(table)}"
    if order_by:
        query += f" ORDER BY {', '.join(map(quote_identifier, order_by))}"
    return con.sql(query).pl()
