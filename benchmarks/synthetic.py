"""Synthetic LevelUp player files and app roots, generated set-based in DuckDB.

A million matches must take seconds, not minutes, so the timeline is one SQL statement
over `range()` with hash-based randomness (the same file every time). Its shape follows
how people play: sessions of 2-12 matches about 9 minutes apart, two a day (afternoon
and evening, more than the 2 h gap apart), each with a party of 0-3 of the player's
three friends; a friend sits a match out now and then (a friend_joined break when they
come back), randoms fill the team of four, and solo sessions include some free-for-all
matches with no teammates at all. At two sessions a day a million matches reach back
about two centuries: nothing here depends on dates, only on gaps and teammates.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from sessions_pipeline.rules import SessionParameters
from sessions_pipeline.sql.levelup_schema import create_v4_player_tables, insert_frame
from sessions_pipeline.sql.levelup_v6_schema import create_player_tables, create_warehouse_tables
from sessions_pipeline.store import StoreOptions, store_sessions

PLAYER_XUID = "2533274823110022"
FRIEND_XUIDS = ("2533274858283686", "2535469190789936", "2533274833178266")
FRIEND_GAMERTAGS = ("Madina97294", "Chocoboflor", "XxDaemonGamerxX")
V6_XUID_BASE = 2533274700000000
"""The xuid of the v6 root's first player; the others follow."""
LAST_DAY = datetime(2026, 2, 7)
"""The newest sessions are on this day; history goes back one day per two sessions. Start
times are written naive, as LevelUp's sync writes them: Paris wall clock."""
NOW = LAST_DAY + timedelta(hours=21)
"""A `now` (UTC) after every start, at which the newest session (19:00 to about 21:40 in
Paris, 18:00 to 20:40 UTC in February) is younger than the 4 h threshold."""

_TIMELINE_SQL = """
WITH sessions AS (
    SELECT
        s,
        2 + CAST(hash(s, 1) % 11 AS BIGINT) AS matches,
        CASE WHEN hash(s, 2) % 100 < 35 THEN 0
             ELSE 1 + CAST(hash(s, 3) % 7 AS INTEGER) END AS party,
        $last_day - to_days(CAST(s // 2 AS INTEGER))
            + to_hours(CAST(19 - 6 * (s % 2) AS INTEGER))
            + to_minutes(CAST(hash(s, 4) % 60 AS INTEGER)) AS session_start
    FROM range($sessions) AS t(s)
), numbered AS (
    SELECT *, CAST(sum(matches) OVER (ORDER BY s) - matches AS BIGINT) AS newer_matches
    FROM sessions
), matches AS (
    SELECT s, party, session_start, unnest(range(least(matches, $limit - newer_matches))) AS k
    FROM numbered
    WHERE newer_matches < $limit
), played AS (
    SELECT
        s,
        k,
        session_start + to_minutes(CAST(9 * k + hash(s, k, 5) % 5 AS INTEGER))
            AS start_time,
        CASE WHEN hash(s, k, 6) % 100 < 5
             THEN party & ~(1 << CAST(hash(s, k, 7) % 3 AS INTEGER))
             ELSE party END AS friends,
        party = 0 AND hash(s, k, 8) % 100 < 15 AS free_for_all
    FROM matches
)
SELECT
    md5(concat_ws('-', s, k)) AS match_id,
    start_time,
    CASE WHEN free_for_all THEN '' ELSE array_to_string(list_sort(list_filter([
        CASE WHEN friends & 1 > 0 THEN $friend_0 END,
        CASE WHEN friends & 2 > 0 THEN $friend_1 END,
        CASE WHEN friends & 4 > 0 THEN $friend_2 END,
        CASE WHEN bit_count(friends) < 3 THEN $random_base + hash(s, k, 9) % 40000 END,
        CASE WHEN bit_count(friends) < 2 THEN $random_base + hash(s, k, 10) % 40000 END,
        CASE WHEN bit_count(friends) < 1 THEN $random_base + hash(s, k, 11) % 40000 END
    ], lambda x: x IS NOT NULL)), ',') END AS teammates_signature
FROM played
ORDER BY start_time
"""


