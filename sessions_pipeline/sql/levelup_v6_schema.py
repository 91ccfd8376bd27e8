"""The tables of a LevelUp v6 root, as its sync creates them, for the tests and benchmarks.

As with `levelup_schema` (v4), the pipeline never creates these in a real root. Only the
columns the pipeline reads are here, typed as LevelUp declares them: the warehouse's from
`src/data/sync/_engine_connections.py` `_SHARED_SCHEMA_SQL`, the player file's from
`src/data/sync/_engine_schema.py` `SYNC_SCHEMA_DDL`. Kept apart and small until
`levelup_schema` builds every layout.
"""

from __future__ import annotations

import duckdb

WAREHOUSE_DDL = """
CREATE TABLE match_registry (
    match_id VARCHAR PRIMARY KEY, start_time TIMESTAMP NOT NULL,
    is_ranked BOOLEAN DEFAULT FALSE
);
CREATE TABLE match_participants (
    match_id VARCHAR NOT NULL, xuid VARCHAR NOT NULL, gamertag VARCHAR, team_id INTEGER,
    outcome INTEGER, kills SMALLINT, deaths SMALLINT, assists SMALLINT,
    PRIMARY KEY (match_id, xuid)
);
CREATE TABLE xuid_aliases (xuid VARCHAR PRIMARY KEY, gamertag VARCHAR NOT NULL);
"""
PLAYER_FILE_DDL = """
CREATE TABLE player_match_enrichment (
    match_id VARCHAR PRIMARY KEY, performance_score FLOAT, session_id VARCHAR,
    session_label VARCHAR, is_with_friends BOOLEAN, teammates_signature VARCHAR,
    known_teammates_count SMALLINT, friends_xuids VARCHAR, had_bot_teammate BOOLEAN,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE sync_meta (
    key VARCHAR PRIMARY KEY, value VARCHAR, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
"""


def create_warehouse_tables(con: duckdb.DuckDBPyConnection) -> None:
    """`match_registry`, `match_participants` and `xuid_aliases`, empty."""
    con.execute(WAREHOUSE_DDL)


def create_player_tables(con: duckdb.DuckDBPyConnection, xuid: str) -> None:
    """A player file as the sync first leaves it: its xuid in `sync_meta`, no enrichment."""
    con.execute(PLAYER_FILE_DDL)
    con.execute("INSERT INTO sync_meta (key, value) VALUES ('xuid', ?)", [xuid])
