"""The run requests of the sensors and the schedule, evaluated as Dagster would evaluate them."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
import pytest

from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.friends import load_friends_config, resolve_friends
from sessions_pipeline.levelup.store import StoreOptions, store_sessions
from sessions_pipeline.orchestration.definitions import JOB_NAME, build_definitions
from sessions_pipeline.orchestration.run_config import RUN_CONFIG, sessions_run_config
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.levelup_files import append_matches, make_player_file, matches_at

GAMERTAGS = ["Chocoboflor", "JGtm", "Madina97294", "XxDaemonGamerxX"]
JGTM_XUID = "2533274823110022"

if TYPE_CHECKING:
    from dagster._core.definitions.schedule_definition import ScheduleExecutionData
    from dagster._core.definitions.sensor_definition import SensorExecutionData


def sensor(defs: dg.Definitions, name: str) -> dg.SensorDefinition:
    return next(s for s in defs.sensors if s.name == name)


def tick(
    defs: dg.Definitions, name: str, instance: dg.DagsterInstance, cursor: str | None
) -> SensorExecutionData:
    """One evaluation, as the daemon runs it: run requests resolved against the job."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return sensor(defs, name).evaluate_tick(context)


def requested(result: SensorExecutionData) -> dict[str, dg.RunRequest]:
    return {request.partition_key: request for request in result.run_requests}


def store_with_resolved_friends(root: Path) -> None:
    """Every player stored as a run would store it, so each file records its friends set."""
    app_root = AppRoot(root)
    config = load_friends_config(app_root.friends_file)
    for player in app_root.players():
        friends = resolve_friends(app_root, player, config).xuids
        store_sessions(player.db_path, SessionParameters(friends_xuids=friends))


def write_friends(root: Path, document: object) -> None:
    (root / ".streamlit" / "friends_defaults.json").write_text(json.dumps(document))


class TestFriendsSensor:
    name = "friends_changed_sensor"

    @pytest.fixture
    def stored_root(self, demo_root: Path) -> Path:
        store_with_resolved_friends(demo_root)
        return demo_root

    def test_nothing_changed_requests_nothing(
        self, stored_root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(stored_root))
        first = tick(defs, self.name, instance, None)
        assert requested(first) == {}
        assert "no player's friends did" in first.skip_message

        second = tick(defs, self.name, instance, first.cursor)
        assert requested(second) == {}
        assert "unchanged" in second.skip_message

    def test_one_players_friends_changed_requests_one_forced_run(
        self, stored_root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(stored_root))
        cursor = tick(defs, self.name, instance, None).cursor
        document = json.loads((stored_root / ".streamlit" / "friends_defaults.json").read_text())
        document[JGTM_XUID] = ["Madina97294", "~Chocoboflor"]
        write_friends(stored_root, document)

        changed = tick(defs, self.name, instance, cursor)

        assert list(requested(changed)) == ["JGtm"]
        request = requested(changed)["JGtm"]
        assert request.run_config == sessions_run_config(force=True)
        assert request.run_key.startswith("friends:JGtm:")
        assert request.tags["dagster/partition"] == "JGtm"
        again = tick(defs, self.name, instance, cursor)
        assert [r.run_key for r in again.run_requests] == [request.run_key]
        after = tick(defs, self.name, instance, changed.cursor)
        assert requested(after) == {}

    def test_the_first_tick_corrects_files_stored_with_other_friends(
        self, demo_root: Path, instance: dg.DagsterInstance
    ) -> None:
        store_sessions(
            demo_root / "data" / "players" / "JGtm" / "stats.duckdb",
            SessionParameters(friends_xuids=frozenset({"2533274800000001"})),
        )
        defs = build_definitions(AppRoot(demo_root))

        assert list(requested(tick(defs, self.name, instance, None))) == ["JGtm"]

    def test_a_broken_friends_file_skips_with_its_error(
        self, stored_root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(stored_root))
        cursor = tick(defs, self.name, instance, None).cursor
        (stored_root / ".streamlit" / "friends_defaults.json").write_text('{"123": ["a",}')

        result = tick(defs, self.name, instance, cursor)

        assert requested(result) == {}
        assert "friends_defaults.json: invalid JSON" in result.skip_message

    def test_a_broken_player_file_is_reported_and_retried_the_others_proceed(
        self, stored_root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(stored_root))
        cursor = tick(defs, self.name, instance, None).cursor
        madina = stored_root / "data" / "players" / "Madina97294" / "stats.duckdb"
        healthy = madina.read_bytes()
        madina.write_bytes(b"not a duckdb file" * 100)
        write_friends(stored_root, {JGTM_XUID: ["Madina97294"]})

        result = tick(defs, self.name, instance, cursor)

        assert sorted(requested(result)) == ["Chocoboflor", "JGtm", "XxDaemonGamerxX"]
        assert json.loads(result.cursor)["pending"] == ["Madina97294"]
        madina.write_bytes(healthy)
        retried = tick(defs, self.name, instance, result.cursor)
        assert list(requested(retried)) == ["Madina97294"]
        assert json.loads(retried.cursor)["pending"] == []

    def test_a_player_not_in_the_loaded_partitions_asks_for_a_reload(
        self, stored_root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(stored_root))
        cursor = tick(defs, self.name, instance, None).cursor
        newcomer = stored_root / "data" / "players" / "Newcomer" / "stats.duckdb"
        newcomer.parent.mkdir()
        newcomer.write_bytes((stored_root / "data/players/JGtm/stats.duckdb").read_bytes())
        document = json.loads((stored_root / ".streamlit" / "friends_defaults.json").read_text())
        write_friends(stored_root, {**document, "999": ["JGtm"]})

        result = tick(defs, self.name, instance, cursor)

        assert requested(result) == {}
        assert "Newcomer: not a partition of the loaded definitions; reload" in (
            result.skip_message
        )


