"""Player files and warehouses for tests, built from a few tuples with the real LevelUp DDL.

Tests state only what matters to them (ids, start times, signatures, a side table or not);
everything else has the shape of a v4 or sync-created file, or of a v5-v7 warehouse and
player file (DDL: `sessions_pipeline.levelup.sql.levelup_schema`, which cites LevelUp's files), so
what passes here passes on a user's disk.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from sessions_pipeline.entry_points.demo import DemoLayout, build_demo_root
from sessions_pipeline.levelup.sql.levelup_schema import (
    SHARED_MATCHES_DB_NAME,
    SYNC_TIME_ZONE,
    SchemaKind,
    WarehouseLayout,
    create_match_participants,
    create_match_stats,
    create_teammates_aggregate,
    create_v5_player_tables,
    create_warehouse_tables,
    create_xuid_aliases,
    insert_frame,
    read_table,
)

DEMO_NOW = datetime(2026, 2, 7, 21, 30)
"""A fixed `now` (naive UTC, a Saturday evening in Paris) for demo roots built in tests."""

Match = tuple[str, datetime | None, str | None]
"""(match_id, start_time, teammates_signature); a naive start time is an instant in UTC,
written to a naive column as LevelUp's sync writes it: Paris wall clock."""
Alias = tuple[str, str]
"""(xuid, gamertag)"""
Participant = tuple[str, str, int | None]
"""(match_id, xuid, team_id)"""
Teammate = tuple[str, str | None, int, int]
"""(teammate_xuid, teammate_gamertag, matches_together, same_team_count)"""
RegistryMatch = tuple[str, datetime, bool | None]
"""(match_id, start_time, is_ranked) of a warehouse's `match_registry`; the start time as in
`Match` (written to `start_time` as Paris wall clock, to v7's `start_time_utc` as is)."""
Enrichment = tuple[str, str | None]
"""(match_id, teammates_signature) of a v5+ player file's `player_match_enrichment`."""


def matches_at(
    start: datetime,
    offsets_minutes: Sequence[float],
    *,
    signatures: Sequence[str | None] | str | None = None,
    prefix: str = "m",
) -> list[Match]:
    """Matches `prefix0, prefix1, ...` starting `offsets_minutes` after `start`.

    Gap rules are about minutes between starts, so tests read best written that way.
    One signature applies to every match; a sequence gives one per match.
    """
    if signatures is None or isinstance(signatures, str):
        signatures = [signatures] * len(offsets_minutes)
    if len(signatures) != len(offsets_minutes):
        raise ValueError("give one signature per offset")
    return [
        (f"{prefix}{index}", start + timedelta(minutes=offset), signature)
        for index, (offset, signature) in enumerate(zip(offsets_minutes, signatures, strict=True))
    ]


def matches_frame(matches: Sequence[Match] | pl.DataFrame) -> pl.DataFrame:
    """Tuples as a `match_stats` frame of instants (aware UTC); a frame passes through."""
    if isinstance(matches, pl.DataFrame):
        return matches
    starts = [
        None if start is None else (start.astimezone(UTC) if start.tzinfo else start)
        for _, start, _ in matches
    ]
    return pl.DataFrame(
        {
            "match_id": [match_id for match_id, _, _ in matches],
            "start_time": [
                None if start is None else start.replace(tzinfo=None) for start in starts
            ],
            "teammates_signature": [signature for _, _, signature in matches],
        },
        schema={
            "match_id": pl.String,
            "start_time": pl.Datetime("us"),
            "teammates_signature": pl.String,
        },
    ).with_columns(pl.col("start_time").dt.replace_time_zone("UTC"))


def as_read_back(matches: Sequence[Match], start_time_zone: str = SYNC_TIME_ZONE) -> list[Match]:
    """The instants a reader gets back from a file the sync wrote on a Paris machine, read
    as wall clock of `start_time_zone`: each instant through Paris wall clock, then that
    wall time through `zoneinfo` (`fold=0`: the earlier of an autumn hour's two instants).
    """
    paris, zone = ZoneInfo(SYNC_TIME_ZONE), ZoneInfo(start_time_zone)

    def read_back(start: datetime | None) -> datetime | None:
        if start is None:
            return None
        instant = start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
        wall = instant.astimezone(paris).replace(tzinfo=None, fold=0)
        return wall.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)

    return [(match_id, read_back(start), signature) for match_id, start, signature in matches]


def _rows_frame(rows: Sequence[tuple] | pl.DataFrame, schema: Mapping[str, type]) -> pl.DataFrame:
    if isinstance(rows, pl.DataFrame):
        return rows
    return pl.DataFrame(list(rows), schema=dict(schema), orient="row")


