"""Runs over a range of players: what a Dagster backfill with the assets' policy launches,
and what `sessions-pipeline backfill --all` runs. Each player is stored, recorded and
checked on its own partition; a broken one fails alone, named, and the others keep theirs."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sessions_pipeline.levelup.app_root import HOME_ENV_VAR, AppRoot
from sessions_pipeline.orchestration.dagster_internals import CHECKED_ON
from sessions_pipeline.orchestration.definitions import JOB_NAME, build_definitions
from sessions_pipeline.orchestration.player_ranges import (
    PLAYERS_PER_RUN,
    RANGE_END_TAG,
    RANGE_START_TAG,
    PlayerPicklesIOManager,
    of_player,
    per_player_output,
)
from sessions_pipeline.orchestration.run_config import sessions_run_config
from sessions_pipeline_tests.levelup_files import read_match_stats

GAMERTAGS = ["Chocoboflor", "JGtm", "Madina97294", "XxDaemonGamerxX"]
ASSETS = ["friends_xuids", "match_timeline", "computed_sessions", "stored_sessions"]
CHECKS = ["no_drift", "no_unstored_stable_match"]
STORED = dg.AssetKey("stored_sessions")


def player_file(root: Path, gamertag: str) -> Path:
    return root / "data" / "players" / gamertag / "stats.duckdb"


def add_broken_player(root: Path) -> Path:
    """'Broken': a DuckDB file without match_stats; it sorts before every demo player."""
    broken = player_file(root, "Broken")
    broken.parent.mkdir()
    with duckdb.connect(str(broken)) as con:
        con.execute("CREATE TABLE notes (text VARCHAR)")
    return broken


def run_range(
    root: Path, first: str, last: str, instance: dg.DagsterInstance, **config: bool
) -> dg.ExecuteInProcessResult:
    """sessions_job over the partitions first..last, tagged as a backfill's range run is."""
    job = build_definitions(AppRoot(root)).resolve_job_def(JOB_NAME)
    return job.execute_in_process(
        run_config=sessions_run_config(**config),
        instance=instance,
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
        raise_on_error=False,
    )


def materializations(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, dict]]:
    """Per asset, per partition: the metadata of this run's materializations (one each)."""
    found: dict[str, dict[str, dict]] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        record = entry.dagster_event.step_materialization_data.materialization
        by_partition = found.setdefault(record.asset_key.to_user_string(), {})
        assert record.partition not in by_partition, "one materialization per partition"
        by_partition[record.partition] = {k: v.value for k, v in record.metadata.items()}
    return found


