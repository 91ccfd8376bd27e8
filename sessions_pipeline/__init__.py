"""Gaming sessions frozen into LevelUp's per-player DuckDB files, as a Dagster code location.

`load_sessions` is what the dashboard imports; `defs` (the Dagster definitions) is loaded
only when asked for, so the dashboard never pays for Dagster nor depends on the root's
config files being readable.
"""

from typing import Any

from sessions_pipeline.reader import load_sessions

__all__ = ["defs", "load_sessions"]


def __getattr__(name: str) -> Any:
    if name == "defs":
        from sessions_pipeline.definitions import defs

        return defs
    raise AttributeError(f"module 'sessions_pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
