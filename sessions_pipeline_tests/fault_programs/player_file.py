"""One player-file role per process: a lock holder, a store, a writer loop, a reader loop.

Run as `python -m sessions_pipeline_tests.fault_programs.player_file ROLE DB ...`. A role
prints `ready` once its imports are done, so the test times faults from a known instant;
roles that act wait for a `go` line on stdin, so several processes start at once. The
outcome is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

from sessions_pipeline import load_sessions
from sessions_pipeline.levelup.store import StoreOptions, store_sessions
from sessions_pipeline.rules.sessions import SessionParameters


def _ready() -> None:
    print("ready", flush=True)


def _wait_for_go() -> None:
    _ready()
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("expected 'go' on stdin")


def _report(outcome: dict[str, object]) -> None:
    print(json.dumps(outcome), flush=True)


def hold(db: Path, seconds: float, read_only: bool) -> None:
    """Keep the file open, as the dashboard (read-only) or the sync (read-write) does."""
    con = duckdb.connect(str(db), read_only=read_only)
    _ready()
    time.sleep(seconds)
    con.close()
    _report({"held_seconds": seconds})


def store(db: Path, gap_minutes: int, force: bool) -> None:
    """One store, started on `go`."""
    _wait_for_go()
    params = SessionParameters(gap_minutes=gap_minutes)
    _report({"written": store_sessions(db, params, StoreOptions(force=force)).written})


# DuckDB admits a writer only when no reader holds the file, and a reader only when no
# writer does: both let go of it between accesses, as the sync and the dashboard do. The
# writer's pause outlasts the reader's longest retry delay (0.5 s), so neither starves.
WRITER_PAUSE_SECONDS = 0.6
READER_PAUSE_SECONDS = 0.05


def _reader_done(db: Path) -> Path:
    return db.with_name(db.name + ".reader-done")


def store_loop(db: Path, seconds: float, gaps: list[int]) -> None:
    """Forced stores alternating between gaps, so every store rewrites most rows, until the
    reader says it is done (or `seconds` pass)."""
    _wait_for_go()
    deadline = time.monotonic() + seconds
    stores = 0
    while time.monotonic() < deadline and not _reader_done(db).exists():
        params = SessionParameters(gap_minutes=gaps[stores % len(gaps)])
        store_sessions(db, params, StoreOptions(force=True))
        stores += 1
        time.sleep(WRITER_PAUSE_SECONDS)
    _report({"stores": stores})


def read_loop(db: Path, seconds: float, expected: list[Path]) -> None:
    """`load_sessions` for at least `seconds`, matching each read to a frame, and on (up to
    five times as long, for a loaded machine) until every expected frame has been seen."""
    frames = [pl.read_parquet(path) for path in expected]
    _wait_for_go()
    started = time.monotonic()
    matched = [0] * len(frames)
    mixed = 0
    errors: list[str] = []
    while True:
        try:
            sessions = load_sessions(db)
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")
        else:
            hits = [index for index, frame in enumerate(frames) if sessions.equals(frame)]
            if hits:
                matched[hits[0]] += 1
            else:
                mixed += 1
        elapsed = time.monotonic() - started
        if (elapsed >= seconds and all(matched)) or elapsed >= 5 * seconds:
            break
        time.sleep(READER_PAUSE_SECONDS)
    _reader_done(db).touch()
    _report({"matched": matched, "mixed": mixed, "errors": errors})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    roles = parser.add_subparsers(dest="role", required=True)
    hold_role = roles.add_parser("hold")
    hold_role.add_argument("--seconds", type=float, required=True)
    hold_role.add_argument("--read-only", action="store_true")
    store_role = roles.add_parser("store")
    store_role.add_argument("--gap", type=int, default=120)
    store_role.add_argument("--force", action="store_true")
    loop_role = roles.add_parser("store-loop")
    loop_role.add_argument("--seconds", type=float, required=True)
    loop_role.add_argument("--gaps", type=int, nargs="+", required=True)
    read_role = roles.add_parser("read-loop")
    read_role.add_argument("--seconds", type=float, required=True)
    read_role.add_argument("--expect", type=Path, nargs="+", required=True)
    for role in (hold_role, store_role, loop_role, read_role):
        role.add_argument("db", type=Path)
    args = parser.parse_args()
    if args.role == "hold":
        hold(args.db, args.seconds, args.read_only)
    elif args.role == "store":
        store(args.db, args.gap, args.force)
    elif args.role == "store-loop":
        store_loop(args.db, args.seconds, args.gaps)
    else:
        read_loop(args.db, args.seconds, args.expect)


if __name__ == "__main__":
    main()
