"""A player's file as the reads and the store see it, whichever LevelUp layout it has.

LevelUp v4 keeps a player's matches in the file's `match_stats`. Since v5 they live in a
shared warehouse (`match_registry`, `match_participants`, `xuid_aliases`; LevelUp
`src/data/sync/_engine_connections.py` `_SHARED_SCHEMA_SQL`), and the player file keeps
`player_match_enrichment` (`session_id`, `session_label`, `teammates_signature`) and
`sync_meta` (LevelUp `src/data/sync/_engine_schema.py` `SYNC_SCHEMA_DDL`). For v5+, the
player's timeline is joined once into a temporary table shaped like `match_stats`, with
the warehouse attached read-only only for that join: LevelUp's sync waits on our lock
while we hold it, so it is let go before anything is computed or written.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from sessions_pipeline.errors import PlayerFileError
from sessions_pipeline.levelup.app_root import warehouse_path
from sessions_pipeline.levelup.sql import lookups
from sessions_pipeline.levelup.sql.connection import (
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    attached_read_only,
    open_player_db,
)

V4 = "v4"
MATCH_STATS = "match_stats"
ENRICHMENT = "player_match_enrichment"
TIMELINE_TABLE = "sessions_pipeline_timeline"
"""The temporary table a v5+ player's timeline is joined into, for this open only."""
_TIMELINES = itertools.count()

_LAYOUT_TABLES = {
    "v4": (MATCH_STATS,),
    "v5+": (ENRICHMENT, "sync_meta", "and the warehouse's match_registry, match_participants"),
}


@dataclass(frozen=True)
class PlayerFile:
    """An open player file: its connection, its layout and what its timeline reads scan.

    `relation` is `match_stats` (v4) or the joined timeline (v5+), with the columns of a
    v4 `match_stats` that the sessions need: `match_id, start_time, [start_time_utc],
    [is_ranked], teammates_signature, session_id, session_label`. `orphan_enrichment_rows`
    counts v5+ enrichment rows of matches the warehouse does not have (ignored).
    """

    con: duckdb.DuckDBPyConnection
    layout: str
    relation: str
    player_xuid: str | None = None
    warehouse: Path | None = None
    orphan_enrichment_rows: int = 0

    @property
    def is_v4(self) -> bool:
        return self.layout == V4

    @property
    def written_table(self) -> str:
        return written_table(self.layout)


def written_table(layout: str) -> str:
    """Where a layout keeps the session values: `match_stats` or `player_match_enrichment`."""
    return MATCH_STATS if layout == V4 else ENRICHMENT


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str] | None:
    """Column name -> type of a table, from its binding (no catalog query), or None."""
    try:
        relation = con.table(table)
    except duckdb.CatalogException:
        return None
    return dict(zip(relation.columns, map(str, relation.types), strict=True))


@contextmanager
def open_player_file(
    db_path: Path,
    *,
    read_only: bool,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    gamertag: str | None = None,
    profile_xuid: str | None = None,
) -> Iterator[PlayerFile]:
    """The player file, open (see `open_player_db`), with its timeline ready to read.

    `gamertag` (default: the file's folder) and `profile_xuid` find a v5+ player among
    the warehouse's participants when its `sync_meta` does not say its xuid.
    """
    db_path = Path(db_path)
    with open_player_db(
        db_path, read_only=read_only, lock_timeout_seconds=lock_timeout_seconds
    ) as con:
        if _columns(con, MATCH_STATS) is not None:
            yield PlayerFile(con, V4, MATCH_STATS)
            return
        enrichment = _columns(con, ENRICHMENT)
        if enrichment is None:
            raise PlayerFileError(_not_a_player_file(con))
        warehouse = warehouse_path(db_path)
        timeline = f"{TIMELINE_TABLE}_{next(_TIMELINES)}"
        with attached_read_only(con, warehouse, lock_timeout_seconds) as shared:
            file = _join_timeline(
                con,
                shared,
                timeline,
                enrichment,
                warehouse,
                gamertag or db_path.parent.name,
                profile_xuid,
            )
        try:
            yield file
        finally:
            con.execute(f"DROP TABLE IF EXISTS temp.{timeline}")


MatchesSeen = tuple[int, str | None]
"""How many matches of a v5+ player the warehouse holds, and the latest start (ISO text):
its `match_participants` rows joined to `match_registry`. The sync adds a match there
without touching the player file, so this is what tells that a player got one."""
NO_MATCHES: MatchesSeen = (0, None)


def matches_seen(file: PlayerFile) -> MatchesSeen:
    """`MatchesSeen` of a v5+ file's joined timeline: the very rows this open read, so a
    later `warehouse_matches_seen` differs once the warehouse has a new match of the player."""
    [row] = file.con.sql(f"SELECT count(*), max(start_time) FROM {file.relation}").fetchall()
    return _seen(*row)


