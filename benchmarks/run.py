"""The benchmarks of issues 5 and 16: every figure from one run, side by side, with its target.

    uv run python benchmarks/run.py           # full sizes: minutes, (l, m) the longest
    uv run python benchmarks/run.py --quick   # small sizes: a smoke run (the tests use it)
    uv run python benchmarks/run.py --only ae # figures (a) and (e), and those measured with them
    uv run python benchmarks/run.py --only lm # issue 16's LevelUp v6 figures

Prints a Markdown table (figure, measured, target, verdict) headed by the date and the
machine; a full run also writes it to benchmarks/results/latest.md. A figure whose target
is a ratio compares two things timed in the same run, each the best of a few repeats, so
its verdict holds on a busy machine. With --quick the sizes are far below the issue's, so
the verdicts say nothing about the targets: the run only proves every figure still runs.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import streamlit as st
from references import row_loop_sessions, update_row_by_row
from synthetic import (
    FRIEND_XUIDS,
    NOW,
    V6_WAREHOUSE,
    V6_XUID_BASE,
    V6Player,
    build_app_root,
    build_v6_app_root,
    build_v6_sensor_root,
    write_player_file,
)

from sessions_pipeline import load_sessions
from sessions_pipeline.levelup.app_root import HOME_ENV_VAR, AppRoot
from sessions_pipeline.levelup.store import StoreOptions, store_sessions
from sessions_pipeline.orchestration.definitions import JOB_NAME
from sessions_pipeline.orchestration.player_ranges import PLAYERS_PER_RUN
from sessions_pipeline.orchestration.sensors import build_stability_sensor
from sessions_pipeline.rules.sessions import SessionParameters

RESULTS_FILE = Path(__file__).parent / "results" / "latest.md"
PARAMS = SessionParameters(friends_xuids=frozenset(FRIEND_XUIDS))
SIGNATURE_COLUMNS = "match_id, start_time, teammates_signature"
STORED_COLUMNS = "match_id, start_time, session_id, session_label"
GIB = 1024**3
MIB = 1024**2

# What the peak-memory child runs: the 1,000,000-match computation, or only the imports.
_COMPUTE_CHILD = (
    "import sys; from sessions_pipeline import load_sessions; "
    "from synthetic import FRIEND_XUIDS, NOW; "
    "load_sessions(sys.argv[1], friends_xuids=FRIEND_XUIDS, now=NOW)"
)
_IMPORTS_CHILD = "import sessions_pipeline, synthetic"
_PEAK_REPORT = """
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        print(line.split()[1])
"""


@dataclass(frozen=True)
class Sizes:
    """How big each figure's data is, and how often its timings are repeated."""

    rules_matches: int
    store_matches: int
    store_baseline_matches: int
    update_rows: int
    read_matches: int
    sensor_files: int
    sensor_file_matches: int
    backfill_players: int
    backfill_matches: int
    v6_players: int
    v6_matches: int
    repeats: int
    small_repeats: int


FULL = Sizes(
    rules_matches=1_000_000,
    store_matches=100_000,
    store_baseline_matches=1_000,
    update_rows=2_000,
    read_matches=100_000,
    sensor_files=1_000,
    sensor_file_matches=200,
    backfill_players=50,
    backfill_matches=10_000,
    v6_players=50,
    v6_matches=10_000,
    repeats=3,
    small_repeats=31,
)
QUICK = Sizes(
    rules_matches=20_000,
    store_matches=5_000,
    store_baseline_matches=1_000,
    update_rows=200,
    read_matches=5_000,
    sensor_files=20,
    sensor_file_matches=200,
    backfill_players=2,
    backfill_matches=1_000,
    v6_players=6,
    v6_matches=300,
    repeats=1,
    small_repeats=3,
)


@dataclass(frozen=True)
class Figure:
    """One line of the table."""

    name: str
    measured: str
    target: str
    verdict: str


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def progress(message: str) -> None:
    """What is running now, on stderr, so stdout holds only the table."""
    print(f"... {message}", file=sys.stderr, flush=True)


