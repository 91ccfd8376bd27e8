"""The code location: one `Definitions` over the app root named by the environment.

`build_definitions` is a factory so tests (and the CLI's `--root`) can load the same
definitions over another root; `defs` is what `dagster dev`, `dagster job execute -m
sessions_pipeline` and the workspace load.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from sessions_pipeline.levelup.app_root import DEFAULT_TITLE, AppRoot
from sessions_pipeline.orchestration.assets import GROUP_NAME, build_session_assets
from sessions_pipeline.orchestration.checks import build_session_checks
from sessions_pipeline.orchestration.partitions import player_partitions
from sessions_pipeline.orchestration.player_ranges import PlayerPicklesIOManager
from sessions_pipeline.orchestration.run_config import sessions_run_config
from sessions_pipeline.orchestration.schedules import build_daily_backfill_schedule
from sessions_pipeline.orchestration.sensors import (
    build_friends_sensor,
    build_stability_sensor,
    build_stored_files_sensor,
)

JOB_NAME = "sessions_job"


def build_definitions(root: AppRoot) -> dg.Definitions:
    """Assets, checks, job, sensors and schedule over `root`, one partition per player.

    Every run (the job's, and the UI's ad-hoc asset runs) executes its steps in one
    process: they run one after the other on one file, so a process per step would only
    add start-up time (measured on a demo player: 28 s per run against 2 s).
    """
    partitions_def = player_partitions(root)
    assets = build_session_assets(root, partitions_def)
    checks = build_session_checks(root, assets[-1], partitions_def)
    job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.groups(GROUP_NAME),
        description="Freeze one player's sessions into its DuckDB file (partition = gamertag).",
        # What the Launchpad opens with for a partition: every key of the run config, with
        # its default, so a user edits values rather than guessing the shape.
        config=sessions_run_config(),
    )
    keys = partitions_def.get_partition_keys()
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[job],
        sensors=[
            build_friends_sensor(root, JOB_NAME, keys),
            build_stability_sensor(root, JOB_NAME, keys),
            build_stored_files_sensor(root, assets[-1].key, keys),
        ],
        schedules=[build_daily_backfill_schedule(root, JOB_NAME, keys)],
        executor=dg.in_process_executor,
        # Dagster's pickle files as before; a run over several players writes one per player.
        resources={"io_manager": PlayerPicklesIOManager()},
    )


def sessions_job_for_root(root_path: str, title: str = DEFAULT_TITLE) -> dg.JobDefinition:
    """`sessions_job` over the root at `root_path`, serving `title`: the CLI's
    reconstructable target.

    Runs launched through it record where the job comes from, and the root and title are
    part of that pointer, so Dagster's per-process cache of the job is keyed by them too.
    Runs recorded before there were titles point at the root alone: the default title.
    """
    return build_definitions(AppRoot(Path(root_path), title)).resolve_job_def(JOB_NAME)


defs = build_definitions(AppRoot.from_env())
