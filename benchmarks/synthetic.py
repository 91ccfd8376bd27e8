"""Synthetic LevelUp player files and app roots, generated set-based in DuckDB.

A million matches must take seconds, not minutes, so the timeline is one SQL statement
over `range()` with hash-based randomness (the same file every time). Its shape follows
how people play: sessions of 2-12 matches about 9 minutes apart, two a day (afternoon
and evening, more than the 2 h gap apart), each with a party of 0-3 of the player's
three friends; a friend sits a match out now and then (a friend_joined break when they
come back), randoms fill the team of four, and solo sessions include some free-for-all
matches with no teammates at all. At two sessions a day a million matches reach back
about two centuries: nothing here depends on dates, only on gaps and teammates.

LevelUp v6 roots (`build_v6_app_root`) are generated the same way, for a whole root at
once: squads of four friends whose shared matches are one row of the warehouse each, and
player files holding only their enrichment rows and `sync_meta`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from sessions_pipeline.levelup.sql.levelup_schema import (
    create_v4_player_tables,
    create_v5_player_tables,
    create_warehouse_tables,
    insert_frame,
)
from sessions_pipeline.levelup.store import StoreOptions, store_sessions
from sessions_pipeline.rules.sessions import SessionParameters

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


# LevelUp v6: a player file keeps only its enrichment rows and sync_meta, and every match
# lives once in the app root's shared warehouse, whoever of its players synced it first.
# The DDL is LevelUp's own (warehouse: `src/data/sync/_engine_connections.py`
# `_SHARED_SCHEMA_SQL`; player file: `src/data/sync/_engine_schema.py` `SYNC_SCHEMA_DDL`).
V6_WAREHOUSE_DDL = """
CREATE TABLE match_registry (
    match_id VARCHAR PRIMARY KEY,
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP,
    playlist_id VARCHAR, playlist_name VARCHAR,
    map_id VARCHAR, map_name VARCHAR,
    pair_id VARCHAR, pair_name VARCHAR,
    game_variant_id VARCHAR, game_variant_name VARCHAR,
    mode_category VARCHAR,
    is_ranked BOOLEAN DEFAULT FALSE,
    is_firefight BOOLEAN DEFAULT FALSE,
    duration_seconds INTEGER,
    team_0_score SMALLINT, team_1_score SMALLINT,
    backfill_completed INTEGER DEFAULT 0,
    participants_loaded BOOLEAN DEFAULT FALSE,
    events_loaded BOOLEAN DEFAULT FALSE,
    medals_loaded BOOLEAN DEFAULT FALSE,
    first_sync_by VARCHAR, first_sync_at TIMESTAMP,
    last_updated_at TIMESTAMP, player_count SMALLINT DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE match_participants (
    match_id VARCHAR NOT NULL, xuid VARCHAR NOT NULL,
    gamertag VARCHAR, team_id INTEGER, outcome INTEGER,
    rank SMALLINT, score INTEGER,
    kills SMALLINT, deaths SMALLINT, assists SMALLINT,
    shots_fired INTEGER, shots_hit INTEGER,
    damage_dealt FLOAT, damage_taken FLOAT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (match_id, xuid)
);
CREATE TABLE xuid_aliases (
    xuid VARCHAR PRIMARY KEY, gamertag VARCHAR NOT NULL,
    last_seen TIMESTAMP, source VARCHAR,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
"""
V6_PLAYER_DDL = """
CREATE TABLE player_match_enrichment (
    match_id VARCHAR PRIMARY KEY,
    performance_score FLOAT,
    session_id VARCHAR,
    session_label VARCHAR,
    is_with_friends BOOLEAN,
    teammates_signature VARCHAR,
    known_teammates_count SMALLINT,
    friends_xuids VARCHAR,
    had_bot_teammate BOOLEAN,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_pme_session ON player_match_enrichment(session_id);
CREATE TABLE sync_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
"""
V6_WAREHOUSE = Path("data") / "warehouse" / "shared_matches_v2.duckdb"
"""Where a v6 root's warehouse is, from the root (LevelUp v6's file name)."""
V6_PLAYER_BASE = 2533274810000000
V6_RANDOM_BASE = 2535400000000000
V6_RANDOM_POOL = 40_000
"""Randoms are drawn from this many xuids, eight distinct slots a match (see `_V6_SQL`)."""
SQUAD_SIZE = 4
V6_MISSING_ENRICHMENT_PERCENT = 3
"""Of a player's matches, about this many in 100 have no enrichment row (a sync that
stopped midway): their signature comes from the warehouse's participants."""
V6_NULL_SIGNATURE_PERCENT = 2
"""Of the enrichment rows there are, about this many in 100 have no signature either."""


@dataclass(frozen=True)
class V6Player:
    """A player of a v6 root: its profile, and its squad mates (its friends)."""

    gamertag: str
    xuid: str
    friends_xuids: frozenset[str]

    def db_path(self, root: Path) -> Path:
        return root / "data" / "players" / self.gamertag / "stats.duckdb"


def v6_players(players: int) -> list[V6Player]:
    """Players 0..n-1 in squads of four (the last may be smaller), friends within a squad."""
    xuids = [str(V6_PLAYER_BASE + index) for index in range(players)]
    return [
        V6Player(
            gamertag=f"Player{index:04d}",
            xuid=xuids[index],
            friends_xuids=frozenset(
                xuids[mate]
                for mate in range(index - index % SQUAD_SIZE, index - index % SQUAD_SIZE + 4)
                if mate < players and mate != index
            ),
        )
        for index in range(players)
    ]


# The matches of every squad, one row each, before any player's history is cut to its
# newest matches. Sessions as in `_TIMELINE_SQL` (2-12 matches about 9 minutes apart, two
# a day), each with a party of the squad: 30 % solo, 30 % the whole squad, the rest two
# members or more; now and then a member sits a match out. Start times are naive Paris
# wall clock (hours that never fall in a DST gap). The squad plays on team `squad_team`
# of the match (0 or 1), randoms filling its free seats and the other team.
_V6_MATCHES_SQL = """
CREATE TEMP TABLE v6_matches AS
WITH squads AS (
    SELECT q, CAST(least($squad_size, $players - $squad_size * q) AS INTEGER) AS size
    FROM range(($players + $squad_size - 1) // $squad_size) AS t(q)
), sessions AS (
    SELECT
        q, size, s,
        2 + CAST(hash(q, s, 1) % 11 AS BIGINT) AS match_count,
        CAST(hash(q, s, 3) % size AS INTEGER) AS first_member,
        CAST(hash(q, s, 4) % greatest(size - 1, 1) AS INTEGER) AS second_offset,
        CASE WHEN hash(q, s, 2) % 100 < 30 THEN 'solo'
             WHEN hash(q, s, 2) % 100 < 60 OR size < 3 THEN 'squad'
             ELSE 'some' END AS kind,
        CAST(hash(q, s, 5) % (1 << size) AS INTEGER) AS extra_members,
        (hash(q, s, 6) % 100 < 40) AS ranked_session,
        $last_day - to_days(CAST(s // 2 AS INTEGER))
            + to_hours(CAST(19 - 6 * (s % 2) AS INTEGER))
            + to_minutes(CAST(hash(q, s, 7) % 60 AS INTEGER)) AS session_start
    FROM squads, range($sessions) AS t(s)
), parties AS (
    SELECT *,
        CASE kind
            WHEN 'solo' THEN 1 << first_member
            WHEN 'squad' THEN (1 << size) - 1
            ELSE (1 << first_member) | (1 << ((first_member + 1 + second_offset) % size))
                 | extra_members
        END AS party
    FROM sessions
), matches AS (
    SELECT *, unnest(range(match_count)) AS k FROM parties
), played AS (
    SELECT *,
        party & ~(1 << CAST(hash(q, s, k, 8) % size AS INTEGER)) AS without_one
    FROM matches
)
SELECT
    md5(concat_ws('-', 'v6', q, s, k)) AS match_id,
    q, size,
    session_start + to_minutes(CAST(9 * k + hash(q, s, k, 9) % 5 AS INTEGER)) AS start_time,
    CASE WHEN hash(q, s, k, 10) % 100 < 5 AND without_one <> 0 THEN without_one
         ELSE party END AS present,
    ranked_session <> (hash(q, s, k, 11) % 100 < 10) AS is_ranked,
    CAST(hash(q, s, k, 12) % 2 AS INTEGER) AS squad_team,
    hash(q, s, k, 13) % 2 = 0 AS squad_won,
    CAST(hash(q, s, k, 14) % $random_pool AS BIGINT) AS random_seed
FROM played
"""

# Each player's part in its squad's matches, cut to its `$limit` newest.
_V6_PLAYS_SQL = """
CREATE TEMP TABLE v6_plays AS
SELECT match_id, start_time, squad_team, player
FROM (
    SELECT
        m.match_id, m.start_time, m.squad_team,
        CAST($squad_size * m.q + member AS INTEGER) AS player,
        row_number() OVER (PARTITION BY m.q, member ORDER BY m.start_time DESC) AS newest
    FROM v6_matches AS m, range($squad_size) AS t(member)
    WHERE member < m.size AND m.present & (1 << CAST(member AS INTEGER)) <> 0
)
WHERE newest <= $limit
"""

# Everyone in every match some player kept: the squad's members that kept it, then
# randoms in the free seats (slots 0-3 the squad's team, 4-7 the other; slot j of a match
# takes xuid seed + j * 4999 of the pool, eight distinct values).
_V6_PARTICIPANTS_SQL = """
CREATE TEMP TABLE v6_participants AS
WITH kept AS (
    SELECT match_id, count(*) AS members FROM v6_plays GROUP BY match_id
), seats AS (
    SELECT m.*, kept.members FROM v6_matches AS m JOIN kept USING (match_id)
)
SELECT p.match_id, m.start_time, CAST($player_base + p.player AS VARCHAR) AS xuid,
       printf('Player%04d', p.player) AS gamertag, m.squad_team AS team_id,
       m.squad_won AS won, p.player AS player
FROM v6_plays AS p JOIN v6_matches AS m USING (match_id)
UNION ALL
SELECT match_id, start_time,
       CAST($random_base + (random_seed + j * 4999) % $random_pool AS VARCHAR) AS xuid,
       printf('Random%05d', (random_seed + j * 4999) % $random_pool) AS gamertag,
       CASE WHEN j < 4 THEN squad_team ELSE 1 - squad_team END AS team_id,
       (j < 4) = squad_won AS won, NULL AS player
FROM seats, range(8) AS t(j)
WHERE j >= members
"""

_V6_REGISTRY_INSERT = """
INSERT INTO match_registry BY NAME
SELECT
    match_id, start_time,
    start_time + to_minutes(CAST(8 + hash(match_id, 1) % 6 AS INTEGER)) AS end_time,
    CASE WHEN is_ranked THEN 'Ranked Arena' ELSE 'Quick Play' END AS playlist_name,
    ['Aquarius', 'Streets', 'Live Fire', 'Recharge', 'Bazaar']
        [CAST(1 + hash(match_id, 2) % 5 AS BIGINT)] AS map_name,
    CASE WHEN hash(match_id, 3) % 3 = 0 THEN 'Slayer' ELSE 'Objective' END AS mode_category,
    is_ranked,
    CAST(480 + hash(match_id, 4) % 360 AS INTEGER) AS duration_seconds,
    CAST(CASE WHEN squad_won = (squad_team = 0) THEN 50 ELSE hash(match_id, 5) % 50 END
         AS SMALLINT) AS team_0_score,
    CAST(CASE WHEN squad_won = (squad_team = 1) THEN 50 ELSE hash(match_id, 6) % 50 END
         AS SMALLINT) AS team_1_score,
    TRUE AS participants_loaded, CAST(8 AS SMALLINT) AS player_count
FROM v6_matches
WHERE match_id IN (SELECT match_id FROM v6_plays)
ORDER BY start_time, match_id
"""

_V6_PARTICIPANTS_INSERT = """
INSERT INTO match_participants BY NAME
SELECT
    match_id, xuid, gamertag, team_id,
    CASE WHEN won THEN 2 ELSE 3 END AS outcome,
    CAST(1 + hash(match_id, xuid, 1) % 8 AS SMALLINT) AS rank,
    CAST(hash(match_id, xuid, 2) % 3000 AS INTEGER) AS score,
    CAST(hash(match_id, xuid, 3) % 25 AS SMALLINT) AS kills,
    CAST(hash(match_id, xuid, 4) % 20 AS SMALLINT) AS deaths,
    CAST(hash(match_id, xuid, 5) % 12 AS SMALLINT) AS assists
FROM v6_participants
ORDER BY start_time, match_id, team_id, xuid
"""

# A player's enrichment rows, oldest first as the sync appends them: its signature is
# its team's other xuids, sorted and comma-joined (LevelUp's `compute_teammates_signature`).
_V6_ENRICHMENT_SQL = """
CREATE TEMP TABLE v6_enrichment AS
WITH teams AS (
    SELECT match_id, team_id, list(xuid ORDER BY xuid) AS team
    FROM v6_participants GROUP BY match_id, team_id
)
SELECT
    p.player, p.match_id, p.start_time,
    CASE WHEN hash(p.match_id, p.player, 2) % 100 >= $null_signature
         THEN array_to_string(
             list_filter(t.team, lambda x: x <> CAST($player_base + p.player AS VARCHAR)), ',')
    END AS teammates_signature,
    CAST(hash(p.match_id, p.player, 3) % 1000 AS FLOAT) / 10 AS performance_score
FROM v6_plays AS p JOIN teams AS t ON t.match_id = p.match_id AND t.team_id = p.squad_team
WHERE hash(p.match_id, p.player, 1) % 100 >= $missing_enrichment
"""


def build_v6_app_root(root: Path, players: int, matches: int) -> list[V6Player]:
    """A LevelUp v6 app root: `players` players of `matches` matches each, one warehouse.

    Players are in squads of four friends (`v6_players`) whose sessions are shared: one
    match row of the warehouse serves every member of the squad who played it. Each
    player's file holds enrichment rows (session columns NULL, a few missing or without a
    signature) and its xuid in `sync_meta`; `db_profiles.json` lists every player with its
    xuid, and the friends file names each player's squad mates by gamertag.
    """
    roster = v6_players(players)
    # Enough squad sessions for every member to reach `matches` (a member plays about
    # 4.4 matches of a session of a squad of four), then each player's newest kept.
    sessions = matches // 3 + 20
    params = {
        "squad_size": SQUAD_SIZE,
        "players": players,
        "sessions": sessions,
        "limit": matches,
        "last_day": LAST_DAY,
        "random_pool": V6_RANDOM_POOL,
        "random_base": V6_RANDOM_BASE,
        "player_base": V6_PLAYER_BASE,
        "missing_enrichment": V6_MISSING_ENRICHMENT_PERCENT,
        "null_signature": V6_NULL_SIGNATURE_PERCENT,
    }

    def run(sql: str) -> None:
        used = {name: value for name, value in params.items() if f"${name}" in sql}
        con.execute(sql, used)

    warehouse = root / V6_WAREHOUSE
    warehouse.parent.mkdir(parents=True)
    with duckdb.connect() as con:
        for sql in (_V6_MATCHES_SQL, _V6_PLAYS_SQL, _V6_PARTICIPANTS_SQL, _V6_ENRICHMENT_SQL):
            run(sql)
        counts = dict(con.sql("SELECT player, count(*) FROM v6_plays GROUP BY player").fetchall())
        if [counts.get(index) for index in range(players)] != [matches] * players:
            raise RuntimeError(f"not every player has {matches} matches: {counts}")
        con.execute(f"ATTACH {_sql_text(warehouse)} AS warehouse")
        con.execute("USE warehouse")
        con.execute(V6_WAREHOUSE_DDL)
        run(_V6_REGISTRY_INSERT)
        run(_V6_PARTICIPANTS_INSERT)
        con.execute(
            "INSERT INTO xuid_aliases (xuid, gamertag, last_seen, source) "
            "SELECT xuid, any_value(gamertag), max(start_time), 'sync' "
            "FROM v6_participants GROUP BY xuid ORDER BY xuid"
        )
        con.execute("USE memory")
        con.execute("DETACH warehouse")
        for index, player in enumerate(roster):
            db_path = player.db_path(root)
            db_path.parent.mkdir(parents=True)
            con.execute(f"ATTACH {_sql_text(db_path)} AS player")
            con.execute("USE player")
            con.execute(V6_PLAYER_DDL)
            con.execute(
                "INSERT INTO player_match_enrichment "
                "(match_id, performance_score, teammates_signature) "
                "SELECT match_id, performance_score, teammates_signature FROM v6_enrichment "
                "WHERE player = $player ORDER BY start_time, match_id",
                {"player": index},
            )
            con.execute(
                "INSERT INTO sync_meta (key, value) VALUES ('xuid', $xuid)", {"xuid": player.xuid}
            )
            con.execute("USE memory")
            con.execute("DETACH player")
    profiles = {
        player.gamertag: {
            "db_path": str(player.db_path(root).relative_to(root)),
            "xuid": player.xuid,
        }
        for player in roster
    }
    (root / "db_profiles.json").write_text(json.dumps({"profiles": profiles}))
    gamertags = {player.xuid: player.gamertag for player in roster}
    friends = {
        player.xuid: sorted(gamertags[xuid] for xuid in player.friends_xuids)
        for player in roster
        if player.friends_xuids
    }
    friends_file = root / ".streamlit" / "friends_defaults.json"
    friends_file.parent.mkdir(parents=True)
    friends_file.write_text(json.dumps(friends))
    return roster


def _sql_text(path: Path) -> str:
    """A path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def build_v6_sensor_root(root: Path, players: int, matches: int, params: SessionParameters) -> None:
    """A LevelUp v6 root of `players` stored players sharing one warehouse.

    Every player played the same `matches` (the timeline above), each alone on a team of
    its own, so one stored file is right for all: it is copied, and each copy given its
    own xuid in `sync_meta`. The warehouse holds `players x matches` participant rows.
    """
    warehouse = root / "data" / "warehouse" / "shared_matches_v2.duckdb"
    warehouse.parent.mkdir(parents=True)
    gamertags = [f"Player{index:04d}" for index in range(players)]
    with duckdb.connect(str(warehouse)) as con:
        create_warehouse_tables(con, layout="v6")
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
        create_v5_player_tables(con, with_mv_session_stats=False)
        con.execute("INSERT INTO sync_meta (key, value) VALUES ('xuid', ?)", [str(V6_XUID_BASE)])
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
