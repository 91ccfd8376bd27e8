"""Gaming sessions frozen into LevelUp's per-player DuckDB files, as a Dagster code location."""

from sessions_pipeline.reader import load_sessions

__all__ = ["load_sessions"]