def best_times(repeats: int, *runs: Callable[[], object]) -> list[float]:
    """The fastest of `repeats` timed calls of each run (noise only ever adds time).

    The runs take turns, so a busy spell of the machine slows each of them alike and the
    ratio between them holds.
    """
    best = [math.inf] * len(runs)
    for _ in range(repeats):
        for index, run in enumerate(runs):
            start = time.perf_counter()
            run()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def bare_select(db_path: Path, columns: str) -> pl.DataFrame:
    """The floor: the columns into Polars, sorted by (start_time, match_id), nothing else."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.sql(f"SELECT {columns} FROM match_stats").pl().sort("start_time", "match_id")


def peak_rss_bytes(code: str, *args: str) -> int:
    """Peak resident memory of a fresh Python running `code`: its VmHWM at exit.

    Not `ru_maxrss`: Linux carries the parent's resident size at fork into the child's
    (the benchmark process holds a million rows by then), while VmHWM belongs to the
    memory of the program the child executes.
    """
    # The child imports `synthetic` from here, and the project as this process does (-P:
    # not from the working directory).
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    child = subprocess.run(
        [sys.executable, "-P", "-c", code + _PEAK_REPORT, *args],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout.split()[-1]) * 1024  # kB


def paris_instants(frame: pl.DataFrame) -> pl.DataFrame:
    """`start_time` read as Paris wall clock, through Polars' zone database."""
    return frame.with_columns(
        pl.col("start_time")
        .dt.replace_time_zone("Europe/Paris", ambiguous="earliest")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    ).sort("start_time", "match_id")


def rules_figures(work: Path, sizes: Sizes) -> list[Figure]:
    """(a) rules vs the bare SELECT, (b) vs the row loop, (h) peak memory, on one file."""
    n = sizes.rules_matches
    progress(f"generating {n:,} matches")
    db = write_player_file(work / "rules.duckdb", n)
    progress("(a) load_sessions on a never-stored file vs the bare SELECT")
    floor, ours = best_times(
        sizes.repeats,
        lambda: bare_select(db, SIGNATURE_COLUMNS),
        lambda: load_sessions(db, friends_xuids=FRIEND_XUIDS, now=NOW),
    )
    progress("(b) the row-loop reference")
    start = time.perf_counter()
    # Starts are Paris wall clock, as LevelUp's sync writes them: the loop gets instants.
    reference = row_loop_sessions(paris_instants(bare_select(db, SIGNATURE_COLUMNS)), PARAMS)
    loop = time.perf_counter() - start
    sessions = load_sessions(db, friends_xuids=FRIEND_XUIDS, now=NOW)
    values = ["match_id", "start_time", "session_id", "session_label"]
    if not reference.select(values).equals(sessions.select(values)):
        raise RuntimeError("the row-loop reference disagrees with load_sessions")
    progress("(h) peak memory of the computation, in a child process")
    peak = peak_rss_bytes(_COMPUTE_CHILD, str(db))
    imports = peak_rss_bytes(_IMPORTS_CHILD)
    return [
        Figure(
            f"(a) rules on {n:,} matches, friends mode, `load_sessions` on a never-stored "
            "file vs the bare `SELECT match_id, start_time, teammates_signature` sorted",
            f"{ours:.3f} s vs {floor:.3f} s = **{ours / floor:.2f}x**",
            "≤ 2x",
            verdict(ours / floor <= 2),
        ),
        Figure(
            f"(b) the same vs the row-loop reference (same SELECT, then a Python loop over "
            f"the {n:,} rows for the friends rule and the labels)",
            f"{loop:.3f} s vs {ours:.3f} s: ours **{loop / ours:.1f}x faster**",
            "faster",
            verdict(ours < loop),
        ),
        Figure(
            f"(h) peak memory of the {n:,}-match `load_sessions` (a fresh process's peak "
            f"resident size; its imports alone: {imports / MIB:,.0f} MiB)",
            f"**{peak / MIB:,.0f} MiB**",
            "≤ 300 MiB",
            verdict(peak <= 300 * MIB),
        ),
    ]


