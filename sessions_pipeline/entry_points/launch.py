"""The `sessions-pipeline` console script: `cli.main`, with the backfill's workers started early.

`backfill --all` stores players in worker processes forked from a server that imports the
CLI, Dagster included, once: most of a second. Started here, before this process imports
the CLI itself, the two imports run side by side instead of one after the other.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import sys

WORKER_MODULES = [
    # By name: under `python -m sessions_pipeline.entry_points.cli`, __name__ is
    # "__main__", which the fork server would not import.
    "sessions_pipeline.entry_points.cli",
    # What a worker's first Dagster instance imports (SQLAlchemy, Alembic and some 400
    # modules more): half a second each worker would pay after its fork. A module that a
    # later Dagster moves is skipped by the fork server, which costs only that time.
    "dagster._core.storage.legacy_storage",
    # Last: freezes everything above (see the module).
    "sessions_pipeline.entry_points.preloaded",
]


def main() -> int:
    arguments = sys.argv[1:]
    if "backfill" in arguments and "--all" in arguments:
        worker_context()
    from sessions_pipeline.entry_points.cli import main as cli_main

    status = cli_main(arguments)
    # Python's exit collects every object still alive: with Dagster and its instance
    # loaded, 0.4-0.8 s of a command that is done. Frozen, they are left to the exit.
    gc.freeze()
    return status


def worker_context() -> multiprocessing.context.ForkServerContext:
    """The fork server the workers come from, started now if it is not running yet.

    A fork server, not a plain fork: Polars' thread pool does not survive a fork.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)
    multiprocessing.forkserver.ensure_running()
    return context


if __name__ == "__main__":
    sys.exit(main())
