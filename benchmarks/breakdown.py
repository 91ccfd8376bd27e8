"""Where the time and memory of figures (a), (e), (g), (h) and (i) go, stage by stage.

    uv run python benchmarks/breakdown.py           # the issue's sizes, about a minute
    uv run python benchmarks/breakdown.py --quick   # small sizes: a smoke run

Each stage is timed on the file freshly opened as `load_sessions` opens it (attached to
the process's DuckDB, or in a DuckDB of its own when big), and reported as what it adds
to that open and close (the best of the repeats); the bare SELECT + sort of the figure
opens the file with `duckdb.connect`, as its line says. Memory stages are the resident
size of a fresh process after each stage, and its peak so far. (g) is one range run of
the backfill as a worker runs it, each step's wall time from the run's own events.
The README's breakdown is this script's output.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from run import (
    FULL,
    PARAMS,
    QUICK,
    SIGNATURE_COLUMNS,
    STORED_COLUMNS,
    Sizes,
    bare_store_seconds,
    best_times,
)
from synthetic import FRIEND_XUIDS, NOW, build_app_root, write_player_file

from sessions_pipeline import load_sessions
from sessions_pipeline.entry_points import cli
from sessions_pipeline.levelup import overview
from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.reader import read_session_rows, replay_parameters
from sessions_pipeline.levelup.sql import lookups, player_db
from sessions_pipeline.levelup.sql.player_file import PlayerFile, open_player_file
from sessions_pipeline.levelup.store import StoreOptions, store_sessions
from sessions_pipeline.orchestration.player_ranges import PLAYERS_PER_RUN
from sessions_pipeline.orchestration.run_config import sessions_run_config
from sessions_pipeline.rules.sessions import (
    compute_sessions,
    label_sessions,
    summarize_sessions,
    teammate_columns,
)

Stage = Callable[[PlayerFile], object]

# The child of the memory stages: the steps of load_sessions on a never-stored file.
_MEMORY_CHILD = """
import sys
from pathlib import Path
from synthetic import FRIEND_XUIDS, NOW
from sessions_pipeline.levelup.sql.player_file import open_player_file
from sessions_pipeline.levelup.reader import read_session_rows, replay_parameters
from sessions_pipeline.levelup.sql import player_db

