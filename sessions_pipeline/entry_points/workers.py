"""The fork server the backfill's worker processes come from, and what it loads first.

Both the console script (`launch`, which starts it before its own imports) and the CLI
(which hands it the players) use it, so it lives apart from either.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver

WORKER_MODULES = [
    # By name: under `python -m sessions_pipeline.entry_points.cli`, __name__ is
    # "__main__", which the fork server would not import.
    "sessions_pipeline.entry_points.cli",
    # Last: warms what a worker's Dagster instance loads, then freezes it all (see it).
    "sessions_pipeline.entry_points.preloaded",
]


def worker_context() -> multiprocessing.context.ForkServerContext:
    """The fork server the workers come from, started now if it is not running yet.

    A fork server, not a plain fork: Polars' thread pool does not survive a fork.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)
    multiprocessing.forkserver.ensure_running()
    return context
