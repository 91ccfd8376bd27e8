"""The sensors over LevelUp v5+ players, whose matches land in the shared warehouse.

A v5+ player file holds only `player_match_enrichment` and `sync_meta`: the sync writes a
new match into the warehouse and leaves the player file alone, so the stability sensor
must watch the warehouse too, without reopening every player each time any of them plays.
How many files a tick reopened, and how many warehouse reads it made, is in its skip
reason: that is the counter these tests read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.sql.levelup_schema import insert_frame
from sessions_pipeline.levelup.store import StoreOptions, store_sessions
from sessions_pipeline.orchestration.definitions import build_definitions
from sessions_pipeline.orchestration.run_config import RUN_CONFIG, sessions_run_config
from sessions_pipeline.orchestration.sensors import SENSOR_LOCK_TIMEOUT_SECONDS
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.levelup_files import (
    append_matches,
    make_player_file,
    make_v6_player_file,
    make_warehouse,
    matches_at,
)
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
        make_warehouse(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO xuid_aliases (xuid, gamertag) VALUES (?, ?)", [xuid, gamertag])
    return make_v6_player_file(player_path(root, gamertag), xuid=xuid, with_mv_session_stats=False)


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
STRANGER = "2533274800000099"
"""A xuid of the warehouse that is no player of the root (a teammate, an opponent)."""
PLAYERS = {"JGtm": JGTM, "Madina97294": MADINA, "Chocoboflor": CHOCO}
STABILITY = "stability_sensor"
HALF = timedelta(minutes=30)
FAULT_PROGRAM = "sessions_pipeline_tests.fault_programs.player_file"
FAULT_MESSAGES = {
    "missing": "no warehouse for ",
    "locked": f"stayed locked by another process for more than {SENSOR_LOCK_TIMEOUT_SECONDS:g} s",
    "broken": "but it is not a valid DuckDB database file",
}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def counted(unchanged: int, reopened: int, warehouse_reads: int) -> str:
    """The stability sensor's counts, as its skip reason states them."""
    return f"({unchanged} files unchanged, {reopened} reopened, {warehouse_reads} warehouse reads)"


@pytest.fixture
def v6_root(tmp_path: Path) -> Path:
    """Three v6 players, each with two old matches in the warehouse, all stored."""
    for gamertag, xuid in PLAYERS.items():
        db_path = make_v6_player(tmp_path, gamertag, xuid)
        start = utc_now() - timedelta(hours=10)
        sync_matches(tmp_path, xuid, [(f"{gamertag}-0", start), (f"{gamertag}-1", start + HALF)])
        store_sessions(db_path, SessionParameters())
    return tmp_path


def fingerprint(path: Path) -> list[int]:
    """The warehouse's fingerprint as the sensor takes it (mtime and size; no WAL here)."""
    stat = path.stat()
    return [stat.st_mtime_ns, stat.st_size, 0, 0]


def keep_bytes_replaced(path: Path) -> None:
    """Junk in place of the file, with its size and mtime: only an open would notice."""
    stat = path.stat()
    path.write_bytes(b"x" * stat.st_size)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@contextmanager
