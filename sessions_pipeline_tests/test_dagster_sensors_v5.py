"""The sensors over LevelUp v5+ players, whose matches land in the shared warehouse.

A v5+ player file holds only `player_match_enrichment` and `sync_meta`: its xuid, its
friends' names and its matches are in the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from sessions_pipeline.app_root import AppRoot
from sessions_pipeline.definitions import build_definitions
from sessions_pipeline.rules import SessionParameters
from sessions_pipeline.run_config import sessions_run_config
from sessions_pipeline.sql.levelup_schema import insert_frame
from sessions_pipeline.sql.levelup_v6_schema import create_player_tables, create_warehouse_tables
from sessions_pipeline.store import store_sessions
from sessions_pipeline_tests.test_dagster_sensors import requested, tick

# ---------------------------------------------------------------- v6 builders


def warehouse_of(root: Path) -> Path:
    return root / "data" / "warehouse" / "shared_matches_v2.duckdb"


def player_path(root: Path, gamertag: str) -> Path:
    return root / "data" / "players" / gamertag / "stats.duckdb"


def make_v6_player(root: Path, gamertag: str, xuid: str) -> Path:
    """A v6 player file as the sync first leaves it, and its alias in the root's warehouse
    (created empty if the root has none)."""
    warehouse = warehouse_of(root)
    if not warehouse.exists():
        warehouse.parent.mkdir(parents=True)
        with duckdb.connect(str(warehouse)) as con:
            create_warehouse_tables(con)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO xuid_aliases VALUES (?, ?)", [xuid, gamertag])
    path = player_path(root, gamertag)
    path.parent.mkdir(parents=True)
    with duckdb.connect(str(path)) as con:
        create_player_tables(con, xuid)
    return path


def sync_matches(root: Path, xuid: str, starts: Sequence[tuple[str, datetime]]) -> None:
    """New matches of one player (alone on team 0) as they land in the warehouse, with no
    write to the player's file, as when a friend's sync brings a match they played
    together. Starts are UTC instants, stored as Paris wall clock as the sync does."""
    registry = pl.DataFrame(
        {
            "match_id": [match_id for match_id, _ in starts],
            "start_time": [start.replace(tzinfo=UTC) for _, start in starts],
        }
    )
    participants = registry.select("match_id", xuid=pl.lit(xuid), team_id=pl.lit(0))
    with duckdb.connect(str(warehouse_of(root))) as con:
        insert_frame(con, "match_registry", registry)
        insert_frame(con, "match_participants", participants)


# ---------------------------------------------------------------- the tests

JGTM, MADINA, CHOCO = "2533274823110022", "2533274858283686", "2535469190789936"
PLAYERS = {"JGtm": JGTM, "Madina97294": MADINA, "Chocoboflor": CHOCO}
HALF = timedelta(minutes=30)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture
def v6_root(tmp_path: Path) -> Path:
    """Three v6 players, each with two old matches in the warehouse, all stored."""
    for gamertag, xuid in PLAYERS.items():
        db_path = make_v6_player(tmp_path, gamertag, xuid)
        start = utc_now() - timedelta(hours=10)
        sync_matches(tmp_path, xuid, [(f"{gamertag}-0", start), (f"{gamertag}-1", start + HALF)])
        store_sessions(db_path, SessionParameters())
    return tmp_path


class TestStoredFilesSensor:
    def test_a_v6_file_stored_outside_the_instance_is_reported(
        self, v6_root: Path, instance: dg.DagsterInstance
    ) -> None:
        stored_sessions = dg.AssetKey("stored_sessions")
        defs = build_definitions(AppRoot(v6_root))

        first = tick(defs, "stored_files_sensor", instance, None)
        for event in first.asset_events:
            instance.report_runless_asset_event(event)

        assert instance.get_materialized_partitions(stored_sessions) == set(PLAYERS)
        jgtm = next(event for event in first.asset_events if event.partition == "JGtm")
        assert jgtm.metadata["stored_matches"].value == 2
        assert jgtm.metadata["sessions_stored"].value == 1
        again = tick(defs, "stored_files_sensor", instance, first.cursor)
        assert again.asset_events == []


class TestFriendsSensor:
    def test_a_friend_named_in_the_warehouse_only_requests_one_forced_run(
        self, v6_root: Path, instance: dg.DagsterInstance
    ) -> None:
        """JGtm's xuid is in its sync_meta, Madina's name in the warehouse's xuid_aliases."""
        defs = build_definitions(AppRoot(v6_root))
        cursor = tick(defs, "friends_changed_sensor", instance, None).cursor
        friends_file = AppRoot(v6_root).friends_file
        friends_file.parent.mkdir()
        friends_file.write_text(json.dumps({JGTM: ["madina97294"]}))

        changed = tick(defs, "friends_changed_sensor", instance, cursor)

        assert list(requested(changed)) == ["JGtm"]
        assert requested(changed)["JGtm"].run_config == sessions_run_config(force=True)
        assert json.loads(changed.cursor)["friends"]["JGtm"] == [MADINA]
