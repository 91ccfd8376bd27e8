"""The whole surface on a LevelUp v6 root (the demo's default layout): the assets and their
metadata, both checks, a range run as the UI's backfills launch it, the schedule, the
command line and the dashboard, all reading matches from the shared warehouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from sessions_pipeline.entry_points.cli import main
from sessions_pipeline.levelup.app_root import HOME_ENV_VAR, AppRoot
from sessions_pipeline.levelup.store import find_unstored_stable
from sessions_pipeline.orchestration.definitions import JOB_NAME, build_definitions
from sessions_pipeline.orchestration.player_ranges import RANGE_END_TAG, RANGE_START_TAG
from sessions_pipeline.orchestration.run_config import sessions_run_config
from sessions_pipeline_tests.levelup_files import DEMO_NOW, make_v6_player_file, make_warehouse
from sessions_pipeline_tests.sessions_reference import file_digest

GAMERTAGS = ["Chocoboflor", "JGtm", "Madina97294", "XxDaemonGamerxX"]
PAGE = Path(__file__).parents[1] / "sessions_pipeline" / "entry_points" / "dashboard.py"


def player_file(root: Path, gamertag: str) -> Path:
    return root / "data" / "players" / gamertag / "stats.duckdb"


def stored_ids(root: Path, gamertag: str) -> list[str | None]:
    with duckdb.connect(str(player_file(root, gamertag)), read_only=True) as con:
        rows = con.sql("SELECT session_id FROM player_match_enrichment").fetchall()
    return [session_id for (session_id,) in rows]


@pytest.fixture
def defs(demo_v6_root: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    monkeypatch.setenv(HOME_ENV_VAR, str(demo_v6_root))
    return build_definitions(AppRoot.from_env())


def test_a_v6_player_materializes_and_its_checks_pass(
    defs: dg.Definitions, demo_v6_root: Path
) -> None:
    warehouse = demo_v6_root / "data" / "warehouse" / "shared_matches_v2.duckdb"
    untouched = file_digest(warehouse)

    result = dg.materialize(
        [*defs.assets, *defs.asset_checks], partition_key="JGtm", run_config=sessions_run_config()
    )

    assert result.success
    metadata = {
        node: {
            k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()
        }
        for node in ("friends_xuids", "match_timeline", "stored_sessions")
    }
    assert metadata["friends_xuids"]["friends_count"] == 3
    assert "Madina97294" in metadata["friends_xuids"]["friends"]
    assert metadata["match_timeline"]["layout"] == "v6"
    assert metadata["match_timeline"]["orphan_enrichment_rows"] == 0
    stored = metadata["stored_sessions"]
    assert stored["written_table"] == "player_match_enrichment"
    assert stored["written"] == metadata["match_timeline"]["stable"] > 0
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"no_drift": True, "no_unstored_stable_match": True}
    assert find_unstored_stable(player_file(demo_v6_root, "JGtm"), now=datetime.now(UTC)).is_empty()
    assert file_digest(warehouse) == untouched


def test_a_range_run_over_v6_players_stores_each(demo_v6_root: Path) -> None:
    """What a backfill launched from the UI runs: a range of partitions in one run."""
    job = build_definitions(AppRoot(demo_v6_root)).resolve_job_def(JOB_NAME)
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            run_config=sessions_run_config(),
            instance=instance,
            tags={RANGE_START_TAG: GAMERTAGS[0], RANGE_END_TAG: GAMERTAGS[-1]},
        )
    assert result.success
    for gamertag in GAMERTAGS:
        assert any(session_id is not None for session_id in stored_ids(demo_v6_root, gamertag))
    assert all(e.passed for e in result.get_asset_check_evaluations())


def test_backfill_show_and_the_schedule_on_a_v6_root(
    demo_v6_root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["backfill", "--all", "--root", str(demo_v6_root)]) == 0
    capsys.readouterr()

    assert main(["show", "--gamertag", "JGtm", "--limit", "3", "--root", str(demo_v6_root)]) == 0
    out = capsys.readouterr().out
    assert "JGtm: 3 sessions, newest first" in out
    assert "friends_defaults.json" in out

    defs = build_definitions(AppRoot(demo_v6_root))
    schedule = defs.resolve_schedule_def("daily_sessions_backfill")
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=DEMO_NOW.replace(tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
        requests = schedule.evaluate_tick(context).run_requests
    assert sorted(request.partition_key for request in requests) == GAMERTAGS


def test_the_dashboard_shows_a_v6_player(
    demo_v6_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["backfill", "--gamertag", "JGtm", "--root", str(demo_v6_root)]) == 0
    monkeypatch.setenv(HOME_ENV_VAR, str(demo_v6_root))
    app = AppTest.from_file(str(PAGE), default_timeout=60)
    app.query_params["player"] = "JGtm"
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    [table] = [frame for frame in app.dataframe if "why it started" in frame.value.columns]
    assert len(table.value) > 100
    parameters = {row[0]: row[1] for row in app.table[0].value.itertuples(index=False)}
    assert "Madina97294" in parameters["friends_xuids"]


def test_a_v6_player_known_only_by_its_profile_is_found_in_the_warehouse(tmp_path: Path) -> None:
    """No xuid in its file's sync_meta, and a folder that is not its gamertag: its profile's
    xuid names it among the warehouse's participants, for the run's every step."""
    start = datetime(2026, 2, 7, 19, 0)
    make_warehouse(
        tmp_path / "data" / "warehouse" / "shared_matches_v2.duckdb",
        [(f"m{i}", start + timedelta(minutes=20 * i), False) for i in range(3)],
        [(f"m{i}", "2533274800000077", 0) for i in range(3)],
    )
    make_v6_player_file(tmp_path / "data" / "players" / "old_folder" / "stats.duckdb")
    profile = {"db_path": "data/players/old_folder/stats.duckdb", "xuid": "2533274800000077"}
    (tmp_path / "db_profiles.json").write_text(json.dumps({"profiles": {"Renamed": profile}}))
    defs = build_definitions(AppRoot(tmp_path))

    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        partition_key="Renamed",
        run_config=sessions_run_config(),
    )

    assert result.success
    [stored] = result.asset_materializations_for_node("stored_sessions")
    assert stored.metadata["written"].value == 3
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert main(["show", "--gamertag", "Renamed", "--root", str(tmp_path)]) == 0
