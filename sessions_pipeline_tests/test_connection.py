"""Player files attached to the process's DuckDB: the lock is held for the block only.

Another process (LevelUp's sync) must be able to write a file the moment a read or a
store of ours is done with it, whichever way the block ended, and whether the file was
attached to the shared database or, being big, read in a database of its own.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from sessions_pipeline import load_sessions
from sessions_pipeline.levelup.sql import connection
from sessions_pipeline.levelup.sql.connection import open_player_db
from sessions_pipeline_tests.levelup_files import make_player_file, matches_at
from sessions_pipeline_tests.sessions_reference import NOW, T0, store

WRITER = (
    "import duckdb, sys; con = duckdb.connect(sys.argv[1]); con.execute('CHECKPOINT'); con.close()"
)


def another_process_can_write(path: Path) -> bool:
    """Whether a separate process opens the file read-write right now (no waiting)."""
    writer = subprocess.run([sys.executable, "-c", WRITER, str(path)], capture_output=True)
    return writer.returncode == 0


@pytest.fixture(params=["shared database", "database of its own"])
def database_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "database of its own":
        monkeypatch.setattr(connection, "OWN_DATABASE_FROM_BYTES", 0)
    return request.param


def test_the_lock_is_let_go_after_a_read_and_a_store(tmp_path: Path, database_kind: str) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 10, 300]))
    store(path)
    assert len(load_sessions(path, now=NOW)) == 3
    assert another_process_can_write(path)


def test_the_lock_is_let_go_when_the_block_fails(tmp_path: Path, database_kind: str) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 10]))
    with pytest.raises(duckdb.CatalogException), open_player_db(path, read_only=False) as con:
        con.begin()
        con.execute("UPDATE match_stats SET session_label = 'x'")
        con.execute("SELECT * FROM no_such_table")
    assert another_process_can_write(path)
    with open_player_db(path, read_only=True) as con:
        assert con.sql("SELECT count(session_label) FROM match_stats").fetchall() == [(0,)]


def test_files_read_together_each_see_their_own_tables(tmp_path: Path) -> None:
    """Each block's default database is its own file, even while another is attached."""
    first = make_player_file(tmp_path / "a.duckdb", matches_at(T0, [0]))
    second = make_player_file(tmp_path / "b.duckdb", matches_at(T0, [0, 10]))
    with open_player_db(first, read_only=True) as a, open_player_db(second, read_only=True) as b:
        assert a.sql("SELECT count(*) FROM match_stats").fetchall() == [(1,)]
        assert b.sql("SELECT count(*) FROM match_stats").fetchall() == [(2,)]


def test_threads_read_the_same_and_other_files_at_once(tmp_path: Path) -> None:
    """The dashboard's server reads in a thread per session: each read is whole."""
    paths = [
        make_player_file(tmp_path / f"{n}.duckdb", matches_at(T0, [10 * m for m in range(n)]))
        for n in (3, 5)
    ]
    for path in paths:
        store(path)
    lengths: list[int] = []

    def read(path: Path) -> None:
        lengths.extend(len(load_sessions(path, now=NOW)) for _ in range(20))

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(read, paths * 3))
    assert sorted(set(lengths)) == [3, 5]
    assert len(lengths) == 120
    assert all(another_process_can_write(path) for path in paths)