def warehouse_matches_seen(
    warehouse: Path, xuids: Collection[str], *, lock_timeout_seconds: float
) -> dict[str, MatchesSeen]:
    """`MatchesSeen` of each of these players (by xuid) that has a match, in one read-only
    query over the warehouse: one read tells which of many players a sync touched."""
    with open_player_db(
        warehouse, read_only=True, lock_timeout_seconds=lock_timeout_seconds
    ) as con:
        rows = con.sql(
            """
            SELECT CAST(p.xuid AS VARCHAR), count(*), max(r.start_time)
            FROM match_participants AS p JOIN match_registry AS r ON r.match_id = p.match_id
            WHERE p.xuid IN (SELECT unnest(CAST($xuids AS VARCHAR[])))
            GROUP BY p.xuid
            """,
            params={"xuids": sorted(xuids)},
        ).fetchall()
    return {xuid: _seen(count, latest) for xuid, count, latest in rows}


def _seen(count: int, latest: datetime | None) -> MatchesSeen:
    return count, None if latest is None else latest.isoformat()


def _not_a_player_file(con: duckdb.DuckDBPyConnection) -> str:
    """Which tables each layout needs, and which the file has."""
    tables = sorted(
        name
        for (name,) in con.sql(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    )
    needs = "; ".join(
        f"{layout} needs {', '.join(needed)}" for layout, needed in _LAYOUT_TABLES.items()
    )
    return (
        f"the file has no {MATCH_STATS} table (LevelUp v4) nor {ENRICHMENT} (v5+): not a "
        f"LevelUp player file ({needs}); it has {', '.join(tables) or 'no table'}"
    )


def _join_timeline(
    con: duckdb.DuckDBPyConnection,
    shared: str,
    timeline: str,
    enrichment: dict[str, str],
    warehouse: Path,
    gamertag: str,
    profile_xuid: str | None,
) -> PlayerFile:
    """Join the player's matches into `timeline` and say what the warehouse is (v5..v7)."""
    registry = _columns(con, f"{shared}.match_registry")
    participants = _columns(con, f"{shared}.match_participants")
    if registry is None or participants is None:
        raise PlayerFileError(
            f"{warehouse}: not a LevelUp warehouse: it needs match_registry and match_participants"
        )
    xuid = _player_xuid(con, shared, gamertag, profile_xuid)
    if xuid is None:
        raise PlayerFileError(
            f"cannot tell which participant of {warehouse} is {gamertag!r}: no xuid in the "
            "player file's sync_meta, in its profile, nor in the warehouse's xuid_aliases"
        )
    layout = "v7" if "start_time_utc" in registry else "v6" if "is_ranked" in registry else "v5"
    optional = [f"r.{name}" for name in ("start_time_utc", "is_ranked") if name in registry]
    stored = [
        f"e.{name}" if name in enrichment else f"CAST(NULL AS VARCHAR) AS {name}"
        for name in ("session_id", "session_label")
    ]
    signature = "e.teammates_signature" if "teammates_signature" in enrichment else "NULL"
    con.execute(
        f"""
        CREATE TEMP TABLE {timeline} AS
        WITH mine AS (
            SELECT match_id, team_id FROM {shared}.match_participants WHERE xuid = $xuid
        ), mates AS (
            SELECT mine.match_id, string_agg(mate.xuid, ',' ORDER BY mate.xuid) AS signature
            FROM mine JOIN {shared}.match_participants AS mate
              ON mate.match_id = mine.match_id AND mate.team_id = mine.team_id
             AND mate.xuid <> $xuid
            GROUP BY mine.match_id
        )
        SELECT CAST(mine.match_id AS VARCHAR) AS match_id, r.start_time,
               {", ".join([*optional, ""])}
               coalesce({signature}, mates.signature) AS teammates_signature,
               {", ".join(stored)}
        FROM mine
        JOIN {shared}.match_registry AS r ON r.match_id = mine.match_id
        LEFT JOIN mates ON mates.match_id = mine.match_id
        LEFT JOIN {ENRICHMENT} AS e ON e.match_id = mine.match_id
        ORDER BY r.start_time, mine.match_id
        """,
        {"xuid": xuid},
    )
    [(orphans,)] = con.sql(
        f"SELECT count(*) FROM {ENRICHMENT} WHERE match_id NOT IN "
        f"(SELECT match_id FROM {shared}.match_registry)"
    ).fetchall()
    return PlayerFile(con, layout, f"temp.{timeline}", xuid, warehouse, orphans)


def _player_xuid(
    con: duckdb.DuckDBPyConnection, shared: str, gamertag: str, profile_xuid: str | None
) -> str | None:
    """The player's xuid: `sync_meta`'s, else its profile's, else the warehouse's alias of
    its gamertag (exact spelling first, then case-insensitively; the smallest xuid)."""
    from_sync = lookups.sync_meta_xuid(con)
    if from_sync:
        return from_sync
    if profile_xuid:
        return profile_xuid
    if _columns(con, f"{shared}.xuid_aliases") is None:
        return None
    rows = con.sql(
        f"SELECT CAST(xuid AS VARCHAR) FROM {shared}.xuid_aliases "
        "WHERE lower(trim(gamertag)) = lower($name) "
        "ORDER BY trim(gamertag) = $name DESC, CAST(xuid AS VARCHAR) LIMIT 1",
        params={"name": gamertag},
    ).fetchall()
    return rows[0][0] if rows else None
