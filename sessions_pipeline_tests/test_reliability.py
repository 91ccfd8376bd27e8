"""Issue 4: under faults and bad input nothing is lost, one test (or more) per row of its table.

Faults between processes (a lock holder, a writer racing readers, kill -9, two stores at
once) run for real in separate processes (`fault_programs/player_file.py`): DuckDB's file
lock is per process, and one process cannot even open a file twice with different modes.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sessions_pipeline import load_sessions
from sessions_pipeline.entry_points import cli
from sessions_pipeline.errors import (
    PlayerFileError,
    PlayerFileLockedError,
    PlayerNotFoundError,
    UnsafeGamertagError,
)
from sessions_pipeline.levelup.app_root import HOME_ENV_VAR, AppRoot
from sessions_pipeline.levelup.store import (
    NO_SIGNATURE_WARNING,
    StoreOptions,
    read_recorded_parameters,
    store_sessions,
)
from sessions_pipeline.orchestration.definitions import JOB_NAME, build_definitions
from sessions_pipeline.orchestration.run_config import sessions_run_config
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.levelup_files import (
    Match,
    append_matches,
    make_player_file,
    matches_at,
    read_match_stats,
)
from sessions_pipeline_tests.sessions_reference import (
    file_digest,
    reference_sessions,
    session_values,
    stored_values,
)

pytestmark = pytest.mark.reliability

REPOSITORY = Path(__file__).resolve().parents[1]
FAULT_PROGRAM = "sessions_pipeline_tests.fault_programs.player_file"
PROGRAM_TIMEOUT_SECONDS = 60

HISTORY_END = datetime(2025, 12, 31, 23, 0)
"""The last match of `history()`: long stable whenever the tests run."""
_STEPS_MINUTES = (12, 15, 60, 11, 14, 300, 13, 45)
"""Minutes between starts: a 60-minute pause cuts an evening at gap 30, not at gap 120."""
FRIEND, RANDOM = "2533274800000001", "2533274800000002"
GAP_OLD, GAP_NEW = 120, 30


def history(count: int) -> pl.DataFrame:
    """`count` matches ending at HISTORY_END whose sessions differ between GAP_OLD and GAP_NEW."""
    steps = pl.Series(_STEPS_MINUTES * (count // len(_STEPS_MINUTES) + 1)).head(count)
    minutes_to_end = steps.cum_sum(reverse=True) - steps
    number = pl.int_range(count)
    return pl.select(
        match_id=pl.format("m{}", number.cast(pl.String).str.zfill(7)),
        start_time=pl.lit(HISTORY_END) - pl.duration(minutes=pl.lit(minutes_to_end)),
        teammates_signature=pl.when((number // 9) % 4 == 0)
        .then(pl.lit(f"{FRIEND},{RANDOM}"))
        .otherwise(pl.lit(FRIEND)),
    )


class Child:
    """A Python module (a fault program role, the CLI) running in its own process."""

    def __init__(self, module: str, *args: object, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *map(str, args)],
            cwd=REPOSITORY,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> None:
        """Block until the program's imports are done, so faults are timed from its start."""
        line = self.process.stdout.readline()
        if line != "ready\n":
            self.process.kill()
            _, stderr = self.process.communicate()
            pytest.fail(f"fault program did not start: {line!r}\n{stderr}")

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def finish(self) -> str:
        """What the process printed; it must exit cleanly."""
        stdout, stderr = self.process.communicate(timeout=PROGRAM_TIMEOUT_SECONDS)
        assert self.process.returncode == 0, f"{stdout}\n{stderr}"
        return stdout

    def outcome(self) -> dict[str, object]:
        """A fault program's JSON report."""
        return json.loads(self.finish().splitlines()[-1])

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup — the process dies wherever it was, mid-write or not."""
        self.process.kill()
        self.process.communicate()


@pytest.fixture
def programs() -> Iterator[list[Child]]:
    """Processes a test starts; any still running at the end is killed."""
    started: list[Child] = []
    yield started
    for program in started:
        if program.process.poll() is None:
            program.kill()


def start(
    programs: list[Child],
    *args: object,
    env: dict[str, str] | None = None,
    module: str = FAULT_PROGRAM,
) -> Child:
    """Start `module` (by default a role of the fault program) with `args`."""
    program = Child(module, *args, env=env)
    programs.append(program)
    return program


# ---------------------------------------------------------------- the file lock


@pytest.mark.parametrize("read_only", [False, True], ids=["sync-read-write", "dashboard-read-only"])
def test_store_waits_for_a_holder_that_lets_go(
    tmp_path: Path, programs: list[Child], read_only: bool
) -> None:
    path = make_player_file(tmp_path / "stats.duckdb", history(300))
    hold_seconds = 1.0
    holder = start(
        programs, "hold", path, "--seconds", hold_seconds, *(["--read-only"] if read_only else [])
    )
    holder.ready()
    started = time.monotonic()
    result = store_sessions(path, SessionParameters(), StoreOptions(lock_timeout_seconds=30))
    waited = time.monotonic() - started
    assert holder.outcome() == {"held_seconds": hold_seconds}
    assert waited >= hold_seconds / 2, "the store must have met the lock and waited"
    assert result.written == 300


def test_store_gives_up_on_a_holder_that_never_lets_go(
    tmp_path: Path, programs: list[Child]
) -> None:
    path = make_player_file(tmp_path / "stats.duckdb", history(300))
    before = file_digest(path)
    holder = start(programs, "hold", path, "--seconds", PROGRAM_TIMEOUT_SECONDS)
    holder.ready()
    started = time.monotonic()
    with pytest.raises(PlayerFileLockedError, match="nothing was written") as raised:
        store_sessions(path, SessionParameters(), StoreOptions(lock_timeout_seconds=0.5))
    gave_up_after = time.monotonic() - started
    holder.kill()
    assert str(path) in str(raised.value)
    assert 0.3 <= gave_up_after < 3, "bounded by lock_timeout_seconds, not by the holder"
    assert file_digest(path) == before


# ---------------------------------------------------------------- readers during a store


def test_readers_see_all_old_or_all_new_while_stores_rewrite_the_file(
    tmp_path: Path, programs: list[Child]
) -> None:
    path = make_player_file(tmp_path / "stats.duckdb", history(20_000))
    expected = []
    for gap in (GAP_OLD, GAP_NEW):
        store_sessions(path, SessionParameters(gap_minutes=gap), StoreOptions(force=True))
        expected.append(tmp_path / f"gap_{gap}.parquet")
        load_sessions(path).write_parquet(expected[-1])
    reader_seconds = 3
    writer = start(
        programs,
        "store-loop",
        path,
        "--seconds",
        str(5 * reader_seconds),
        "--gaps",
        GAP_OLD,
        GAP_NEW,
    )
    reader = start(
        programs, "read-loop", path, "--seconds", str(reader_seconds), "--expect", *expected
    )
    for program in (writer, reader):
        program.ready()
    for program in (writer, reader):
        program.go()
    outcome = reader.outcome()
    assert writer.outcome()["stores"] >= 2
    assert outcome["errors"] == []
    assert outcome["mixed"] == 0, "a read returned a frame that is neither all old nor all new"
    assert all(outcome["matched"]), f"the reader should have seen both versions: {outcome}"


# ---------------------------------------------------------------- kill -9


def test_kill_9_at_any_instant_of_a_forced_store_leaves_all_old_or_all_new(
    tmp_path: Path, programs: list[Child]
) -> None:
    original = make_player_file(tmp_path / "original.duckdb", history(200_000))
    store_sessions(original, SessionParameters(gap_minutes=GAP_OLD))
    old = read_match_stats(original)
    finished = tmp_path / "finished.duckdb"
    shutil.copy(original, finished)
    started = time.monotonic()
    store_sessions(finished, SessionParameters(gap_minutes=GAP_NEW), StoreOptions(force=True))
    store_seconds = time.monotonic() - started
    new = read_match_stats(finished)
    assert not old.equals(new)

    # One kill in each slice of [0, 1.25 x the store's duration], at a random point of it.
    kills = 4
    rng = random.Random()
    delays = [store_seconds * 1.25 * (k + rng.random()) / kills for k in range(kills)]
    copies = [tmp_path / f"killed_{k}.duckdb" for k in range(kills)]
    stores = []
    for copy in copies:
        shutil.copy(original, copy)
        stores.append(start(programs, "store", copy, "--gap", GAP_NEW, "--force"))
    for store in stores:
        store.ready()
    outcomes = []
    for store, delay, copy in zip(stores, delays, copies, strict=True):
        store.go()
        time.sleep(delay)
        store.kill()
        after = read_match_stats(copy)  # opens read-only, as the dashboard does
        recorded_gap = read_recorded_parameters(copy).params.gap_minutes
        state = "old" if after.equals(old) else "new" if after.equals(new) else "mixed"
        outcomes.append((round(delay, 3), state, recorded_gap))
    assert [state for _, state, _ in outcomes].count("mixed") == 0, outcomes
    for _, state, recorded_gap in outcomes:
        assert recorded_gap == (GAP_OLD if state == "old" else GAP_NEW), outcomes


# ---------------------------------------------------------------- two stores at once


def test_two_stores_of_one_player_at_once_both_end_and_the_file_is_right(
    tmp_path: Path, programs: list[Child]
) -> None:
    path = make_player_file(tmp_path / "stats.duckdb", history(20_000))
    alone = tmp_path / "alone.duckdb"
    shutil.copy(path, alone)
    store_sessions(alone, SessionParameters())
    stores = [start(programs, "store", path) for _ in range(2)]
    for store in stores:
        store.ready()
    for store in stores:
        store.go()
    written = sorted(store.outcome()["written"] for store in stores)
    assert written == [0, 20_000], "one stores everything, the other finds it done"
    assert_frame_equal(read_match_stats(path), read_match_stats(alone))


# ---------------------------------------------------------------- late matches


def test_a_late_match_inside_stored_history_is_repaired_and_earlier_ids_stay(
    tmp_path: Path,
) -> None:
    day = datetime(2025, 5, 3, 18, 0)
    matches = [
        *matches_at(day, [0, 10], signatures=FRIEND, prefix="a"),
        *matches_at(day + timedelta(days=1), [0, 10], signatures=FRIEND, prefix="b"),
        *matches_at(day + timedelta(days=1), [200, 210], signatures=FRIEND, prefix="c"),
        *matches_at(day + timedelta(days=2), [0], signatures=FRIEND, prefix="d"),
    ]
    path = make_player_file(tmp_path / "stats.duckdb", matches)
    store_sessions(path, SessionParameters())
    before = stored_values(path)
    assert before["session_id"].to_list() == [0, 0, 1, 1, 2, 2, 3]

    # 90 min after b1 and 100 min before c0: it bridges sessions 1 and 2 into one.
    late = ("late", day + timedelta(days=1, minutes=100), FRIEND)
    append_matches(path, [late])
    result = store_sessions(path, SessionParameters())

    after = stored_values(path)
    assert after["session_id"].to_list() == [0, 0, 1, 1, 1, 1, 1, 2]
    assert_frame_equal(after.head(2), before.head(2))  # the session before the late match
    reference = pl.DataFrame(
        [row[:4] for row in reference_sessions([*matches, late], SessionParameters())],
        schema=after.schema,
        orient="row",
    )
    assert_frame_equal(after, reference)
    assert (result.filled, result.repaired) == (1, 3)


# ---------------------------------------------------------------- files that are not right


def test_a_profile_pointing_at_a_missing_file_is_a_clear_error_and_creates_nothing(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "data" / "elsewhere" / "stats.duckdb"
    (tmp_path / "db_profiles.json").write_text(
        json.dumps({"profiles": {"Ghost": {"db_path": "data/elsewhere/stats.duckdb"}}})
    )
    root = AppRoot(tmp_path)
    assert root.gamertags() == ["Ghost"], "listed, so that --all reports it"
    with pytest.raises(PlayerNotFoundError, match=r"'Ghost'.*is missing"):
        root.player("Ghost")
    with pytest.raises(PlayerNotFoundError, match="does not exist"):
        store_sessions(missing, SessionParameters())
    with pytest.raises(PlayerNotFoundError, match="does not exist"):
        load_sessions(missing)
    assert not missing.parent.exists(), "DuckDB creates a file it is asked to open: never here"


def store_with_defaults(path: Path) -> None:
    store_sessions(path, SessionParameters())


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(store_with_defaults, id="store"),
        pytest.param(load_sessions, id="load_sessions"),
    ],
)
def test_a_file_without_match_stats_is_a_clear_error_and_stays_as_it_was(
    tmp_path: Path, call: Callable[[Path], object]
) -> None:
    path = tmp_path / "stats.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE xuid_aliases (xuid VARCHAR, gamertag VARCHAR)")
    con.close()
    before = file_digest(path)
    try:
        with pytest.raises(PlayerFileError, match="no match_stats table"):
            call(path)
    finally:
        assert file_digest(path) == before, "nothing written, whatever the error"


def make_file_without_signatures(path: Path, matches: Sequence[Match] | pl.DataFrame) -> Path:
    """A sync-created file from before LevelUp recorded teammates."""
    make_player_file(path, matches, schema="sync")
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE match_stats DROP COLUMN teammates_signature")
    con.close()
    return path


def test_match_stats_without_teammates_signature_cuts_on_the_gap_only_with_a_warning(
    tmp_path: Path,
) -> None:
    # Teammates change at every match: read, they would cut four sessions.
    matches = matches_at(HISTORY_END, [0, 10, 20, 200], signatures=["1", "2", "3", "4"])
    path = make_file_without_signatures(tmp_path / "stats.duckdb", matches)
    result = store_sessions(path, SessionParameters())
    assert result.warnings == (NO_SIGNATURE_WARNING,)
    assert stored_values(path)["session_id"].to_list() == [0, 0, 0, 1]


# ---------------------------------------------------------------- start times


def test_timestamptz_start_times_are_read_as_instants_whatever_the_time_zone(
    tmp_path: Path, programs: list[Child]
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    evening = (now - timedelta(days=2)).replace(hour=22, minute=50)
    offsets = [0, 50, 100, 180]  # crosses midnight UTC, and midnight in Paris
    matches = [
        *matches_at(evening, offsets, signatures=FRIEND, prefix="old"),
        *matches_at(now - timedelta(minutes=90), [0, 30], signatures=FRIEND, prefix="new"),
    ]
    aware = [(m, start.replace(tzinfo=UTC), s) for m, start, s in matches]
    path = make_player_file(
        tmp_path / "stats.duckdb", aware, column_types={"start_time": "TIMESTAMPTZ"}
    )
    reference = pl.DataFrame(
        [row[:4] for row in reference_sessions(matches, SessionParameters())],
        schema={
            "match_id": pl.String,
            "start_time": pl.Datetime("us"),
            "session_id": pl.Int64,
            "session_label": pl.String,
        },
        orient="row",
    ).with_columns(is_stored=pl.col("match_id").str.starts_with("old"))
    reference.write_parquet(tmp_path / "expected.parquet")

    # A machine 14 hours ahead of UTC: DuckDB connections there default to that TimeZone.
    kiritimati = {"TZ": "Pacific/Kiritimati"}
    store = start(programs, "store", path, env=kiritimati)
    store.ready()
    store.go()
    assert store.outcome()["written"] == len(offsets)
    stored = stored_values(path).filter(pl.col("match_id").str.starts_with("old"))
    expected = session_values(reference.head(len(offsets)))
    assert_frame_equal(stored.drop("start_time"), expected.drop("start_time"))

    reader = start(
        programs, "read-loop", path, "--seconds", "0", "--expect", tmp_path / "expected.parquet",
        env=kiritimati,
    )  # fmt: skip
    reader.ready()
    reader.go()
    assert reader.outcome() == {"matched": [1], "mixed": 0, "errors": []}


def test_a_match_starting_in_the_future_counts_as_recent(tmp_path: Path) -> None:
    now = datetime(2026, 2, 7, 21, 30)
    matches = [
        *matches_at(now - timedelta(days=1), [0, 10], signatures=FRIEND),
        ("future", now + timedelta(minutes=30), FRIEND),  # a sync clock ahead of ours
    ]
    path = make_player_file(tmp_path / "stats.duckdb", matches)
    result = store_sessions(path, SessionParameters(), StoreOptions(now=now))
    assert (result.written, result.left_recent) == (2, 1)
    assert stored_values(path).filter(match_id="future")["session_id"].to_list() == [None]
    loaded = load_sessions(path, now=now).filter(match_id="future")
    assert loaded.select("session_id", "is_stored").row(0) == (1, False)

    later = store_sessions(path, SessionParameters(), StoreOptions(now=now + timedelta(hours=5)))
    assert (later.written, later.left_recent) == (1, 0)


# ---------------------------------------------------------------- files without a primary key


def test_duplicate_match_ids_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    matches = [*matches_at(HISTORY_END, [0, 10, 20]), ("m1", HISTORY_END, FRIEND)]
    path = make_player_file(tmp_path / "stats.duckdb", matches, schema="sync", primary_key=False)
    before = file_digest(path)
    with pytest.raises(PlayerFileError, match=r"duplicate match_id rows \('m1' x2\)"):
        store_sessions(path, SessionParameters())
    assert file_digest(path) == before, "not even the session columns were added"
    assert len(load_sessions(path)) == 4, "the dashboard still reads it, every row computed"


def test_null_match_ids_are_left_out_counted_and_stay_null(tmp_path: Path) -> None:
    matches = [
        *matches_at(HISTORY_END, [0, 10, 20], signatures=FRIEND),
        (None, HISTORY_END + timedelta(minutes=5), FRIEND),
        (None, HISTORY_END + timedelta(minutes=15), FRIEND),
    ]
    path = make_player_file(tmp_path / "stats.duckdb", matches, primary_key=False)
    first = store_sessions(path, SessionParameters())
    again = store_sessions(path, SessionParameters())
    assert (first.null_match_ids, first.written) == (2, 3)
    assert (again.null_match_ids, again.written) == (2, 0)
    rows = read_match_stats(path)
    assert rows.filter(pl.col("match_id").is_null())["session_id"].to_list() == [None, None]
    assert load_sessions(path)["match_id"].to_list() == ["m0", "m1", "m2"]


# ---------------------------------------------------------------- gamertags as paths


@contextmanager
def forbid_opening_files(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any DuckDB open inside the block fails the test."""

    def connect(*args: object, **kwargs: object) -> None:
        pytest.fail(f"a DuckDB file was opened: {args}")

    with monkeypatch.context() as patch:
        patch.setattr(duckdb, "connect", connect)
        yield


