"""The `dagster` command line on a fresh machine, and the instance config shipped with it."""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import dagster as dg
import pytest

from sessions_pipeline.entry_points import cli
from sessions_pipeline.levelup.app_root import HOME_ENV_VAR
from sessions_pipeline_tests.levelup_files import read_match_stats

REPOSITORY = Path(__file__).resolve().parents[1]
RUN_YAML = """\
ops:
  computed_sessions: {config: {gap_minutes: 120}}
  stored_sessions: {config: {force: false, include_recent: false, dry_run: false}}
"""


def dagster(root: Path, *args: str, dagster_home: Path | None) -> subprocess.CompletedProcess[str]:
    """`dagster ...` run in the root as a user would, with DAGSTER_HOME set or not."""
    return run_over(root, [sys.executable, "-m", "dagster", *args], root, dagster_home)


def dg_command(root: Path, *args: str, dagster_home: Path) -> subprocess.CompletedProcess[str]:
    """`dg ...` run in the checkout (the dg project) over the app root `root`."""
    dg_script = Path(sys.executable).with_name("dg")
    return run_over(root, [str(dg_script), *args], REPOSITORY, dagster_home)


def run_over(
    root: Path, argv: list[str], cwd: Path, dagster_home: Path | None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    env[HOME_ENV_VAR] = str(root)
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def execute_job(root: Path, run_yaml: str, *, dagster_home: Path | None):
    (root / "run.yaml").write_text(run_yaml)
    return dagster(
        root,
        "job",
        "execute",
        "-m",
        "sessions_pipeline",
        "-j",
        "sessions_job",
        "--tags",
        '{"dagster/partition": "JGtm"}',
        "-c",
        "run.yaml",
        dagster_home=dagster_home,
    )


def stored_ids(root: Path, gamertag: str = "JGtm") -> set[object]:
    path = root / "data" / "players" / gamertag / "stats.duckdb"
    return set(read_match_stats(path)["session_id"].to_list())


def runs_in(dagster_home: Path) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return list(instance.get_runs())


@pytest.mark.dagster_cli
def test_job_execute_with_an_empty_dagster_home_records_the_run(
    demo_root: Path, tmp_path: Path
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()

    done = execute_job(demo_root, RUN_YAML, dagster_home=home)

    assert done.returncode == 0, done.stderr[-3000:]
    assert None not in stored_ids(demo_root)
    (run,) = runs_in(home)
    assert run.job_name == "sessions_job"
    assert run.tags["dagster/partition"] == "JGtm"
    assert run.status == dg.DagsterRunStatus.SUCCESS


@pytest.mark.dagster_cli
def test_job_execute_without_dagster_home_leaves_nothing_behind(demo_root: Path) -> None:
    before = sorted(path.name for path in demo_root.iterdir())

    done = execute_job(demo_root, RUN_YAML, dagster_home=None)

    assert done.returncode == 0, done.stderr[-3000:]
    assert None not in stored_ids(demo_root)
    assert sorted(path.name for path in demo_root.iterdir()) == sorted([*before, "run.yaml"])


@pytest.mark.dagster_cli
def test_job_execute_refuses_a_bad_gap_before_creating_a_run(
    demo_root: Path, tmp_path: Path
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    bad = RUN_YAML.replace("gap_minutes: 120", "gap_minutes: 0")

    done = execute_job(demo_root, bad, dagster_home=home)

    assert done.returncode != 0
    assert "greater than 0" in done.stderr
    assert runs_in(home) == []
    assert stored_ids(demo_root) == {None}


@pytest.mark.dagster_cli
def test_asset_materialize_with_a_partition_works_too(demo_root: Path) -> None:
    done = dagster(
        demo_root,
        "asset",
        "materialize",
        "-m",
        "sessions_pipeline",
        "--select",
        "group:sessions",
        "--partition",
        "Madina97294",
        dagster_home=None,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert None not in stored_ids(demo_root, "Madina97294")


def test_the_cli_annotations_name_what_dagster_execute_job_returns() -> None:
    """Under `from __future__ import annotations` a name Dagster does not export goes
    unnoticed until something resolves the hints; resolve them all."""
    functions = [
        f for _, f in inspect.getmembers(cli, inspect.isfunction) if f.__module__ == cli.__name__
    ]
    hints = {function.__name__: typing.get_type_hints(function) for function in functions}
    returned = inspect.signature(dg.execute_job).return_annotation
    assert returned is dg.JobExecutionResult
    assert hints["_failure"]["result"] is hints["_player_failures"]["result"] is returned


def test_the_shipped_instance_config_queues_one_run_per_player(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instance's `concurrency:` settings, not a run_coordinator named by module path.

    The queue's limits are what the run queue daemon reads, the instance's concurrency
    config (Dagster's default QueuedRunCoordinator keeps none of its own here).
    """
    home = tmp_path / "dagster_home"
    shutil.copytree(REPOSITORY / "dagster_home", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
    assert queue.tag_concurrency_limits == [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert queue.max_concurrent_runs == 10  # Dagster's default, as docs/scaling.md says
    assert "run_coordinator" not in (home / "dagster.yaml").read_text()


@pytest.mark.dagster_cli
def test_the_workspace_loads_the_code_location(demo_root: Path) -> None:
    done = dagster(
        demo_root,
        "definitions",
        "validate",
        "-w",
        str(REPOSITORY / "workspace.yaml"),
        dagster_home=None,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "sessions_pipeline" in done.stderr + done.stdout


@pytest.mark.dagster_cli
def test_dg_checks_and_launches_the_project_without_module_flags(
    demo_root: Path, tmp_path: Path
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    checked = dg_command(demo_root, "check", "defs", dagster_home=home)
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    run_yaml = demo_root / "run.yaml"
    run_yaml.write_text(RUN_YAML.replace("gap_minutes: 120", "gap_minutes: 90"))
    launch = ["launch", "--job", "sessions_job", "--partition", "JGtm", "-c", str(run_yaml)]

    done = dg_command(demo_root, *launch, dagster_home=home)

    assert done.returncode == 0, done.stderr[-3000:]
    assert None not in stored_ids(demo_root)
    (run,) = runs_in(home)
    assert (run.job_name, run.tags["dagster/partition"]) == ("sessions_job", "JGtm")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.run_config["ops"]["computed_sessions"]["config"] == {"gap_minutes": 90}
