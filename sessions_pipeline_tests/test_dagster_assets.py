"""The code location: definitions over a root, real runs of the assets, the run config."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from sessions_pipeline.entry_points.demo import OLD_SQUAD_MATE
from sessions_pipeline.levelup.app_root import HOME_ENV_VAR, AppRoot
from sessions_pipeline.levelup.store import find_unstored_stable
from sessions_pipeline.orchestration.dagster_internals import CHECKED_ON
from sessions_pipeline.orchestration.definitions import JOB_NAME, build_definitions
from sessions_pipeline.orchestration.run_config import sessions_run_config
from sessions_pipeline_tests.levelup_files import read_match_stats

GAMERTAGS = ["Chocoboflor", "JGtm", "Madina97294", "XxDaemonGamerxX"]
ASSET_NAMES = ["friends_xuids", "match_timeline", "computed_sessions", "stored_sessions"]


@pytest.fixture
def defs(demo_root: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    monkeypatch.setenv(HOME_ENV_VAR, str(demo_root))
    return build_definitions(AppRoot.from_env())


def materialize(
    defs: dg.Definitions,
    run_config: dict,
    *,
    instance: dg.DagsterInstance | None = None,
    partition_key: str = "JGtm",
) -> dg.ExecuteInProcessResult:
    """The four assets and their checks, as the job selects them, for one player."""
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        partition_key=partition_key,
        run_config=run_config,
        instance=instance,
    )


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (event,) = result.asset_materializations_for_node(asset)
    return {key: value.value for key, value in event.metadata.items()}


def session_ids(root: Path, gamertag: str = "JGtm") -> list[object]:
    return read_match_stats(root / "data" / "players" / gamertag / "stats.duckdb")[
        "session_id"
    ].to_list()


def test_every_player_of_the_root_is_a_partition(defs: dg.Definitions) -> None:
    job = defs.resolve_job_def(JOB_NAME)
    assert job.partitions_def.get_partition_keys() == GAMERTAGS
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert sorted(specs) == sorted(ASSET_NAMES)
    assert {spec.group_name for spec in specs.values()} == {"sessions"}
    assert [dep.asset_key for dep in specs["match_timeline"].deps] == [dg.AssetKey("friends_xuids")]
    assert {dep.asset_key.to_user_string() for dep in specs["stored_sessions"].deps} == {
        "computed_sessions"
    }
    assert sorted(job.asset_layer.asset_graph.get_all_asset_keys()) == sorted(
        dg.AssetKey(name) for name in ASSET_NAMES
    )
    check_names = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert check_names == {"no_drift", "no_unstored_stable_match"}


def test_a_player_file_added_later_is_a_partition_of_the_next_load(demo_root: Path) -> None:
    root = AppRoot(demo_root)
    before = build_definitions(root).resolve_job_def(JOB_NAME).partitions_def
    new_player = demo_root / "data" / "players" / "Newcomer" / "stats.duckdb"
    new_player.parent.mkdir(parents=True)
    new_player.write_bytes((demo_root / "data/players/JGtm/stats.duckdb").read_bytes())
    after = build_definitions(root).resolve_job_def(JOB_NAME).partitions_def
    assert "Newcomer" not in before.get_partition_keys()
    assert "Newcomer" in after.get_partition_keys()


def test_an_empty_root_loads_with_no_partition(tmp_path: Path) -> None:
    defs = build_definitions(AppRoot(tmp_path))
    assert defs.resolve_job_def(JOB_NAME).partitions_def.get_partition_keys() == []


def test_materializing_a_player_stores_its_sessions_and_describes_them(
    defs: dg.Definitions, demo_root: Path
) -> None:
    result = materialize(defs, sessions_run_config())

    assert result.success
    friends = metadata(result, "friends_xuids")
    assert friends["source"] == "config"
    assert friends["friends_count"] == 3
    assert "Madina97294" in friends["friends"]
    assert friends["inactive_skipped"] == OLD_SQUAD_MATE.gamertag
    timeline = metadata(result, "match_timeline")
    assert timeline["matches"] == timeline["stable"] + timeline["recent"] > 0
    assert timeline["already_stored"] == 0
    computed = metadata(result, "computed_sessions")
    assert computed["gap_minutes"] == 120
    assert "friend_joined" in computed["break_reasons"]
    assert computed["latest_sessions"].startswith("| session_id | session_label |")
    stored = metadata(result, "stored_sessions")
    assert stored["written"] == stored["filled"] == timeline["stable"]
    assert stored["sessions_stored"] > 0
    assert stored["dry_run"] is False
    assert "stored" in stored["summary"]
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {"no_drift": True, "no_unstored_stable_match": True}
    db_path = demo_root / "data" / "players" / "JGtm" / "stats.duckdb"
    assert find_unstored_stable(db_path).is_empty()

    again = materialize(defs, sessions_run_config())
    assert metadata(again, "stored_sessions")["written"] == 0
    assert metadata(again, "match_timeline")["already_stored"] == stored["written"]


def test_a_dry_run_observes_what_would_change_and_writes_nothing(
    defs: dg.Definitions, demo_root: Path
) -> None:
    result = materialize(defs, sessions_run_config(dry_run=True))

    assert result.success
    assert result.asset_materializations_for_node("stored_sessions") == []
    (observation,) = result.asset_observations_for_node("stored_sessions")
    assert observation.partition == "JGtm"
    assert observation.metadata["dry_run"].value is True
    assert observation.metadata["written"].value > 0
    assert observation.metadata["would_change"].value.startswith("| match_id |")
    assert set(session_ids(demo_root)) == {None}
    assert result.get_asset_check_evaluations() == []


def test_gap_minutes_and_force_reach_the_store(defs: dg.Definitions) -> None:
    first = materialize(defs, sessions_run_config())
    regrouped = materialize(defs, sessions_run_config(rules={"gap_minutes": 30}, force=True))

    assert metadata(regrouped, "computed_sessions")["gap_minutes"] == 30
    stored = metadata(regrouped, "stored_sessions")
    assert stored["force"] is True
    assert stored["repaired"] > 0
    assert stored["sessions_stored"] > metadata(first, "stored_sessions")["sessions_stored"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"computed_sessions": {"config": {"gap_minutes": 0}}}, "greater than 0"),
        ({"computed_sessions": {"config": {"gap_minutes": -5}}}, "greater than 0"),
        ({"computed_sessions": {"config": {"gap_minutes": "soon"}}}, "gap_minutes"),
        ({"computed_sessions": {"config": {"gap": 90}}}, 'unexpected config entry "gap"'),
        (
            {"computed_sessions": {"config": {"start_time_zone": "Europe/Atlantis"}}},
            "start_time_zone 'Europe/Atlantis' is not an IANA time zone",
        ),
        (
            {"computed_sessions": {"config": {"label_time_zone": "CEST"}}},
            "label_time_zone 'CEST' is not an IANA time zone",
        ),
        (
            {"computed_sessions": {"config": {"team_change_mode": "random"}}},
            "team_change_mode 'random' is not one of friends, group, ignore",
        ),
        ({"computed_sessions": {"config": {"split_on_ranked_change": "yes"}}}, "split_on"),
        ({"stored_sessions": {"config": {"dry_run": "yes"}}}, "dry_run"),
        ({"stored_sessions": {"config": {"overwrite": True}}}, "overwrite"),
    ],
)
def test_bad_run_config_is_refused_before_any_run(
    defs: dg.Definitions, demo_root: Path, config: dict, message: str
) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        with pytest.raises(dg.DagsterInvalidConfigError, match=message):
            materialize(defs, {"ops": config}, instance=instance)
        assert instance.get_runs() == []
    assert set(session_ids(demo_root)) == {None}


def test_pin_refuse_before_run_on_this_dagster(defs: dg.Definitions, demo_root: Path) -> None:
    """Pins `dagster_internals.shape_refusing`: a pydantic bound refused before any run."""
    revisit = (
        f"Dagster {dg.__version__}: revisit sessions_pipeline/orchestration/dagster_internals.py "
        "refuse-before-run (PostProcessingError, ConfigType.post_process, Shape.__new__)"
    )
    with dg.DagsterInstance.ephemeral() as instance:
        try:
            bad_gap = {"ops": {"computed_sessions": {"config": {"gap_minutes": 0}}}}
            materialize(defs, bad_gap, instance=instance)
            refused = "nothing"
        except Exception as error:  # any other outcome is what the message must show
            refused = f"{type(error).__name__}: {error}"
        runs = instance.get_runs()

    expected = "ComputedSessionsConfig: gap_minutes: Input should be greater than 0"
    assert refused.startswith("DagsterInvalidConfigError") and expected in refused, (
        f"{revisit}: gap_minutes 0 gave {refused[:300]!r}"
    )
    assert runs == [], f"{revisit}: a run was created before the bad gap was refused"
    assert set(session_ids(demo_root)) == {None}, f"{revisit}: the file was written"
    assert dg.__version__.startswith(f"{CHECKED_ON}."), (
        f"{revisit}: it was checked on Dagster {CHECKED_ON}; look for a public way, then "
        "update CHECKED_ON"
    )


def test_sessions_run_config_has_the_documented_shape() -> None:
    assert sessions_run_config() == {
        "ops": {
            "computed_sessions": {
                "config": {
                    "gap_minutes": None,
                    "start_time_zone": None,
                    "label_time_zone": None,
                    "split_on_ranked_change": None,
                    "team_change_mode": None,
                }
            },
            "stored_sessions": {
                "config": {"force": False, "include_recent": False, "dry_run": False}
            },
        }
    }
    with pytest.raises(ValueError, match="greater than 0"):
        sessions_run_config(rules={"gap_minutes": 0})


def test_the_job_runs_a_player_with_the_documented_config(
    defs: dg.Definitions, demo_root: Path
) -> None:
    result = defs.resolve_job_def(JOB_NAME).execute_in_process(
        partition_key="Madina97294", run_config=sessions_run_config()
    )
    assert result.success
    assert metadata(result, "stored_sessions")["written"] > 0
    assert set(session_ids(demo_root, "JGtm")) == {None}


def test_the_launchpad_opens_each_partition_on_the_documented_config(
    defs: dg.Definitions,
) -> None:
    job = defs.resolve_job_def(JOB_NAME)
    for gamertag in GAMERTAGS:
        assert job.partitioned_config.get_run_config_for_partition_key(gamertag) == (
            sessions_run_config()
        )
    forced = job.execute_in_process(
        partition_key="JGtm", run_config=sessions_run_config(rules={"gap_minutes": 90}, force=True)
    )
    assert metadata(forced, "computed_sessions")["gap_minutes"] == 90
    assert metadata(forced, "stored_sessions")["force"] is True


def test_the_assets_say_who_owns_them_and_which_one_writes_the_file(
    defs: dg.Definitions,
) -> None:
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert {name: spec.tags["player_file"] for name, spec in specs.items()} == {
        "friends_xuids": "reads",
        "match_timeline": "reads",
        "computed_sessions": "untouched",
        "stored_sessions": "writes",
    }
    assert all(spec.owners == ["team:levelup"] and spec.code_version for spec in specs.values())
    columns = specs["stored_sessions"].metadata["dagster/column_schema"].columns
    assert [column.name for column in columns] == ["session_id", "session_label"]


def test_a_malformed_profiles_file_keeps_the_folder_players_and_the_sensors_say_why(
    demo_root: Path,
) -> None:
    """The code location must load, or no sensor could report the broken file."""
    (demo_root / "db_profiles.json").write_text('{"profiles": {"JGtm": {"db_path": 3}}}')

    defs = build_definitions(AppRoot(demo_root))

    partitions = defs.resolve_job_def(JOB_NAME).partitions_def
    assert "JGtm" in partitions.get_partition_keys()
    with dg.instance_for_test() as instance:
        tick = defs.resolve_sensor_def("stability_sensor")(
            dg.build_sensor_context(instance=instance)
        )
    assert "db_profiles.json" in tick.skip_reason.skip_message