def store_figures(work: Path, sizes: Sizes) -> list[Figure]:
    """(c) marginal cost of a forced store, (d) vs one UPDATE per row."""
    big, small = sizes.store_matches, sizes.store_baseline_matches
    progress(f"generating {big:,} and {small:,} matches")
    big_file = write_player_file(work / "store-big.duckdb", big)
    small_file = write_player_file(work / "store-small.duckdb", small)
    forced = StoreOptions(force=True, now=NOW)

    def forced_store(template: Path) -> Callable[[], object]:
        """A forced store of a fresh never-stored copy each call: every row is written."""
        copies = [work / f"{template.stem}-{i}.duckdb" for i in range(sizes.repeats)]
        for copy in copies:
            shutil.copyfile(template, copy)
        fresh = iter(copies)
        return lambda: store_sessions(next(fresh), PARAMS, forced)

    progress("(c) forced stores")
    big_time, small_time = best_times(
        sizes.repeats, forced_store(big_file), forced_store(small_file)
    )
    marginal = big_time - small_time
    progress(f"(d) {sizes.update_rows:,} single-row UPDATEs")
    rows = load_sessions(big_file, friends_xuids=FRIEND_XUIDS, now=NOW).head(sizes.update_rows)
    with duckdb.connect(str(big_file)) as con:
        con.begin()
        start = time.perf_counter()
        update_row_by_row(con, rows)
        updates = time.perf_counter() - start
        con.commit()
    per_row_total = updates * big / sizes.update_rows
    return [
        Figure(
            f"(c) forced store of {big:,} matches, marginal: the {big:,}-match run minus "
            f"the {small:,}-match run",
            f"{big_time:.3f} s - {small_time:.3f} s = **{marginal:.3f} s**",
            "≤ 1 s",
            verdict(marginal <= 1),
        ),
        Figure(
            f"(d) the same vs one `UPDATE` per row (timed on {sizes.update_rows:,} rows of "
            f"the {big:,}-match file, extrapolated x{big / sizes.update_rows:g})",
            f"{per_row_total:.1f} s vs {big_time:.3f} s: ours "
            f"**{per_row_total / big_time:.0f}x faster**",
            "report",
            "reported",
        ),
    ]


def read_figure(work: Path, sizes: Sizes) -> Figure:
    """(e) the dashboard's read of a stored file whose last matches are still recent."""
    n = sizes.read_matches
    progress(f"(e) generating and storing {n:,} matches")
    db = write_player_file(work / "read.duckdb", n)
    store_sessions(db, PARAMS, StoreOptions(now=NOW))
    recent = int((~load_sessions(db, now=NOW)["is_stored"]).sum())
    floor, ours = best_times(
        sizes.small_repeats,
        lambda: bare_select(db, STORED_COLUMNS),
        lambda: load_sessions(db, now=NOW),
    )
    return Figure(
        f"(e) `load_sessions` on {n:,} stored matches ({recent} recent) vs the bare "
        "`SELECT match_id, start_time, session_id, session_label` sorted",
        f"{ours * 1000:.1f} ms vs {floor * 1000:.1f} ms = **{ours / floor:.2f}x**",
        "≤ 1.2x",
        verdict(ours / floor <= 1.2),
    )


