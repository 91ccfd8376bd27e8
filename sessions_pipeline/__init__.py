"""Gaming sessions frozen into LevelUp's per-player DuckDB files, as a Dagster code location.

`load_sessions` is what the dashboard imports; `defs` (the Dagster definitions) is loaded
only when asked for, so the dashboard never pays for Dagster nor depends on the root's
config files being readable. `load_sessions` is loaded when asked for too: importing a
module of the package (the console script's `launch`) then costs no Polars or DuckDB
import, a third of a second, before it can start the backfill's workers.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessions_pipeline.levelup.reader import load_sessions

__all__ = ["defs", "load_sessions"]


def __getattr__(name: str) -> Any:
    if name == "defs":
        from sessions_pipeline.orchestration.definitions import defs

        return defs
    if name == "load_sessions":
        from sessions_pipeline.levelup.reader import load_sessions

        return load_sessions
    raise AttributeError(f"module 'sessions_pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
