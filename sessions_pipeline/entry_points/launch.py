"""The `sessions-pipeline` console script: `cli.main`, with the backfill's workers started early.

`backfill --all` stores players in worker processes forked from a server that imports the
CLI, Dagster included, once: most of a second. Started here, before this process imports
the CLI itself, the two imports run side by side instead of one after the other.
"""

from __future__ import annotations

import gc
import sys

from sessions_pipeline.entry_points.workers import worker_context


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


if __name__ == "__main__":
    sys.exit(main())