class TestStabilitySensor:
    name = "stability_sensor"

    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        """JGtm: two old matches (stored) and one that becomes stable 2 s from now."""
        now = datetime.now(UTC).replace(tzinfo=None)
        crossing_soon = now - timedelta(hours=4) + timedelta(seconds=2)
        make_player_file(
            tmp_path / "data" / "players" / "JGtm" / "stats.duckdb",
            [*matches_at(now - timedelta(hours=10), [0, 30]), ("late", crossing_soon, None)],
        )
        store_sessions(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb", SessionParameters())
        return tmp_path

    def test_a_match_crossing_the_threshold_requests_one_run(
        self, root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(root))
        before = tick(defs, self.name, instance, None)
        assert requested(before) == {}
        assert "no unstored match became stable" in before.skip_message
        next_crossing = json.loads(before.cursor)["JGtm"]["next_crossing"]
        wait = datetime.fromisoformat(next_crossing) - datetime.now(UTC).replace(tzinfo=None)
        time.sleep(max(0.0, wait.total_seconds()) + 0.1)

        crossed = tick(defs, self.name, instance, before.cursor)

        request = requested(crossed)["JGtm"]
        assert request.run_config == sessions_run_config()
        assert request.run_key.startswith("stable:JGtm:")
        after = tick(defs, self.name, instance, crossed.cursor)
        assert requested(after) == {}

    def test_an_unchanged_file_is_not_reopened(
        self, root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(root))
        db_path = root / "data" / "players" / "JGtm" / "stats.duckdb"
        first = tick(defs, self.name, instance, None)
        stat = db_path.stat()
        db_path.write_bytes(b"x" * stat.st_size)
        os.utime(db_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

        second = tick(defs, self.name, instance, first.cursor)

        assert requested(second) == {}
        assert "(1 files unchanged, 0 reopened, 0 warehouse reads)" in second.skip_message
        assert second.cursor == first.cursor

    def test_new_matches_from_the_sync_are_seen_on_the_next_tick(
        self, root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(root))
        first = tick(defs, self.name, instance, None)
        db_path = root / "data" / "players" / "JGtm" / "stats.duckdb"
        append_matches(db_path, matches_at(datetime(2020, 1, 1), [0], prefix="old"))

        result = tick(defs, self.name, instance, first.cursor)

        assert list(requested(result)) == ["JGtm"]

    def test_the_run_keeps_the_gap_the_file_was_stored_with(
        self, root: Path, instance: dg.DagsterInstance
    ) -> None:
        """Sending the default gap would recompute a file a user re-cut at 90 minutes."""
        db_path = root / "data" / "players" / "JGtm" / "stats.duckdb"
        store_sessions(
            db_path,
            SessionParameters(gap_minutes=90),
            StoreOptions(force=True),
            sources={"gap_minutes": RUN_CONFIG},
        )
        append_matches(db_path, matches_at(datetime(2020, 1, 1), [0], prefix="old"))

        result = tick(build_definitions(AppRoot(root)), self.name, instance, None)

        assert requested(result)["JGtm"].run_config == sessions_run_config(
            rules={"gap_minutes": 90}
        )

    def test_a_broken_player_file_skips_with_its_error(
        self, root: Path, instance: dg.DagsterInstance
    ) -> None:
        broken = root / "data" / "players" / "Broken" / "stats.duckdb"
        make_player_file(broken, [])
        defs = build_definitions(AppRoot(root))
        with duckdb.connect(str(broken)) as con:
            con.execute("DROP TABLE match_stats")

        result = tick(defs, self.name, instance, None)

        assert requested(result) == {}
        assert "Broken: the file has no match_stats table" in result.skip_message


class TestDailySchedule:
    @staticmethod
    def tick(defs: dg.Definitions) -> ScheduleExecutionData:
        (schedule,) = defs.schedules
        context = dg.build_schedule_context(
            scheduled_execution_time=datetime(2026, 2, 8, 5, 0, tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
        return schedule.evaluate_tick(context)

    def test_requests_a_default_run_for_every_player(self, demo_root: Path) -> None:
        defs = build_definitions(AppRoot(demo_root))

        requests = self.tick(defs).run_requests

        assert [r.partition_key for r in requests] == GAMERTAGS
        assert [r.tags["dagster/partition"] for r in requests] == GAMERTAGS
        assert {r.run_key for r in requests} == {f"daily:{g}:2026-02-08" for g in GAMERTAGS}
        assert all(r.run_config == sessions_run_config() for r in requests)
        assert defs.schedules[0].job_name == JOB_NAME

    def test_each_player_keeps_the_gap_its_file_was_stored_with(self, demo_root: Path) -> None:
        db_path = demo_root / "data" / "players" / "JGtm" / "stats.duckdb"
        store_sessions(
            db_path,
            SessionParameters(gap_minutes=90),
            StoreOptions(force=True),
            sources={"gap_minutes": RUN_CONFIG},
        )

        requests = self.tick(build_definitions(AppRoot(demo_root))).run_requests

        configs = {r.partition_key: r.run_config for r in requests}
        assert configs.pop("JGtm") == sessions_run_config(rules={"gap_minutes": 90})
        assert all(config == sessions_run_config() for config in configs.values())

    def test_skips_an_empty_root(self, tmp_path: Path) -> None:
        result = self.tick(build_definitions(AppRoot(tmp_path)))

        assert result.run_requests == []
        assert "no player file" in result.skip_message


class TestStoredFilesSensor:
    """Files stored outside this instance must not show as Missing: the sensor reports them."""

    name = "stored_files_sensor"
    stored_sessions = dg.AssetKey("stored_sessions")

    @staticmethod
    def report(instance: dg.DagsterInstance, result: SensorExecutionData) -> None:
        """What the sensor daemon does with a tick's asset events."""
        for event in result.asset_events:
            instance.report_runless_asset_event(event)

    def test_the_first_tick_makes_files_stored_elsewhere_materialized(
        self, demo_root: Path, instance: dg.DagsterInstance
    ) -> None:
        store_with_resolved_friends(demo_root)
        defs = build_definitions(AppRoot(demo_root))
        assert instance.get_materialized_partitions(self.stored_sessions) == set()

        first = tick(defs, self.name, instance, None)
        self.report(instance, first)

        assert instance.get_materialized_partitions(self.stored_sessions) == set(GAMERTAGS)
        assert first.skip_message == f"reported the stores of {', '.join(GAMERTAGS)}"
        jgtm = next(e for e in first.asset_events if e.partition == "JGtm")
        assert jgtm.metadata["sessions_stored"].value == stored_session_count(demo_root) > 10
        assert "outside this Dagster instance" in jgtm.metadata["summary"].value
        unchanged = tick(defs, self.name, instance, first.cursor)
        assert unchanged.asset_events == []
        assert "the instance knows every store" in unchanged.skip_message
        forgotten_cursor = tick(defs, self.name, instance, None)
        assert forgotten_cursor.asset_events == []

    def test_runs_of_this_instance_are_not_reported_again(
        self, demo_root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(demo_root))
        for gamertag in GAMERTAGS:
            result = defs.resolve_job_def(JOB_NAME).execute_in_process(
                instance=instance, partition_key=gamertag
            )
            assert result.success

        assert tick(defs, self.name, instance, None).asset_events == []

    def test_a_later_store_outside_the_instance_is_reported(
        self, demo_root: Path, instance: dg.DagsterInstance
    ) -> None:
        defs = build_definitions(AppRoot(demo_root))
        assert (
            defs.resolve_job_def(JOB_NAME)
            .execute_in_process(instance=instance, partition_key="JGtm")
            .success
        )
        cursor = tick(defs, self.name, instance, None).cursor
        db_path = demo_root / "data" / "players" / "JGtm" / "stats.duckdb"
        store_sessions(
            db_path,
            SessionParameters(gap_minutes=90),
            StoreOptions(force=True),
            sources={"gap_minutes": RUN_CONFIG},
        )

        result = tick(defs, self.name, instance, cursor)

        assert [(e.partition, e.metadata["gap_minutes"].value) for e in result.asset_events] == [
            ("JGtm", 90)
        ]

    def test_never_stored_and_broken_files_report_nothing(
        self, demo_root: Path, instance: dg.DagsterInstance
    ) -> None:
        broken = demo_root / "data" / "players" / "XxDaemonGamerxX" / "stats.duckdb"
        broken.write_bytes(b"not a duckdb file" * 100)
        defs = build_definitions(AppRoot(demo_root))

        result = tick(defs, self.name, instance, None)

        assert result.asset_events == []
        assert "XxDaemonGamerxX: " in result.skip_message
        assert "XxDaemonGamerxX" not in json.loads(result.cursor)

    def test_it_runs_by_default_and_launches_nothing(self, demo_root: Path) -> None:
        stored_files = sensor(build_definitions(AppRoot(demo_root)), self.name)
        assert stored_files.default_status == dg.DefaultSensorStatus.RUNNING
        assert stored_files.targets == []


def stored_session_count(root: Path, gamertag: str = "JGtm") -> int:
    with duckdb.connect(str(root / "data" / "players" / gamertag / "stats.duckdb")) as con:
        [(count,)] = con.sql("SELECT count(DISTINCT session_id) FROM match_stats").fetchall()
    return count


def test_sensors_target_the_job_with_sensible_intervals(demo_root: Path) -> None:
    defs = build_definitions(AppRoot(demo_root))
    intervals = {s.name: s.minimum_interval_seconds for s in defs.sensors}
    assert intervals == {
        "friends_changed_sensor": 60,
        "stability_sensor": 300,
        "stored_files_sensor": 120,
    }
    assert {s.job_name for s in defs.sensors if s.targets} == {JOB_NAME}
    assert len([s for s in defs.sensors if s.targets]) == 2