def dashboard_figures(work: Path, sizes: Sizes) -> list[Figure]:
    """(i) the dashboard's first render of a player and (j) a rerun, against `load_sessions`.

    The page's read path (`read_player_file`: the file's version, the cache, then one open
    for the sessions, why each started, the parameters and the friends' names) is what a
    render waits for from the file. A miss is forced by a new minute in the cache key, as
    the clock does. (k) reports the whole page script, widgets and chart included, as
    AppTest runs it (modules imported beforehand, as a running server has them).
    """
    from streamlit.testing.v1 import AppTest

    from sessions_pipeline.entry_points import dashboard

    n = sizes.read_matches
    progress(f"(i-k) the dashboard on a stored {n:,}-match player")
    root = work / "dashboard-root"
    db = write_player_file(root / "data" / "players" / "Bench" / "stats.duckdb", n)
    store_sessions(db, PARAMS, StoreOptions(now=NOW))
    minutes = (NOW + timedelta(minutes=i) for i in itertools.count(1))
    alone, first, rerun = best_times(
        sizes.small_repeats,
        lambda: load_sessions(db, now=NOW),
        lambda: dashboard.read_player_file(db, now=next(minutes)),
        lambda: dashboard.read_player_file(db, now=NOW),
    )

    os.environ[HOME_ENV_VAR] = str(root)
    try:
        app = AppTest.from_file(dashboard.__file__, default_timeout=120)
        app.run()  # imports the page's modules once, as a server's first visitor does
        page_first = page_rerun = math.inf
        for _ in range(sizes.repeats):
            st.cache_resource.clear()
            fresh = AppTest.from_file(dashboard.__file__, default_timeout=120)
            start = time.perf_counter()
            fresh.run()
            page_first = min(page_first, time.perf_counter() - start)
            start = time.perf_counter()
            fresh.run()
            page_rerun = min(page_rerun, time.perf_counter() - start)
        if fresh.exception or fresh.error:
            raise RuntimeError(f"the page failed: {fresh.exception or fresh.error}")
    finally:
        del os.environ[HOME_ENV_VAR]
    return [
        Figure(
            f"(i) dashboard, first render of a {n:,}-match player: the page's read (cache "
            "miss: sessions, why each started, parameters, friends' names; the friends check "
            "is a second cached read, in (k)) vs `load_sessions` alone on the same file",
            f"{first * 1000:.1f} ms vs {alone * 1000:.1f} ms = **{first / alone:.2f}x**",
            "≤ 1.5x",
            verdict(first / alone <= 1.5),
        ),
        Figure(
            "(j) dashboard, rerun on the unchanged file: the page's read (cache hit: the "
            "file's version, then the cached overview) vs `load_sessions`",
            f"{rerun * 1000:.3f} ms = **{rerun / alone:.1%}**",
            "< 5 %",
            verdict(rerun / alone < 0.05),
        ),
        Figure(
            f"(k) dashboard, the whole page script of the {n:,}-match player under AppTest "
            "(read, tables, chart, widgets; not the browser's drawing): first render, rerun",
            f"**{page_first * 1000:.0f} ms**, rerun **{page_rerun * 1000:.0f} ms**",
            "report",
            "reported",
        ),
    ]


def primed_stability_sensor(root: AppRoot) -> tuple[dg.SensorDefinition, str]:
    """The stability sensor over `root`, and the cursor of its first tick (which opened
    every file): the state a running sensor is in."""
    sensor = build_stability_sensor(root, JOB_NAME, root.gamertags())
    return sensor, sensor(dg.build_sensor_context()).cursor


def best_tick_seconds(
    sensor: dg.SensorDefinition,
    cursor: str,
    sizes: Sizes,
    *,
    reopened: int = 0,
    warehouse_reads: int = 0,
) -> float:
    """The best time of a tick from `cursor`, which must request no run and reopen no
    other file than `reopened` says (as the counts in its skip reason tell)."""
    unchanged = sizes.sensor_files - reopened
    counts = (
        f"({unchanged} files unchanged, {reopened} reopened, {warehouse_reads} warehouse reads)"
    )

    def tick() -> None:
        result = sensor(dg.build_sensor_context(cursor=cursor))
        reason = result.skip_reason.skip_message if result.skip_reason else ""
        if result.run_requests or not reason.endswith(counts):
            raise RuntimeError(f"the stability sensor did not do as expected {counts}: {reason}")

    [seconds] = best_times(sizes.small_repeats, tick)
    return seconds


def sensor_figure(work: Path, sizes: Sizes) -> Figure:
    """(f) a stability-sensor tick over many player files where nothing changed."""
    files = sizes.sensor_files
    progress(f"(f) an app root of {files:,} stored player files")
    template = write_player_file(work / "sensor-template.duckdb", sizes.sensor_file_matches)
    store_sessions(template, PARAMS, StoreOptions(include_recent=True))
    root = AppRoot(work / "sensor-root")
    build_app_root(root.path, template, files)
    seconds = best_tick_seconds(*primed_stability_sensor(root), sizes)
    return Figure(
        f"(f) one tick of the stability sensor over {files:,} player files, nothing changed",
        f"**{seconds:.3f} s**",
        "≤ 0.5 s",
        verdict(seconds <= 0.5),
    )