def make_player_file(
    path: Path,
    matches: Sequence[Match] | pl.DataFrame = (),
    *,
    schema: SchemaKind = "v4",
    primary_key: bool = True,
    column_types: Mapping[str, str] | None = None,
    extra_columns: Mapping[str, str] | None = None,
    aliases: Sequence[Alias] | pl.DataFrame | None = None,
    participants: Sequence[Participant] | pl.DataFrame | None = None,
    teammates: Sequence[Teammate] | pl.DataFrame | None = None,
) -> Path:
    """Create a player file at `path` (parents too) and return `path`.

    `match_stats` is always created; a side table only when given (None: the table is
    missing, as in many real files; []: present and empty). `column_types` retypes
    columns, e.g. `{"start_time": "TIMESTAMPTZ"}` or `{"session_id": "INTEGER"}`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        create_match_stats(
            con,
            schema=schema,
            primary_key=primary_key,
            column_types=column_types,
            extra_columns=extra_columns,
        )
        insert_frame(con, "match_stats", matches_frame(matches))
        if aliases is not None:
            create_xuid_aliases(con, primary_key=primary_key)
            frame = _rows_frame(aliases, {"xuid": pl.String, "gamertag": pl.String})
            insert_frame(con, "xuid_aliases", frame)
        if participants is not None:
            create_match_participants(con, primary_key=primary_key)
            participant_schema = {"match_id": pl.String, "xuid": pl.String, "team_id": pl.Int32}
            insert_frame(con, "match_participants", _rows_frame(participants, participant_schema))
        if teammates is not None:
            create_teammates_aggregate(con, primary_key=primary_key)
            teammate_schema = {
                "teammate_xuid": pl.String,
                "teammate_gamertag": pl.String,
                "matches_together": pl.Int32,
                "same_team_count": pl.Int32,
            }
            insert_frame(con, "teammates_aggregate", _rows_frame(teammates, teammate_schema))
    finally:
        con.close()
    return path


def append_matches(path: Path, matches: Sequence[Match] | pl.DataFrame) -> int:
    """Insert matches into an existing file, as LevelUp's sync does (session columns NULL)."""
    con = duckdb.connect(str(path))
    try:
        return insert_frame(con, "match_stats", matches_frame(matches))
    finally:
        con.close()


def read_match_stats(path: Path) -> pl.DataFrame:
    """Every `match_stats` row in timeline order, NULL start times last, as on disk (a
    naive `start_time` is Paris wall clock: see `start_instants`)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return read_table(con, "match_stats", order_by=("start_time", "match_id"))
    finally:
        con.close()


def start_instants(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with a naive `start_time` (Paris wall clock, as the sync wrote it) as naive
    UTC instants, through Polars' own zone database (the earlier instant of an autumn
    hour), independently of the pipeline's conversion."""
    if frame.schema["start_time"].time_zone is not None:
        return frame.with_columns(
            pl.col("start_time").dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        )
    return frame.with_columns(
        pl.col("start_time")
        .dt.replace_time_zone(SYNC_TIME_ZONE, ambiguous="earliest")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )


def warehouse_path(root: Path, layout: WarehouseLayout = "v6") -> Path:
    """Where LevelUp keeps the warehouse of a (single-title) root: v5 under its first name."""
    name = "shared_matches.duckdb" if layout == "v5" else SHARED_MATCHES_DB_NAME
    return Path(root) / "data" / "warehouse" / name


def registry_frame(matches: Sequence[RegistryMatch] | pl.DataFrame) -> pl.DataFrame:
    """Tuples as a `match_registry` frame of instants, `start_time_utc` (v7) included; a frame
    passes through."""
    if isinstance(matches, pl.DataFrame):
        return matches
    starts = matches_frame([(match_id, start, None) for match_id, start, _ in matches])
    return starts.select(
        "match_id",
        "start_time",
        is_ranked=pl.Series([ranked for _, _, ranked in matches], dtype=pl.Boolean),
        start_time_utc="start_time",
    )


