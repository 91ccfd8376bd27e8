"""Player files for tests, built from a few tuples with the real LevelUp DDL.

Tests state only what matters to them (ids, start times, signatures, a side table or not);
everything else has the shape of a v4 or sync-created file, so what passes here passes on
a user's disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from sessions_pipeline.sql.levelup_schema import (
    SYNC_TIME_ZONE,
    SchemaKind,
    create_match_participants,
    create_match_stats,
    create_teammates_aggregate,
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