def sensor_v5_figure(work: Path, sizes: Sizes) -> Figure:
    """(n) the same over LevelUp v5+ players, whose matches are in one shared warehouse.

    Reported beside it: a tick once a sync brought one player a recent match (the
    warehouse changed: one query over it, and that player's file alone reopened).
    """
    files, matches = sizes.sensor_files, sizes.sensor_file_matches
    progress(f"(n) a v6 app root of {files:,} stored players sharing one warehouse")
    root = AppRoot(work / "sensor-v6-root")
    build_v6_sensor_root(root.path, files, matches, PARAMS)
    sensor, cursor = primed_stability_sensor(root)
    seconds = best_tick_seconds(sensor, cursor, sizes)
    with duckdb.connect(str(root.warehouse_db)) as con:
        recent = datetime.now(UTC).replace(tzinfo=None)
        con.execute("INSERT INTO match_registry (match_id, start_time) VALUES ('new', ?)", [recent])
        con.execute(
            "INSERT INTO match_participants (match_id, xuid, team_id) VALUES ('new', ?, 0)",
            [str(V6_XUID_BASE)],
        )
    after_sync = best_tick_seconds(sensor, cursor, sizes, reopened=1, warehouse_reads=1)
    return Figure(
        f"(n) one tick of the stability sensor over {files:,} LevelUp v5+ players sharing "
        f"one warehouse ({files * matches:,} participant rows), nothing changed; beside it, "
        "the tick once a sync brought one of them a match (one warehouse query, one file "
        "reopened)",
        f"**{seconds:.3f} s** (after the sync: {after_sync:.3f} s)",
        "≤ 0.5 s",
        verdict(seconds <= 0.5),
    )


def bare_store_seconds(root: AppRoot) -> float:
    """The sum of a first forced `store_sessions` of each player: (g)'s floor."""
    seconds = 0.0
    for gamertag in root.gamertags():
        start = time.perf_counter()
        store_sessions(root.player(gamertag).db_path, PARAMS, StoreOptions(force=True))
        seconds += time.perf_counter() - start
    return seconds