@pytest.mark.parametrize("gamertag", ["..", "../outside", "a/../../outside", "..\\outside"])
def test_a_gamertag_escaping_the_root_is_refused_before_any_file_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gamertag: str
) -> None:
    root = tmp_path / "root"
    (root / "data" / "players").mkdir(parents=True)
    (root / "db_profiles.json").write_text("{not json")  # read, it raises ConfigFileError
    outside = make_player_file(tmp_path / "outside" / "stats.duckdb", matches_at(HISTORY_END, [0]))
    before = file_digest(outside)
    with forbid_opening_files(monkeypatch), pytest.raises(UnsafeGamertagError):
        AppRoot(root).player(gamertag)
    assert file_digest(outside) == before


# ---------------------------------------------------------------- idempotence


@pytest.mark.parametrize("force", [False, True], ids=["default", "force"])
def test_a_second_identical_store_writes_nothing(tmp_path: Path, force: bool) -> None:
    now = HISTORY_END + timedelta(hours=2)  # the last evening is still recent
    path = make_player_file(tmp_path / "stats.duckdb", history(5_000))
    options = StoreOptions(force=force, now=now)
    first = store_sessions(path, SessionParameters(), options)
    after_first = file_digest(path)
    second = store_sessions(path, SessionParameters(), options)
    assert first.written > 0 and first.left_recent > 0
    assert file_digest(path) == after_first, "not one byte of the file changed"
    assert (second.written, second.filled, second.relabelled, second.repaired) == (0, 0, 0, 0)
    assert second.changes.is_empty()
    assert second.unchanged == first.written


