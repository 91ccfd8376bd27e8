"""Opening a player DB while the dashboard or the sync may hold its lock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from sessions_pipeline.errors import PlayerFileLockedError, PlayerNotFoundError

DEFAULT_LOCK_TIMEOUT_SECONDS = 60.0
_FIRST_RETRY_DELAY_SECONDS = 0.02
_MAX_RETRY_DELAY_SECONDS = 0.5


def _is_lock_conflict(error: duckdb.Error) -> bool:
    return "lock" in str(error).lower()


@contextmanager
def open_player_db(
    db_path: Path,
    *,
    read_only: bool,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connect, retrying while another process holds the file lock.

    DuckDB lets one process write or several read; a conflicting open fails at once, so
    waiting is ours to do. The wait is bounded: a holder that never lets go is an error.
    """
    db_path = Path(db_path)
    if not db_path.is_file():
        raise PlayerNotFoundError(f"player DB {db_path} does not exist")
    deadline = time.monotonic() + lock_timeout_seconds
    delay = _FIRST_RETRY_DELAY_SECONDS
    while True:
        try:
            con = duckdb.connect(str(db_path), read_only=read_only)
            break
        except duckdb.IOException as error:
            if not _is_lock_conflict(error):
                raise
            if time.monotonic() + delay > deadline:
                raise PlayerFileLockedError(
                    f"{db_path} stayed locked by another process for more than "
                    f"{lock_timeout_seconds:g} s; nothing was written ({error})"
                ) from error
            time.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_DELAY_SECONDS)
    try:
        yield con
    finally:
        con.close()