def installed_cli(*args: str) -> float:
    """Seconds the installed `sessions-pipeline` command takes, as a user runs it."""
    start = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("sessions-pipeline")), *args],
        env={k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def backfill_figure(work: Path, sizes: Sizes) -> Figure:
    """(g) the plan's backfill of every player, as a user runs it, vs the bare store work.

    The floor is `store_sessions` called directly on each player of an identical copy of
    the root (same files, same friends, same first forced store): what the backfill cannot
    avoid doing. A first forced store is done once per file, so each repeat (the floor's
    pass, the backfill's run) gets a fresh copy of the root, and the best repeat counts.
    The CLI's time includes its process start, also measured alone.
    """
    players, n = sizes.backfill_players, sizes.backfill_matches
    progress(f"(g) backfill --all over {players} players x {n:,} matches vs bare stores")
    template = write_player_file(work / "backfill-template.duckdb", n)
    copies = itertools.count()

    def fresh_root() -> Path:
        root = work / f"backfill-{next(copies)}"
        build_app_root(root, template, players)
        return root

    def bare_pass() -> float:
        return bare_store_seconds(AppRoot(fresh_root()))

    def backfill(*options: str) -> float:
        return installed_cli("backfill", "--all", "--force", "--root", str(fresh_root()), *options)

    # The floor and the backfill take turns, as `best_times` runs do (each times itself:
    # copying a root is in neither).
    passes = [(bare_pass(), backfill()) for _ in range(sizes.repeats)]
    bare, side_by_side = (min(times) for times in zip(*passes, strict=True))
    in_turn = backfill("--workers", "1")
    startup = installed_cli("--help")
    ratio = side_by_side / bare
    return Figure(
        f"(g) `sessions-pipeline backfill --all --force` over {players} players x {n:,} "
        f"matches (default: one worker process per CPU, each running ranges of up to "
        f"{PLAYERS_PER_RUN} players per Dagster run; ephemeral instance; includes {startup:.1f} s "
        f"of process start) vs the sum of the players' bare `store_sessions` (same files; "
        f"best of {sizes.repeats} for both)",
        f"{side_by_side:.1f} s vs {bare:.1f} s = **{ratio:.1f}x** "
        f"(`--workers 1`: {in_turn:.1f} s = {in_turn / bare:.1f}x)",
        "≤ 3x",
        verdict(ratio <= 3),
    )


# A v6 player's timeline as LevelUp v6 keeps it: its matches among the warehouse's
# participants, their start in the registry, its signature in its enrichment row or else
# from its team's other participants.
V6_TIMELINE_SQL = """
WITH mine AS (
    SELECT match_id, team_id FROM warehouse.match_participants WHERE xuid = $xuid
), mates AS (
    SELECT mine.match_id, string_agg(mate.xuid, ',' ORDER BY mate.xuid) AS signature
    FROM mine JOIN warehouse.match_participants AS mate
      ON mate.match_id = mine.match_id AND mate.team_id = mine.team_id AND mate.xuid <> $xuid
    GROUP BY mine.match_id
)
SELECT mine.match_id, r.start_time,
       coalesce(e.teammates_signature, mates.signature) AS teammates_signature
FROM mine
JOIN warehouse.match_registry AS r ON r.match_id = mine.match_id
LEFT JOIN mates ON mates.match_id = mine.match_id
LEFT JOIN player_match_enrichment AS e ON e.match_id = mine.match_id
"""


def bare_v6_select(root: Path, player: V6Player) -> pl.DataFrame:
    """(l)'s floor: the player's (match_id, start instant, signature) through the join,
    sorted; the file opened with `duckdb.connect`, the warehouse attached read-only."""
    warehouse = str(root / V6_WAREHOUSE).replace("'", "''")
    with duckdb.connect(str(player.db_path(root)), read_only=True) as con:
        con.execute(f"ATTACH '{warehouse}' AS warehouse (READ_ONLY)")
        frame = con.sql(V6_TIMELINE_SQL, params={"xuid": player.xuid}).pl()
    return paris_instants(frame)


def v6_figures(work: Path, sizes: Sizes) -> list[Figure]:
    """(l) reading one LevelUp v6 player, (m) the backfill of a v6 root (issue 16).

    One root serves both: its players share the warehouse as squads of friends do, and
    (l) reads its first player, never stored, as (a) reads a v4 file.
    """
    players, n = sizes.v6_players, sizes.v6_matches
    progress(f"(l, m) generating a v6 root of {players} players x {n:,} matches")
    template = work / "v6-template"
    roster = build_v6_app_root(template, players, n)
    first = roster[0]
    params = SessionParameters(friends_xuids=first.friends_xuids)
    db = first.db_path(template)

    def ours() -> pl.DataFrame:
        return load_sessions(db, friends_xuids=first.friends_xuids, now=NOW)

    progress("(l) load_sessions of a v6 player vs the bare join")
    reference = row_loop_sessions(bare_v6_select(template, first), params)
    values = ["match_id", "start_time", "session_id", "session_label"]
    if not reference.select(values).equals(ours().select(values)):
        raise RuntimeError("the bare v6 join and load_sessions disagree on the sessions")
    floor, read = best_times(sizes.small_repeats, lambda: bare_v6_select(template, first), ours)

    progress("(m) backfill --all over the v6 root vs bare stores")
    copies = itertools.count()

    def fresh_root() -> Path:
        root = work / f"v6-backfill-{next(copies)}"
        shutil.copytree(template, root)
        return root

    def bare_pass() -> tuple[float, Path]:
        root = fresh_root()
        seconds = 0.0
        for player in roster:
            start = time.perf_counter()
            store_sessions(
                player.db_path(root),
                SessionParameters(friends_xuids=player.friends_xuids),
                StoreOptions(force=True),
            )
            seconds += time.perf_counter() - start
        return seconds, root

    def backfill(*options: str) -> tuple[float, Path]:
        root = fresh_root()
        return installed_cli("backfill", "--all", "--force", "--root", str(root), *options), root

    # The floor and the backfill take turns, as in (g); copying a root is in neither.
    passes = [(bare_pass(), backfill()) for _ in range(sizes.repeats)]
    bare = min(floor_pass[0] for floor_pass, _ in passes)
    side_by_side = min(backfill_pass[0] for _, backfill_pass in passes)
    in_turn, in_turn_root = backfill("--workers", "1")
    # Both did the same work: the backfill resolved each player's friends from the
    # friends file as the floor was given them, and stored the same sessions.
    (_, bare_root), (_, backfill_root) = passes[0]
    expected = stored_sessions(bare_root, roster)
    if any(stored_sessions(root, roster) != expected for root in (backfill_root, in_turn_root)):
        raise RuntimeError("the backfill stored other sessions than the bare stores")
    startup = installed_cli("--help")
    ratio = side_by_side / bare
    return [
        Figure(
            f"(l) LevelUp v6: `load_sessions` of one never-stored player of {n:,} matches "
            f"(friends mode; the warehouse of {players} players) vs the bare read of its "
            "(match_id, start instant, signature) through the same join (`duckdb.connect`, "
            "warehouse attached, participants -> registry, enrichment's signature or the "
            "team's, Paris wall clock to instants in Polars, sorted)",
            f"{read * 1000:.1f} ms vs {floor * 1000:.1f} ms = **{read / floor:.2f}x**",
            "≤ 1.5x",
            verdict(read / floor <= 1.5),
        ),
        Figure(
            f"(m) LevelUp v6: `sessions-pipeline backfill --all --force` over {players} "
            f"players x {n:,} matches sharing one warehouse (as (g); includes {startup:.1f} s "
            f"of process start) vs the sum of the players' bare `store_sessions` (same "
            f"files, each with its friends; best of {sizes.repeats} for both)",
            f"{side_by_side:.1f} s vs {bare:.1f} s = **{ratio:.1f}x** "
            f"(`--workers 1`: {in_turn:.1f} s = {in_turn / bare:.1f}x)",
            "≤ 3x",
            verdict(ratio <= 3),
        ),
    ]


def stored_sessions(root: Path, roster: list[V6Player]) -> list[list[tuple]]:
    """Every player's stored (match_id, session_id, session_label), by match."""
    stored = []
    for player in roster:
        with duckdb.connect(str(player.db_path(root)), read_only=True) as con:
            stored.append(
                con.sql(
                    "SELECT match_id, session_id, session_label FROM player_match_enrichment "
                    "ORDER BY match_id"
                ).fetchall()
            )
    return stored


def machine() -> str:
    """Date and machine, as the README states them beside the figures."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    versions = ", ".join(f"{name} {version(name)}" for name in ("polars", "duckdb", "dagster"))
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs ({cpu}), "
        f"{memory:.1f} GiB RAM, Python {platform.python_version()}, {versions}"
    )


def table(figures: list[Figure], sizes: Sizes) -> str:
    kind = "--quick: smoke sizes, verdicts not meaningful" if sizes is QUICK else "full sizes"
    lines = [
        f"Benchmarks ({kind}), {machine()}",
        "",
        "| figure | measured | target | verdict |",
        "|---|---|---|---|",
        *(f"| {f.name} | {f.measured} | {f.target} | {f.verdict} |" for f in figures),
    ]
    return "\n".join(lines) + "\n"


# Which function measures which figures: a group's figures share their data, so `--only`
# runs a group whole as soon as one of its letters is asked for.
FIGURE_GROUPS: dict[str, Callable[[Path, Sizes], list[Figure] | Figure]] = {
    "abh": rules_figures,
    "cd": store_figures,
    "e": read_figure,
    "ijk": dashboard_figures,
    "f": sensor_figure,
    "g": backfill_figure,
    "lm": v6_figures,
    "n": sensor_v5_figure,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--only",
        metavar="LETTERS",
        default="".join(FIGURE_GROUPS),
        help="only the figures of these letters, e.g. 'aeh' (default: all)",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    groups = [
        measure for letters, measure in FIGURE_GROUPS.items() if set(letters) & set(args.only)
    ]
    if not groups:
        letters = "".join(sorted("".join(FIGURE_GROUPS)))
        parser.error(f"--only {args.only!r} names no figure (letters: {letters})")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="sessions-benchmarks-") as scratch:
        for measure in groups:
            measured = measure(Path(scratch), sizes)
            figures.extend(measured if isinstance(measured, list) else [measured])
    figures.sort(key=lambda figure: figure.name)
    report = table(figures, sizes)
    print(report)
    if sizes is FULL and len(groups) == len(FIGURE_GROUPS):
        RESULTS_FILE.parent.mkdir(exist_ok=True)
        RESULTS_FILE.write_text(report)


if __name__ == "__main__":
    main()
