"""Where the time and memory of figures (a), (e) and (h) go, stage by stage.

    uv run python benchmarks/breakdown.py           # the issue's sizes, about a minute
    uv run python benchmarks/breakdown.py --quick   # small sizes: a smoke run

Each stage is timed on the file freshly opened as `load_sessions` opens it (attached to
the process's DuckDB, or in a DuckDB of its own when big), and reported as what it adds
to that open and close (the best of the repeats); the bare SELECT + sort of the figure
opens the file with `duckdb.connect`, as its line says. Memory stages are the resident
size of a fresh process after each stage, and its peak so far. The README's breakdown is
this script's output.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
from run import FULL, QUICK, SIGNATURE_COLUMNS, STORED_COLUMNS, Sizes, best_times
from synthetic import FRIEND_XUIDS, NOW, write_player_file

from sessions_pipeline import load_sessions
from sessions_pipeline.reader import read_session_rows, replay_parameters
from sessions_pipeline.rules import compute_sessions, label_sessions, teammate_columns
from sessions_pipeline.sql import player_db
from sessions_pipeline.sql.connection import open_player_db
from sessions_pipeline.store import StoreOptions, store_sessions

Stage = Callable[[duckdb.DuckDBPyConnection], object]

# The child of the memory stages: the steps of load_sessions on a never-stored file.
_MEMORY_CHILD = """
import sys
from pathlib import Path
from synthetic import FRIEND_XUIDS, NOW
from sessions_pipeline.sql.connection import open_player_db
from sessions_pipeline.reader import read_session_rows, replay_parameters
from sessions_pipeline.sql import player_db

def report(stage):
    sizes = dict(line.split(":", 1) for line in open("/proc/self/status"))
    rss, peak = (int(sizes[key].split()[0]) // 1024 for key in ("VmRSS", "VmHWM"))
    print(f"| {stage} | {rss} MiB | {peak} MiB |")

report("imports")
with open_player_db(Path(sys.argv[1]), read_only=True) as con:
    report("file opened")
    recorded = player_db.read_recorded_parameters(con)
    rows = read_session_rows(con, recorded, friends_xuids=FRIEND_XUIDS, now=NOW)
    report("read: signatures into friend flags, then ids and start times")
report("file closed")
sessions = rows.sessions()
report("rules: session ids and labels")
"""


def stage_table(
    db: Path, columns: str, stages: dict[str, Stage], whole: Callable[[], object], repeats: int
) -> list[str]:
    """`| stage | ms | + ms over open and close |`, every stage on a fresh connection.

    `whole` is `load_sessions` itself, which opens the file on its own; the bare line is
    the figure's floor, with its own `duckdb.connect`.
    """

    def fresh(stage: Stage) -> Callable[[], object]:
        def run() -> object:
            with open_player_db(db, read_only=True) as con:
                return stage(con)

        return run

    def bare() -> object:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.sql(f"SELECT {columns} FROM match_stats").pl().sort("start_time", "match_id")

    names = [
        "open and close",
        "bare: duckdb.connect, SELECT, sort, close",
        *stages,
        "load_sessions",
    ]
    times = best_times(repeats, fresh(lambda con: None), bare, *map(fresh, stages.values()), whole)
    base = times[0]
    return [
        f"| {name} | {seconds * 1000:.1f} ms | +{(seconds - base) * 1000:.1f} ms |"
        for name, seconds in zip(names, times, strict=True)
    ]


def rules_breakdown(work: Path, sizes: Sizes) -> list[str]:
    """(a): a never-stored file in friends mode."""
    db = write_player_file(work / "rules.duckdb", sizes.rules_matches)
    params = replay_parameters(None, FRIEND_XUIDS)
    flags = teammate_columns(params)

    def read(con: duckdb.DuckDBPyConnection, teammates: list = flags) -> object:
        return player_db.read_timeline(con, with_stored=False, teammates=teammates).frame

    with duckdb.connect(str(db), read_only=True) as con:
        timeline = read(con)
    ids = compute_sessions(timeline, params, with_break_reasons=False)
    stages: dict[str, Stage] = {
        "parameters + stored-id check": lambda con: (
            player_db.read_recorded_parameters(con),
            player_db.has_stored_sessions(con),
        ),
        "read without friend flags (signatures kept)": lambda con: read(con, []),
        "read with friend flags (signatures dropped)": read,
        "rules on the read timeline: ids and labels": lambda con: compute_sessions(
            timeline, params, with_break_reasons=False
        ),
        "of which labels": lambda con: label_sessions(ids, params.label_time_zone),
    }
    return [
        f"(a) {sizes.rules_matches:,} never-stored matches, friends mode",
        *stage_table(
            db,
            SIGNATURE_COLUMNS,
            stages,
            lambda: load_sessions(db, friends_xuids=FRIEND_XUIDS, now=NOW),
            sizes.repeats,
        ),
        "",
        "(h) memory of the same read, stage by stage (resident, peak so far)",
        *memory_stages(db),
    ]


def read_breakdown(work: Path, sizes: Sizes) -> list[str]:
    """(e): a stored file whose last matches are recent."""
    db = write_player_file(work / "read.duckdb", sizes.read_matches)
    store_sessions(db, replay_parameters(None, FRIEND_XUIDS), StoreOptions(now=NOW))
    with duckdb.connect(str(db), read_only=True) as con:
        recorded = player_db.read_recorded_parameters(con)
        rows = read_session_rows(con, recorded, now=NOW)
    if rows.tail is None:
        raise RuntimeError("the read file has no recent match: nothing to recompute")
    since = rows.tail["start_time"][0]
    stages: dict[str, Stage] = {
        "parameters": player_db.read_recorded_parameters,
        "stored values": lambda con: player_db.read_timeline(con, with_signatures=False),
        "the window's rows, with friend flags": lambda con: player_db.read_timeline(
            con, since=since, teammates=teammate_columns(recorded.params)
        ),
        "all the reads": lambda con: read_session_rows(con, recorded, now=NOW),
        f"rules on the window ({len(rows.tail)} rows) and the concat": lambda con: rows.sessions(),
    }
    return [
        f"(e) {sizes.read_matches:,} stored matches, a few recent",
        *stage_table(
            db, STORED_COLUMNS, stages, lambda: load_sessions(db, now=NOW), sizes.small_repeats
        ),
    ]


def memory_stages(db: Path) -> list[str]:
    here = str(Path(__file__).parent)
    child = subprocess.run(
        [sys.executable, "-P", "-c", _MEMORY_CHILD, str(db)],
        env={**os.environ, "PYTHONPATH": here},
        capture_output=True,
        text=True,
        check=True,
    )
    return child.stdout.splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    sizes = QUICK if parser.parse_args().quick else FULL
    with tempfile.TemporaryDirectory(prefix="sessions-breakdown-") as scratch:
        work = Path(scratch)
        lines = [*rules_breakdown(work, sizes), "", *read_breakdown(work, sizes)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