def unreadable(warehouse: Path, fault: str) -> Iterator[None]:
    """The warehouse moved away, held by a writer (LevelUp's sync, in another process:
    DuckDB's lock is per process), or overwritten; as it was again afterwards."""
    if fault == "locked":
        holder = subprocess.Popen(
            [sys.executable, "-m", FAULT_PROGRAM, "hold", str(warehouse), "--seconds", "120"],
            cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline() == "ready\n"
            yield
        finally:
            holder.kill()
            holder.communicate()
        return
    kept = warehouse.read_bytes()
    if fault == "missing":
        warehouse.unlink()
    else:
        warehouse.write_bytes(b"not a duckdb file" * 100)
    try:
        yield
    finally:
        warehouse.write_bytes(kept)


class TestStabilitySensor:
    def test_a_match_synced_into_the_warehouse_only_runs_once_it_crosses(
        self, v6_root: Path, instance: dg.DagsterInstance
    ) -> None:
        jgtm = player_path(v6_root, "JGtm")
        store_sessions(
            jgtm,
            SessionParameters(gap_minutes=90),
            StoreOptions(force=True),
            sources={"gap_minutes": RUN_CONFIG},
        )
        defs = build_definitions(AppRoot(v6_root))
        first = tick(defs, STABILITY, instance, None)
        assert requested(first) == {}
        file_before = jgtm.stat().st_mtime_ns

        crossing_soon = utc_now() - timedelta(hours=4) + timedelta(seconds=2)
        sync_matches(v6_root, JGTM, [("late", crossing_soon)])
        before = tick(defs, STABILITY, instance, first.cursor)

        assert jgtm.stat().st_mtime_ns == file_before, "the sync wrote the warehouse only"
        assert requested(before) == {}
        assert counted(2, 1, 1) in before.skip_message
        next_crossing = json.loads(before.cursor)["JGtm"]["next_crossing"]
        wait = datetime.fromisoformat(next_crossing) - utc_now()
        time.sleep(max(0.0, wait.total_seconds()) + 0.1)

        crossed = tick(defs, STABILITY, instance, before.cursor)

        assert list(requested(crossed)) == ["JGtm"]
        request = requested(crossed)["JGtm"]
        assert request.run_key.startswith("stable:JGtm:")
        assert request.run_config == sessions_run_config(rules={"gap_minutes": 90})
        after = tick(defs, STABILITY, instance, crossed.cursor)
        assert requested(after) == {}

    def test_matches_of_other_players_reopen_nobody_else(
        self, v6_root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(v6_root))
        first = tick(defs, STABILITY, instance, None)
        assert counted(0, 3, 0) in first.skip_message

        sync_matches(v6_root, STRANGER, [("stranger-0", utc_now() - timedelta(hours=1))])
        strangers = tick(defs, STABILITY, instance, first.cursor)

        assert counted(3, 0, 1) in strangers.skip_message
        sync_matches(v6_root, MADINA, [("madina-new", utc_now() - timedelta(hours=1))])
        warehouse_fingerprint = fingerprint(warehouse_of(v6_root))
        madinas = tick(defs, STABILITY, instance, strangers.cursor)

        assert requested(madinas) == {}
        assert counted(2, 1, 1) in madinas.skip_message
        before, after = json.loads(strangers.cursor), json.loads(madinas.cursor)
        assert after["Madina97294"]["warehouse"]["matches"][0] == 3
        assert after["Madina97294"]["next_crossing"] is not None
        for gamertag in ("JGtm", "Chocoboflor"):
            # Checked against the warehouse's new state, and found as they were.
            checked = {**before[gamertag]["warehouse"], "fingerprint": warehouse_fingerprint}
            assert after[gamertag] == {**before[gamertag], "warehouse": checked}
        assert counted(3, 0, 0) in tick(defs, STABILITY, instance, madinas.cursor).skip_message

    def test_players_with_nothing_changed_are_not_reopened(
        self, v6_root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(v6_root))
        first = tick(defs, STABILITY, instance, None)
        keep_bytes_replaced(warehouse_of(v6_root))
        keep_bytes_replaced(player_path(v6_root, "JGtm"))

        second = tick(defs, STABILITY, instance, first.cursor)

        assert second.skip_message == f"no unstored match became stable {counted(3, 0, 0)}"
        assert second.cursor == first.cursor

    def test_a_cursor_of_older_code_reopens_each_player_once(
        self, v6_root: Path, instance: dg.DagsterInstance
    ) -> None:
        """Older code kept no warehouse state: trusting its entries would miss matches."""
        defs = build_definitions(AppRoot(v6_root))
        first = json.loads(tick(defs, STABILITY, instance, None).cursor)
        older = {
            gamertag: {key: value for key, value in entry.items() if key != "warehouse"}
            for gamertag, entry in first.items()
        }

        upgraded = tick(defs, STABILITY, instance, json.dumps(older))

        assert counted(0, 3, 0) in upgraded.skip_message
        assert json.loads(upgraded.cursor) == first

    @pytest.mark.parametrize("fault", ["missing", "locked", "broken"])
    def test_an_unreadable_warehouse_is_reported_and_v4_players_still_run(
        self, v6_root: Path, instance: dg.DagsterInstance, fault: str
    ) -> None:
        veteran = make_player_file(
            player_path(v6_root, "Veteran"), matches_at(datetime(2020, 1, 1), [0, 30])
        )
        store_sessions(veteran, SessionParameters())
        defs = build_definitions(AppRoot(v6_root))
        first = tick(defs, STABILITY, instance, None)
        sync_matches(v6_root, JGTM, [("jgtm-new", utc_now() - timedelta(hours=5))])
        append_matches(veteran, matches_at(datetime(2020, 1, 2), [0], prefix="veteran-new"))

        with unreadable(warehouse_of(v6_root), fault):
            during = tick(defs, STABILITY, instance, first.cursor)
            still = tick(defs, STABILITY, instance, during.cursor)

        assert list(requested(during)) == ["Veteran"]
        assert json.loads(during.cursor)["JGtm"] == json.loads(first.cursor)["JGtm"]
        assert requested(still) == {}
        assert still.skip_message.count(FAULT_MESSAGES[fault]) == len(PLAYERS)
        assert all(f"{gamertag}: " in still.skip_message for gamertag in PLAYERS)
        assert "Veteran" not in still.skip_message
        recovered = tick(defs, STABILITY, instance, still.cursor)
        assert list(requested(recovered)) == ["JGtm"]


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