def _timeline_params(matches: int) -> dict[str, object]:
    return {
        "sessions": matches // 2 + 1,
        "limit": matches,
        "last_day": LAST_DAY,
        "friend_0": int(FRIEND_XUIDS[0]),
        "friend_1": int(FRIEND_XUIDS[1]),
        "friend_2": int(FRIEND_XUIDS[2]),
        "random_base": 2533274900000000,
    }


def write_player_file(path: Path, matches: int) -> Path:
    """A never-stored LevelUp v4 file holding the `matches` newest matches of a timeline.

    Rows go in oldest first, as LevelUp's sync appends them.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        create_v4_player_tables(con)
        con.execute(f"INSERT INTO match_stats BY NAME {_TIMELINE_SQL}", _timeline_params(matches))
        aliases = {"xuid": [PLAYER_XUID, *FRIEND_XUIDS], "gamertag": ["Owner", *FRIEND_GAMERTAGS]}
        insert_frame(con, "xuid_aliases", pl.DataFrame(aliases))
    return path


def build_app_root(root: Path, template: Path, players: int) -> None:
    """An app root of `players` copies of `template`, all with the friends of the plan.

    Copies share the owner's xuid (given in each profile), so the friends file's one entry
    applies to every player and their runs resolve friends from config as real ones do.
    """
    gamertags = [f"Player{index:04d}" for index in range(players)]
    profiles = {}
    for gamertag in gamertags:
        db_path = root / "data" / "players" / gamertag / "stats.duckdb"
        db_path.parent.mkdir(parents=True)
        shutil.copyfile(template, db_path)
        profiles[gamertag] = {"db_path": str(db_path.relative_to(root)), "xuid": PLAYER_XUID}
    (root / "db_profiles.json").write_text(json.dumps({"profiles": profiles}))
    friends_file = root / ".streamlit" / "friends_defaults.json"
    friends_file.parent.mkdir(parents=True)
    friends_file.write_text(json.dumps({PLAYER_XUID: list(FRIEND_GAMERTAGS)}))


def build_v6_app_root(root: Path, players: int, matches: int, params: SessionParameters) -> None:
    """A LevelUp v6 root of `players` stored players sharing one warehouse.

    Every player played the same `matches` (the timeline above), each alone on a team of
    its own, so one stored file is right for all: it is copied, and each copy given its
    own xuid in `sync_meta`. The warehouse holds `players x matches` participant rows.
    """
    warehouse = root / "data" / "warehouse" / "shared_matches_v2.duckdb"
    warehouse.parent.mkdir(parents=True)
    gamertags = [f"Player{index:04d}" for index in range(players)]
    with duckdb.connect(str(warehouse)) as con:
        create_warehouse_tables(con)
        timeline = f"SELECT match_id, start_time FROM ({_TIMELINE_SQL})"
        con.execute(f"INSERT INTO match_registry BY NAME {timeline}", _timeline_params(matches))
        con.execute(
            "INSERT INTO match_participants (match_id, xuid, team_id) "
            "SELECT match_id, CAST($base + p AS VARCHAR), CAST(p AS INTEGER) "
            "FROM match_registry, range($players) AS t(p)",
            {"base": V6_XUID_BASE, "players": players},
        )
        insert_frame(
            con,
            "xuid_aliases",
            pl.DataFrame(
                {
                    "xuid": [str(V6_XUID_BASE + index) for index in range(players)],
                    "gamertag": gamertags,
                }
            ),
        )
    paths = [root / "data" / "players" / gamertag / "stats.duckdb" for gamertag in gamertags]
    paths[0].parent.mkdir(parents=True)
    with duckdb.connect(str(paths[0])) as con:
        create_player_tables(con, str(V6_XUID_BASE))
    store_sessions(paths[0], params, StoreOptions(include_recent=True))
    with duckdb.connect() as con:
        for index, path in enumerate(paths[1:], start=1):
            path.parent.mkdir(parents=True)
            shutil.copyfile(paths[0], path)
            quoted = str(path).replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS player")
            con.execute(
                "UPDATE player.sync_meta SET value = ? WHERE key = 'xuid'",
                [str(V6_XUID_BASE + index)],
            )
            con.execute("DETACH player")