def report(stage):
    sizes = dict(line.split(":", 1) for line in open("/proc/self/status"))
    rss, peak = (int(sizes[key].split()[0]) // 1024 for key in ("VmRSS", "VmHWM"))
    print(f"| {stage} | {rss} MiB | {peak} MiB |")

report("imports")
with open_player_file(Path(sys.argv[1]), read_only=True) as file:
    report("file opened")
    recorded = player_db.read_recorded_parameters(file.con)
    params = replay_parameters(recorded, friends_xuids=FRIEND_XUIDS)
    rows = read_session_rows(file, recorded, params, now=NOW)
    report("read: signatures into friend flags, then ids and start times")
report("file closed")
sessions = rows.sessions()
report("rules: session ids and labels")
"""


def stage_table(
    db: Path,
    columns: str,
    stages: dict[str, Stage],
    whole: Callable[[], object],
    repeats: int,
    *,
    whole_name: str = "load_sessions",
) -> list[str]:
    """`| stage | ms | + ms over open and close |`, every stage on a fresh connection.

    `whole` is the figure's call itself (`load_sessions`), which opens the file on its
    own; the bare line is the figure's floor, with its own `duckdb.connect`.
    """

    def fresh(stage: Stage) -> Callable[[], object]:
        def run() -> object:
            with open_player_file(db, read_only=True) as file:
                return stage(file)

        return run

    def bare() -> object:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.sql(f"SELECT {columns} FROM match_stats").pl().sort("start_time", "match_id")

    names = [
        "open and close",
        "bare: duckdb.connect, SELECT, sort, close",
        *stages,
        whole_name,
    ]
    times = best_times(repeats, fresh(lambda file: None), bare, *map(fresh, stages.values()), whole)
    base = times[0]
    return [
        f"| {name} | {seconds * 1000:.1f} ms | +{(seconds - base) * 1000:.1f} ms |"
        for name, seconds in zip(names, times, strict=True)
    ]


def rules_breakdown(work: Path, sizes: Sizes) -> list[str]:
    """(a): a never-stored file in friends mode."""
    db = write_player_file(work / "rules.duckdb", sizes.rules_matches)
    params = replay_parameters(None, friends_xuids=FRIEND_XUIDS)
    flags = teammate_columns(params)
    zone = params.start_time_zone

    def read(file: PlayerFile, teammates: list = flags) -> object:
        return player_db.read_timeline(
            file, start_time_zone=zone, with_stored=False, teammates=teammates
        ).frame

    with open_player_file(db, read_only=True) as file:
        timeline = read(file)
    ids = compute_sessions(timeline, params, with_break_reasons=False)
    stages: dict[str, Stage] = {
        "parameters + stored-id check": lambda file: (
            player_db.read_recorded_parameters(file.con),
            player_db.has_stored_sessions(file),
        ),
        "read without friend flags (signatures kept)": lambda file: read(file, []),
        "read with friend flags (signatures dropped)": read,
        "rules on the read timeline: ids and labels": lambda file: compute_sessions(
            timeline, params, with_break_reasons=False
        ),
        "of which labels": lambda file: label_sessions(ids, params.label_time_zone),
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
    store_sessions(db, replay_parameters(None, friends_xuids=FRIEND_XUIDS), StoreOptions(now=NOW))
    with open_player_file(db, read_only=True) as file:
        recorded = player_db.read_recorded_parameters(file.con)
        params = replay_parameters(recorded)
        rows = read_session_rows(file, recorded, params, now=NOW)
    if rows.tail is None:
        raise RuntimeError("the read file has no recent match: nothing to recompute")
    since = rows.tail["start_time"][0]
    stages: dict[str, Stage] = {
        "parameters": lambda file: player_db.read_recorded_parameters(file.con),
        "stored values": lambda file: player_db.read_timeline(
            file, start_time_zone=params.start_time_zone, with_signatures=False
        ),
        "the window's rows, with friend flags": lambda file: player_db.read_timeline(
            file,
            start_time_zone=params.start_time_zone,
            since=since,
            teammates=teammate_columns(params),
        ),
        "all the reads": lambda file: read_session_rows(file, recorded, params, now=NOW),
        f"rules on the window ({len(rows.tail)} rows) and the concat": lambda file: rows.sessions(),
    }
    return [
        f"(e) {sizes.read_matches:,} stored matches, a few recent",
        *stage_table(
            db, STORED_COLUMNS, stages, lambda: load_sessions(db, now=NOW), sizes.small_repeats
        ),
    ]


def page_breakdown(work: Path, sizes: Sizes) -> list[str]:
    """(i): the page's read of a stored file whose last matches are recent."""
    db = write_player_file(work / "page.duckdb", sizes.read_matches)
    store_sessions(db, PARAMS, StoreOptions(now=NOW))
    with open_player_file(db, read_only=True) as file:
        recorded = player_db.read_recorded_parameters(file.con)
        params = replay_parameters(recorded)
        sessions = read_session_rows(
            file, recorded, params, now=NOW, with_scan_positions=True
        ).sessions()
        reasons = overview.session_start_reasons(file, sessions, params)
    explained = sessions.select("session_id", "session_label", "start_time", "is_stored")
    stages: dict[str, Stage] = {
        "load_sessions' reads and rules": lambda file: read_session_rows(
            file, recorded, params, now=NOW
        ).sessions(),
        "the same, with scan positions": lambda file: read_session_rows(
            file, recorded, params, now=NOW, with_scan_positions=True
        ).sessions(),
        "why each session started": lambda file: overview.session_start_reasons(
            file, sessions, params
        ),
        "of which one scan of the signatures": lambda file: player_db.read_rule_columns_of(
            file, pl.Series([0])
        ),
        "the friends' gamertags": lambda file: lookups.gamertags_of(file.con, params.friends_xuids),
        "one row per session": lambda file: summarize_sessions(
            explained.with_columns(break_reason=reasons), stored_matches="is_stored"
        ),
    }
    [alone] = best_times(sizes.small_repeats, lambda: load_sessions(db, now=NOW))
    starts = int(reasons.is_not_null().sum())
    by_gap = int(reasons.is_in(["first", "gap"]).sum())
    return [
        f"(i) the page's read of {sizes.read_matches:,} stored matches, a few recent "
        f"({starts:,} sessions, {by_gap:,} of them started on a gap or first)",
        *stage_table(
            db,
            STORED_COLUMNS,
            stages,
            lambda: overview.read_overview(db, now=NOW),
            sizes.small_repeats,
            whole_name="read_overview (the page's read)",
        ),
        f"| load_sessions, for the ratio | {alone * 1000:.1f} ms | |",
    ]


def range_breakdown(work: Path, sizes: Sizes) -> list[str]:
    """(g): one range run of the backfill as a worker runs it, and the same bare stores.

    A warm-up run first, as a worker's modules are loaded before its first run.
    """
    template = write_player_file(work / "range-template.duckdb", sizes.backfill_matches)
    players = min(PLAYERS_PER_RUN, sizes.backfill_players)
    roots = {name: work / f"range-{name}" for name in ("warm-up", "run", "bare")}
    for name, root in roots.items():
        build_app_root(root, template, 2 if name == "warm-up" else players)
    bare = bare_store_seconds(AppRoot(roots["bare"]))
    config = sessions_run_config(force=True)
    with cli.command_instance() as instance:
        warm_up = AppRoot(roots["warm-up"])
        cli.run_slice(warm_up, instance, warm_up.gamertags(), config)
        root = AppRoot(roots["run"])
        start = time.perf_counter()
        outcomes = cli.run_slice(root, instance, root.gamertags(), config)
        wall = time.perf_counter() - start
        entries = instance.all_logs(instance.get_runs(limit=1)[0].run_id)
    if not all(outcome.ok for outcome in outcomes):
        raise RuntimeError(f"the range run failed: {outcomes}")
    began = {e.step_key: e.timestamp for e in entries if _is(e, dg.DagsterEventType.STEP_START)}
    ended = {e.step_key: e.timestamp for e in entries if _is(e, dg.DagsterEventType.STEP_SUCCESS)}
    events = Counter(e.step_key for e in entries if e.dagster_event is not None)

    def row(name: str, seconds: float, logged: str = "") -> str:
        return f"| {name} | {seconds / players * 1000:.1f} ms | {logged} |"

    return [
        f"(g) one range run of {players} players x {sizes.backfill_matches:,} matches "
        "(a player's share of each step, and the Dagster events the step logged a player)",
        *(row(step, ended[step] - began[step], f"{events[step] / players:.1f}") for step in began),
        row("the whole run (its start, its steps, its end, the outcomes read back)", wall),
        row("bare store_sessions, same files", bare),
    ]


def _is(entry: dg.EventLogEntry, kind: dg.DagsterEventType) -> bool:
    return entry.dagster_event is not None and entry.dagster_event.event_type == kind


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
        lines = [
            *rules_breakdown(work, sizes),
            "",
            *read_breakdown(work, sizes),
            "",
            *range_breakdown(work, sizes),
            "",
            *page_breakdown(work, sizes),
        ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