def make_warehouse(
    path: Path,
    matches: Sequence[RegistryMatch] | pl.DataFrame = (),
    participants: Sequence[Participant] | pl.DataFrame = (),
    aliases: Sequence[Alias] | pl.DataFrame = (),
    *,
    layout: WarehouseLayout = "v6",
    without_columns: Mapping[str, Collection[str]] | None = None,
) -> Path:
    """Create a warehouse at `path` (parents too) and return `path`.

    From tuples, a column the warehouse lacks is not written (v7's `start_time_utc` before
    v7, `is_ranked` when `without_columns` leaves it out); a frame is written as given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        create_warehouse_tables(con, layout=layout, without_columns=without_columns)
        registry = registry_frame(matches)
        if not isinstance(matches, pl.DataFrame):
            present = set(read_table(con, "match_registry").columns)
            registry = registry.select(name for name in registry.columns if name in present)
        insert_frame(con, "match_registry", registry)
        participant_schema = {"match_id": pl.String, "xuid": pl.String, "team_id": pl.Int32}
        insert_frame(con, "match_participants", _rows_frame(participants, participant_schema))
        alias_schema = {"xuid": pl.String, "gamertag": pl.String}
        insert_frame(con, "xuid_aliases", _rows_frame(aliases, alias_schema))
    finally:
        con.close()
    return path


def make_v6_player_file(
    path: Path,
    enrichment: Sequence[Enrichment] | pl.DataFrame = (),
    *,
    xuid: str | None = None,
    with_mv_session_stats: bool = True,
) -> Path:
    """Create a v5+ player file at `path` (parents too) and return `path`: enrichment rows
    as the sync leaves them (session columns NULL), and `sync_meta`'s 'xuid' when given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        create_v5_player_tables(con, with_mv_session_stats=with_mv_session_stats)
        enrichment_schema = {"match_id": pl.String, "teammates_signature": pl.String}
        insert_frame(con, "player_match_enrichment", _rows_frame(enrichment, enrichment_schema))
        if xuid is not None:
            meta = pl.DataFrame({"key": ["xuid"], "value": [xuid]})
            insert_frame(con, "sync_meta", meta)
    finally:
        con.close()
    return path


def make_v6_root(
    root: Path,
    players: Mapping[str, tuple[str, Sequence[Match]]],
    *,
    layout: WarehouseLayout = "v6",
) -> dict[str, Path]:
    """A v5-v7 root from what `make_player_file` takes: per gamertag its xuid and matches.

    Each match is in the warehouse once; its participants are the players who have it and
    the xuids of their signatures, all on team 0. Returns each player's file.
    """
    starts: dict[str, datetime] = {}
    participants: dict[tuple[str, str], Participant] = {}
    files = {}
    for gamertag, (xuid, matches) in players.items():
        for match_id, start, signature in matches:
            if start is None:
                raise ValueError(f"{match_id}: match_registry.start_time is NOT NULL")
            if starts.setdefault(match_id, start) != start:
                raise ValueError(f"{match_id} starts at {starts[match_id]} and at {start}")
            for member in [xuid, *(signature.split(",") if signature else [])]:
                participants[match_id, member] = (match_id, member, 0)
        player_file = Path(root) / "data" / "players" / gamertag / "stats.duckdb"
        enrichment = [(match_id, signature) for match_id, _, signature in matches]
        files[gamertag] = make_v6_player_file(player_file, enrichment, xuid=xuid)
    make_warehouse(
        warehouse_path(root, layout),
        [(match_id, start, None) for match_id, start in starts.items()],
        list(participants.values()),
        [(xuid, gamertag) for gamertag, (xuid, _) in players.items()],
        layout=layout,
    )
    return files


def build_demo_roots(
    base: Path,
    layouts: Sequence[DemoLayout] = ("v4", "v6"),
    *,
    now: datetime = DEMO_NOW,
    seed: int = 7,
) -> dict[str, Path]:
    """The demo's matches (one `seed`, one `now`) as one root per layout, `base/<layout>`:
    by default a v4 root and the same root migrated to v6."""
    roots = {}
    for layout in layouts:
        roots[layout] = Path(base) / layout
        roots[layout].mkdir(parents=True)
        build_demo_root(roots[layout], now=now, seed=seed, layout=layout)
    return roots


def read_v6_matches(
    root: Path, gamertag: str, xuid: str, *, layout: WarehouseLayout = "v6"
) -> pl.DataFrame:
    """A v5+ player's matches as the design reads them: its `match_participants` rows joined
    to `match_registry`, with its enrichment row's signature; timeline order, times as on
    disk (naive: Paris wall clock)."""
    player_file = Path(root) / "data" / "players" / gamertag / "stats.duckdb"
    warehouse = str(warehouse_path(root, layout)).replace("'", "''")
    con = duckdb.connect(str(player_file), read_only=True)
    try:
        con.execute(f"ATTACH '{warehouse}' AS shared (READ_ONLY)")
        return con.sql(
            """
            SELECT r.match_id, r.start_time, e.teammates_signature
            FROM shared.match_participants p
            JOIN shared.match_registry r ON r.match_id = p.match_id
            LEFT JOIN player_match_enrichment e ON e.match_id = r.match_id
            WHERE p.xuid = ?
            ORDER BY r.start_time, r.match_id
            """,
            params=[xuid],
        ).pl()
    finally:
        con.close()