def evaluations(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {
        (evaluation.check_name, evaluation.partition): evaluation.passed
        for evaluation in result.get_asset_check_evaluations()
    }


def test_the_assets_let_a_backfill_run_many_players_at_once(demo_root: Path) -> None:
    defs = build_definitions(AppRoot(demo_root))
    for spec_key in ASSETS:
        assets_def = defs.resolve_assets_def(spec_key)
        assert assets_def.backfill_policy == dg.BackfillPolicy.multi_run(PLAYERS_PER_RUN)


def test_a_range_run_stores_each_player_and_records_each_on_its_partition(
    demo_root: Path,
) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(demo_root, GAMERTAGS[0], GAMERTAGS[-1], instance)
        assert result.success
        recorded = materializations(instance, result.run_id)

    assert sorted(recorded) == sorted(ASSETS)
    for asset in ASSETS:
        assert sorted(recorded[asset]) == GAMERTAGS, asset
    for gamertag in GAMERTAGS:
        stored = recorded["stored_sessions"][gamertag]
        timeline = recorded["match_timeline"][gamertag]
        ids = read_match_stats(player_file(demo_root, gamertag))["session_id"]
        assert stored["db_path"] == str(player_file(demo_root, gamertag))
        assert stored["written"] == stored["filled"] == timeline["stable"] == ids.count()
        assert stored["sessions_stored"] == ids.n_unique() - (1 if ids.null_count() else 0)
        assert recorded["friends_xuids"][gamertag]["source"] == "config"
        assert recorded["computed_sessions"][gamertag]["matches"] == timeline["matches"]
    # Each player's figures are its own, not one set copied to every partition.
    assert len({recorded["match_timeline"][g]["matches"] for g in GAMERTAGS}) > 1
    assert evaluations(result) == {(check, g): True for check in CHECKS for g in GAMERTAGS}


def test_a_range_run_checks_each_player_on_its_own(demo_root: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_range(demo_root, "JGtm", "Madina97294", instance).success
        with duckdb.connect(str(player_file(demo_root, "JGtm"))) as con:
            con.execute(
                "UPDATE match_stats SET session_label = 'edited by hand' WHERE session_id = 0"
            )

        again = run_range(demo_root, "JGtm", "Madina97294", instance)

    assert again.success
    assert evaluations(again) == {
        ("no_drift", "JGtm"): False,
        ("no_drift", "Madina97294"): True,
        ("no_unstored_stable_match", "JGtm"): True,
        ("no_unstored_stable_match", "Madina97294"): True,
    }
    (drift,) = [
        e
        for e in again.get_asset_check_evaluations()
        if (e.check_name, e.partition) == ("no_drift", "JGtm")
    ]
    assert drift.metadata["drifted_rows"].value > 0
    # Each evaluation is tied to its player's materialization by this run, not the first's.
    targets = [e.target_materialization_data for e in again.get_asset_check_evaluations()]
    assert {target.run_id for target in targets} == {again.run_id}
    assert len({target.storage_id for target in targets}) == 2


def test_pin_per_partition_check_evaluations_on_this_dagster(demo_root: Path) -> None:
    """Pins `dagster_internals.check_target`: each player's evaluation in a range run is
    on its partition, tied to that player's latest materialization, as Dagster ties one."""
    revisit = (
        f"Dagster {dg.__version__}: revisit sessions_pipeline/orchestration/dagster_internals.py "
        "per-partition check evaluation (AssetCheckEvaluationTargetMaterializationData)"
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(demo_root, "JGtm", "Madina97294", instance)
        latest = {
            key: instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=STORED, asset_partitions=[key]), limit=1
            ).records[0]
            for key in ("JGtm", "Madina97294")
        }

    evaluations = result.get_asset_check_evaluations()
    assert result.success and len(evaluations) == len(CHECKS) * len(latest), revisit
    for evaluation in evaluations:
        record, target = latest[evaluation.partition], evaluation.target_materialization_data
        assert (target.storage_id, target.run_id, target.timestamp) == (
            record.storage_id,
            result.run_id,
            record.timestamp,
        ), f"{revisit}: {evaluation.check_name} of {evaluation.partition} is tied to {target}"
    assert dg.__version__.startswith(f"{CHECKED_ON}."), (
        f"{revisit}: it was checked on Dagster {CHECKED_ON}; look for a public way (a "
        "partition on AssetCheckResult), then update CHECKED_ON"
    )


def test_a_broken_player_fails_alone_and_the_others_keep_their_stores(demo_root: Path) -> None:
    broken = add_broken_player(demo_root)
    broken_bytes = hashlib.sha256(broken.read_bytes()).hexdigest()

    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(demo_root, "Broken", "JGtm", instance)
        recorded = materializations(instance, result.run_id)
        materialized = instance.get_materialized_partitions(STORED)
        logs = [
            entry.user_message for entry in instance.all_logs(result.run_id) if entry.user_message
        ]

    assert not result.success
    for gamertag in ("Chocoboflor", "JGtm"):
        assert read_match_stats(player_file(demo_root, gamertag))["session_id"].count() > 0
        assert recorded["stored_sessions"][gamertag]["written"] > 0
    assert materialized == {"Chocoboflor", "JGtm"}
    assert hashlib.sha256(broken.read_bytes()).hexdigest() == broken_bytes
    error = "match_timeline: PlayerFileError: the file has no match_stats table"
    assert recorded["match_timeline"]["Broken"]["error"].startswith(error)
    assert "Broken" not in recorded["stored_sessions"]
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "stored_sessions"
    assert "1 of 3 players failed: Broken: " + error in failure.step_failure_data.error.message
    assert failure.step_failure_data.user_failure_data.metadata["Broken"].value.startswith(error)
    assert any(message.startswith("Broken: " + error) for message in logs)


def test_a_dry_range_run_observes_each_player_and_writes_nothing(demo_root: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_range(demo_root, "JGtm", "Madina97294", instance, dry_run=True)

    assert result.success
    assert result.asset_materializations_for_node("stored_sessions") == []
    observed = {o.partition: o for o in result.asset_observations_for_node("stored_sessions")}
    assert sorted(observed) == ["JGtm", "Madina97294"]
    for gamertag, observation in observed.items():
        assert observation.metadata["written"].value > 0
        assert read_match_stats(player_file(demo_root, gamertag))["session_id"].count() == 0
    assert result.get_asset_check_evaluations() == []


# Partition keys that Dagster's filesystem IO manager escapes (a leading `/`, `..` segments)
# or leaves alone, each with the file it gets under its asset's folder.
ESCAPED_KEYS = {
    "/lead": "%2Flead",
    "a/../b": "a/%2E%2E/b",
    "..": "%2E%2E",
    "my..backup": "my..backup",
    "JGtm": "JGtm",
}
KEYS = dg.StaticPartitionsDefinition(list(ESCAPED_KEYS))


# Unannotated: under `from __future__ import annotations` Dagster would see strings.
@dg.asset(partitions_def=KEYS)
def pickled(context):
    return per_player_output(context, lambda key: f"value of {key}", lambda value: {})


@dg.asset(partitions_def=KEYS)
def reread(context, pickled):
    return per_player_output(context, lambda key: of_player(context, pickled, key), lambda v: {})


def run_assets(
    selection: list[dg.AssetsDefinition],
    io_manager: dg.ConfigurableIOManagerFactory,
    instance: dg.DagsterInstance,
    keys: list[str],
) -> dg.ExecuteInProcessResult:
    """`selection` of the two assets over one partition, or the range keys[0]..keys[-1]."""
    one = len(keys) == 1
    return dg.materialize(
        [pickled, reread],
        selection=selection,
        partition_key=keys[0] if one else None,
        tags={} if one else {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]},
        resources={"io_manager": io_manager},
        instance=instance,
    )


def files_under(directory: Path) -> dict[str, object]:
    return {
        path.relative_to(directory).as_posix(): pickle.loads(path.read_bytes())
        for path in directory.rglob("*")
        if path.is_file()
    }


def test_the_pickles_are_dagster_filesystem_files_for_one_player_or_a_range(
    tmp_path: Path,
) -> None:
    """Same files as Dagster's own FilesystemIOManager: an instance's files from before
    are read, and what a range run writes, Dagster's manager reads partition by partition."""
    ours, dagsters = tmp_path / "ours", tmp_path / "dagster"
    keys = list(ESCAPED_KEYS)
    with dg.instance_for_test() as instance:
        wrote = run_assets([pickled], PlayerPicklesIOManager(base_dir=str(ours)), instance, keys)
        for key in keys:
            run_assets([pickled], dg.FilesystemIOManager(base_dir=str(dagsters)), instance, [key])
        read_by_dagster = {
            key: run_assets([reread], dg.FilesystemIOManager(base_dir=str(ours)), instance, [key])
            for key in keys
        }
        read_by_ours = run_assets(
            [reread], PlayerPicklesIOManager(base_dir=str(dagsters)), instance, keys
        )
        single = run_assets(
            [pickled], PlayerPicklesIOManager(base_dir=str(ours)), instance, ["JGtm"]
        )

    # Each folder holds one asset written by ours (a range) and one by Dagster's (one by one).
    expected = {
        f"{asset}/{path}": f"value of {key}"
        for asset in ("pickled", "reread")
        for key, path in ESCAPED_KEYS.items()
    }
    assert wrote.success
    assert files_under(ours) == files_under(dagsters) == expected
    for key, result in read_by_dagster.items():
        assert result.output_for_node("reread") == f"value of {key}"
    assert read_by_ours.output_for_node("reread") == {key: f"value of {key}" for key in keys}
    (materialization,) = single.asset_materializations_for_node("pickled")
    assert materialization.metadata["path"].value == str(ours / "pickled" / "JGtm")


def test_a_throwaway_instance_keeps_the_outputs_in_memory(tmp_path: Path) -> None:
    """Files would go with the instance: a range and a single run write none."""
    unused = tmp_path / "unused"
    keys = list(ESCAPED_KEYS)
    with dg.DagsterInstance.ephemeral() as instance:
        ranged = run_assets(
            [pickled, reread], PlayerPicklesIOManager(base_dir=str(unused)), instance, keys
        )
        single = run_assets(
            [pickled, reread], PlayerPicklesIOManager(base_dir=str(unused)), instance, ["JGtm"]
        )

    assert ranged.output_for_node("reread") == {key: f"value of {key}" for key in keys}
    assert single.output_for_node("reread") == "value of JGtm"
    assert not unused.exists()


def test_a_single_player_run_reads_what_a_range_run_stored_on_a_kept_instance(
    demo_root: Path,
) -> None:
    """With DAGSTER_HOME, the outputs are files: a later run of one asset reads them."""
    definitions = build_definitions(AppRoot(demo_root))
    job = definitions.resolve_job_def(JOB_NAME)
    stored_only = {
        "ops": {"stored_sessions": sessions_run_config(force=True)["ops"]["stored_sessions"]}
    }
    with dg.instance_for_test() as instance:
        ranged = run_range(demo_root, "JGtm", "Madina97294", instance)
        again = job.execute_in_process(
            run_config=stored_only,
            instance=instance,
            partition_key="Madina97294",
            asset_selection=[STORED],
        )
        pickles = Path(instance.storage_directory(), "computed_sessions")
        stored_players = sorted(path.name for path in pickles.iterdir())

    assert ranged.success and again.success
    assert stored_players == ["JGtm", "Madina97294"]
    (stored,) = again.asset_materializations_for_node("stored_sessions")
    assert stored.partition == "Madina97294"
    assert stored.metadata["force"].value is True
    assert stored.metadata["sessions_stored"].value > 0


@pytest.mark.dagster_cli
def test_backfill_all_runs_ranges_of_players_and_names_the_broken_one(
    demo_root: Path, tmp_path: Path
) -> None:
    add_broken_player(demo_root)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, HOME_ENV_VAR: str(demo_root), "COLUMNS": "200", "DAGSTER_HOME": str(home)}

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sessions_pipeline.entry_points.cli",
            "backfill",
            "--all",
            "--workers",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 1, done.stderr[-3000:]
    assert "Sessions stored: 4 ok, 1 failed" in done.stdout
    for gamertag in GAMERTAGS:
        assert f"ok {gamertag}: " in done.stdout
    error = "Broken: match_timeline: PlayerFileError: the file has no match_stats table"
    assert f"failed {error}" in done.stdout
    assert error in done.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert instance.get_materialized_partitions(STORED) == set(GAMERTAGS)
    assert (run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG]) == ("Broken", GAMERTAGS[-1])
    assert "dagster/partition" not in run.tags
    assert run.status == dg.DagsterRunStatus.FAILURE
