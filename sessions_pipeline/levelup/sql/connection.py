"""Opening a player DB while the dashboard or the sync may hold its lock."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from sessions_pipeline.errors import PlayerFileLockedError, PlayerNotFoundError

DEFAULT_LOCK_TIMEOUT_SECONDS = 60.0
_FIRST_RETRY_DELAY_SECONDS = 0.02
_MAX_RETRY_DELAY_SECONDS = 0.5
OWN_DATABASE_FROM_BYTES = 64 * 1024**2
"""Files from this size on (about 500,000 matches) are read in a DuckDB of their own."""
_PROCESS_DATABASE = "memory"
_PROCESS_LOCK = threading.Lock()
_ALIASES = itertools.count()
_process: tuple[int, duckdb.DuckDBPyConnection] | None = None


def _is_lock_conflict(error: duckdb.Error) -> bool:
    return "lock" in str(error).lower()


@contextmanager
def open_player_db(
    db_path: Path,
    *,
    read_only: bool,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The player file attached to this process's DuckDB, retrying while another holds it.

    DuckDB lets one process write or several read; a conflicting open fails at once, so
    waiting is ours to do. The wait is bounded: a holder that never lets go is an error.
    The file is attached (and its lock taken) only for the `with` block, on a connection
    of its own whose default database it is, so the statements name its tables as usual.
    """
    db_path = Path(db_path)
    if not db_path.is_file():
        raise PlayerNotFoundError(f"player DB {db_path} does not exist")
    # A big file gets a database of its own, closed afterwards: its 12 ms are little
    # beside the read, and closing it gives back all the memory the read used.
    own = db_path.stat().st_size >= OWN_DATABASE_FROM_BYTES
    database = duckdb.connect(":memory:") if own else _process_database()
    con = database.cursor()
    alias = f"player_{next(_ALIASES)}"
    try:
        _attach(con, db_path, alias, read_only=read_only, lock_timeout_seconds=lock_timeout_seconds)
        con.execute(f"USE {alias}")
        try:
            yield con
        finally:
            _detach(con, alias)
    finally:
        con.close()
        if own:
            database.close()


@contextmanager
def attached_read_only(
    con: duckdb.DuckDBPyConnection, db_path: Path, lock_timeout_seconds: float
) -> Iterator[str]:
    """Another file (LevelUp's warehouse) attached read-only beside the player file, with
    the same bounded wait for a writer's lock; yields its alias, detached afterwards."""
    if not Path(db_path).is_file():
        raise PlayerNotFoundError(f"{db_path} does not exist")
    alias = f"shared_{next(_ALIASES)}"
    _attach(con, Path(db_path), alias, read_only=True, lock_timeout_seconds=lock_timeout_seconds)
    try:
        yield alias
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"DETACH {alias}")


def _attach(
    con: duckdb.DuckDBPyConnection,
    db_path: Path,
    alias: str,
    *,
    read_only: bool,
    lock_timeout_seconds: float,
) -> None:
    """ATTACH, retrying while another process holds the file's lock, up to the deadline."""
    path = str(db_path).replace("'", "''")
    mode = " (READ_ONLY)" if read_only else ""
    deadline = time.monotonic() + lock_timeout_seconds
    delay = _FIRST_RETRY_DELAY_SECONDS
    while True:
        try:
            con.execute(f"ATTACH '{path}' AS {alias}{mode}")
            return
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


def _detach(con: duckdb.DuckDBPyConnection, alias: str) -> None:
    """Let go of the file (and its lock), whatever state the block left the connection in."""
    with contextlib.suppress(duckdb.Error):
        con.rollback()  # an open transaction, if the block left one; none is fine
    con.execute(f"USE {_PROCESS_DATABASE}")
    con.execute(f"DETACH {alias}")


def _process_database() -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB, which player files are attached to.

    A new DuckDB database builds its catalog of built-in functions: about 12 ms, most of
    a small read. Attaching a file to a running one costs about 2 ms, with the same file
    locks as opening it. Created on first use, and again in a forked child.
    """
    global _process
    with _PROCESS_LOCK:
        if _process is None or _process[0] != os.getpid():
            _process = (os.getpid(), duckdb.connect(":memory:"))
        return _process[1]
