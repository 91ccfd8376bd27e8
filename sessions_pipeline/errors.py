"""Errors a person can act on: each names the file or player and what is wrong."""

import duckdb


class SessionsPipelineError(Exception):
    """Base class, so callers (sensors, the CLI) can report ours and let bugs surface."""


class UnsafeGamertagError(SessionsPipelineError):
    """A gamertag that could escape the app root when used as a folder name."""


class PlayerNotFoundError(SessionsPipelineError):
    """No profile and no folder for this gamertag, or its DB file is missing."""


class TitleError(SessionsPipelineError):
    """A title that is not a slug, or that the root has neither a folder nor a profile of."""


class WarehouseNotFoundError(SessionsPipelineError):
    """No shared warehouse where LevelUp would look for it from a player file's path."""


class ConfigFileError(SessionsPipelineError):
    """A JSON file of the root (friends, profiles) that cannot be trusted as written."""


class PlayerFileError(SessionsPipelineError):
    """A player DB that cannot be read as a LevelUp file (no match_stats, duplicate ids...)."""


class PlayerFileLockedError(SessionsPipelineError):
    """Another process kept the player DB locked for longer than we agreed to wait."""


FILE_ERRORS = (SessionsPipelineError, duckdb.Error, OSError)
"""What a sensor or schedule tick reports and skips on: our errors, DuckDB refusing a file,
the OS refusing it. Anything else is a bug and should surface."""