# ---------------------------------------------------------------- the Dagster runs and the CLI

JGTM_XUID = "2533274823110022"


def player_file(root: Path, gamertag: str) -> Path:
    return root / "data" / "players" / gamertag / "stats.duckdb"


def write_friends_file(root: Path, text: str, *, encoding: str = "utf-8") -> None:
    (root / ".streamlit" / "friends_defaults.json").write_text(text, encoding=encoding)


def run_job(root: Path, gamertag: str = "JGtm") -> dg.ExecuteInProcessResult:
    """One run of `sessions_job` for a player, as the Launchpad starts it."""
    job = build_definitions(AppRoot(root)).resolve_job_def(JOB_NAME)
    return job.execute_in_process(
        run_config=sessions_run_config(), partition_key=gamertag, raise_on_error=False
    )


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (event,) = result.asset_materializations_for_node(asset)
    return {key: value.value for key, value in event.metadata.items()}


def step_failure(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    """The failed step, and our error's message in the chain Dagster wraps it in."""
    [failure, *_] = result.get_step_failure_events()
    error = failure.step_failure_data.error
    while error.cls_name != "ConfigFileError" and error.cause is not None:
        error = error.cause
    return failure.step_key, error.message


BAD_FRIENDS_FILES = {
    "truncated": (json.dumps({JGTM_XUID: ["Madina97294", "Chocoboflor"]})[:30], "invalid JSON"),
    "list-not-object": (json.dumps(["Madina97294"]), "expected an object .* got a list"),
    "string-not-list": (json.dumps({JGTM_XUID: "Madina97294"}), "must be a list .* got a string"),
}


@pytest.mark.parametrize("text, problem", BAD_FRIENDS_FILES.values(), ids=BAD_FRIENDS_FILES)
def test_a_bad_friends_file_fails_the_run_before_writing(
    demo_root: Path, text: str, problem: str
) -> None:
    write_friends_file(demo_root, text)
    before = file_digest(player_file(demo_root, "JGtm"))
    result = run_job(demo_root)
    assert not result.success
    step, message = step_failure(result)
    assert step == "friends_xuids", "the first step fails: nothing after it ran"
    assert re.search(rf"friends_defaults\.json: .*{problem}", message), message
    assert file_digest(player_file(demo_root, "JGtm")) == before


@pytest.mark.parametrize(
    "text, problem",
    [
        pytest.param(*BAD_FRIENDS_FILES["truncated"], id="truncated"),
        pytest.param(*BAD_FRIENDS_FILES["list-not-object"], id="list-not-object"),
        pytest.param(*BAD_FRIENDS_FILES["string-not-list"], id="string-not-list"),
    ],
)
def test_backfill_names_the_bad_friends_file_and_the_problem(
    demo_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    problem: str,
) -> None:
    write_friends_file(demo_root, text)
    monkeypatch.setenv(HOME_ENV_VAR, str(demo_root))
    monkeypatch.setenv("COLUMNS", "400")  # rich would wrap the message checked below
    assert cli.main(["backfill", "--gamertag", "JGtm"]) != 0
    output = capsys.readouterr().out
    assert re.search(rf"JGtm: .*friends_defaults\.json: .*{problem}", output), output


@pytest.mark.parametrize(
    "sensor_name",
    [
        "friends_changed_sensor",
        "stability_sensor",
    ],
)
@pytest.mark.parametrize("text, problem", BAD_FRIENDS_FILES.values(), ids=BAD_FRIENDS_FILES)
def test_sensors_skip_on_a_bad_friends_file_with_its_error(
    demo_root: Path, text: str, problem: str, sensor_name: str
) -> None:
    write_friends_file(demo_root, text)
    defs = build_definitions(AppRoot(demo_root))
    sensor = next(sensor for sensor in defs.sensors if sensor.name == sensor_name)
    with dg.DagsterInstance.ephemeral() as instance:
        tick = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert not tick.run_requests
    assert re.search(rf"friends_defaults\.json: .*{problem}", tick.skip_reason.skip_message)


def test_a_friends_file_with_a_bom_and_unknown_gamertags_is_read_and_reported(
    demo_root: Path,
) -> None:
    entry = {JGTM_XUID: ["Madina97294", "NoSuchPlayer", "~OldSquadMate", "Nobody Either"]}
    write_friends_file(demo_root, json.dumps(entry), encoding="utf-8-sig")
    result = run_job(demo_root)
    assert result.success
    friends = materialization_metadata(result, "friends_xuids")
    assert (friends["source"], friends["friends_count"]) == ("config", 1)
    assert friends["unresolved"] == "NoSuchPlayer, Nobody Either"
    assert materialization_metadata(result, "stored_sessions")["written"] > 0


def test_match_stats_without_teammates_signature_is_a_warning_in_the_run_metadata(
    tmp_path: Path,
) -> None:
    make_file_without_signatures(player_file(tmp_path, "NoSig"), history(50))
    result = run_job(tmp_path, "NoSig")
    assert result.success
    assert "gap-only" in materialization_metadata(result, "match_timeline")["warning"]
    assert materialization_metadata(result, "stored_sessions")["warnings"] == NO_SIGNATURE_WARNING


def test_a_second_identical_run_writes_nothing(demo_root: Path) -> None:
    assert run_job(demo_root).success
    after_first = file_digest(player_file(demo_root, "JGtm"))
    second = run_job(demo_root)
    assert materialization_metadata(second, "stored_sessions")["written"] == 0
    assert file_digest(player_file(demo_root, "JGtm")) == after_first


def test_backfill_all_does_the_other_players_and_exits_non_zero(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles_file = demo_root / "db_profiles.json"
    profiles = json.loads(profiles_file.read_text())
    profiles["profiles"]["Ghost"] = {"db_path": "data/lost/stats.duckdb"}
    profiles_file.write_text(json.dumps(profiles))
    broken = player_file(demo_root, "Broken")
    broken.parent.mkdir()
    duckdb.connect(str(broken)).close()
    broken_before = file_digest(broken)
    monkeypatch.setenv(HOME_ENV_VAR, str(demo_root))
    monkeypatch.setenv("COLUMNS", "400")  # rich would wrap the messages checked below

    status = cli.main(["backfill", "--all"])

    output = capsys.readouterr().out
    assert status != 0
    assert re.search(r"Ghost: .*data/lost/stats\.duckdb.*is missing", output), output
    assert re.search(r"Broken: .*no match_stats table", output), output
    for gamertag in ("Chocoboflor", "JGtm", "Madina97294", "XxDaemonGamerxX"):
        assert stored_values(player_file(demo_root, gamertag))["session_id"].null_count() == 0
    assert not (demo_root / "data" / "lost").exists()
    assert file_digest(broken) == broken_before


@pytest.mark.parametrize("gamertag", ["..", "../outside"])
def test_a_partition_key_escaping_the_root_is_refused_before_any_file_opens(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch, gamertag: str
) -> None:
    outside = make_player_file(demo_root.parent / "outside" / "stats.duckdb", history(10))
    before = file_digest(outside)
    job = build_definitions(AppRoot(demo_root)).resolve_job_def(JOB_NAME)
    monkeypatch.setenv(HOME_ENV_VAR, str(demo_root))
    with forbid_opening_files(monkeypatch):
        with pytest.raises(dg.DagsterUnknownPartitionError):
            job.execute_in_process(run_config=sessions_run_config(), partition_key=gamertag)
        assert cli.main(["backfill", "--gamertag", gamertag]) != 0
    assert file_digest(outside) == before


def test_two_runs_of_one_player_at_once_both_end_and_the_file_is_right(
    demo_root: Path, tmp_path: Path, programs: list[Child]
) -> None:
    alone = tmp_path / "alone"
    shutil.copytree(demo_root, alone)
    assert run_job(alone).success
    # The sync holds the file while both runs start, so they meet at its lock.
    holder = start(programs, "hold", player_file(demo_root, "JGtm"), "--seconds", 4)
    holder.ready()
    env = {HOME_ENV_VAR: str(demo_root), "DAGSTER_HOME": ""}  # throwaway Dagster instances
    runs = [
        start(
            programs,
            "backfill",
            "--gamertag",
            "JGtm",
            env=env,
            module="sessions_pipeline.entry_points.cli",
        )
        for _ in range(2)
    ]
    for run in runs:
        run.finish()
    holder.finish()
    assert_frame_equal(
        read_match_stats(player_file(demo_root, "JGtm")),
        read_match_stats(player_file(alone, "JGtm")),
    )
