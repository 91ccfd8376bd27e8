"""Start instants: naive start times are wall clock of `start_time_zone`, aware ones are instants.

LevelUp's sync writes a naive wall clock (Paris on the machines it runs on); v7 adds a
`start_time_utc` instant beside it. Whatever the layout, the zone, the DST night or the
connection's own TimeZone, sessions are cut on the instants and labelled in the label zone.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions_pipeline import load_sessions
from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.sql.player_db import PARAMETERS_TABLE
from sessions_pipeline.levelup.store import (
    NEW_PARAMETERS_WARNING,
    StoreOptions,
    read_recorded_parameters,
    store_sessions,
)
from sessions_pipeline.orchestration.definitions import build_definitions
from sessions_pipeline.orchestration.run_config import sessions_run_config
from sessions_pipeline.rules.sessions import (
    DEFAULT_STABILITY_HOURS,
    SessionParameters,
    wall_clock_to_utc,
)
from sessions_pipeline_tests.levelup_files import (
    Match,
    append_matches,
    as_read_back,
    make_player_file,
    matches_frame,
)
from sessions_pipeline_tests.sessions_reference import (
    LABEL_TIME_ZONES,
    NOW,
    XUIDS,
    Batch,
    arrivals,
    by_id,
    connection_time_zone,
    edit_by_hand,
    reference_sessions,
    stored_by_id,
    timelines,
    with_ranked,
)

EXAMPLES = settings(max_examples=40, deadline=None)
FILES = settings(max_examples=15, deadline=None)
LATER = datetime(2027, 6, 1)
"""A `now` after every timeline of `timelines()` (naive UTC): everything is stable."""
ZONES = ("Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
START_ZONES = ("Europe/Paris", "UTC", "America/New_York")
TRANSITION_DAYS = (
    *(date(2025, 3, 30), date(2025, 10, 26), date(2026, 3, 29), date(2026, 10, 25)),  # Paris
    *(date(2025, 3, 9), date(2025, 11, 2), date(2026, 3, 8), date(2026, 11, 1)),  # New York
    *(date(2025, 4, 6), date(2025, 10, 5), date(2026, 4, 5), date(2026, 10, 4)),  # Lord Howe
)
EDGE_SECONDS = (3600, 7200 - 1, 7200, 9000, 10800 - 1, 10800, 12600)
MODES = ("friends", "group", "ignore")

wall_times = st.builds(
    lambda day, seconds, micros: (
        datetime(day.year, day.month, day.day) + timedelta(seconds=seconds, microseconds=micros)
    ),
    st.sampled_from(TRANSITION_DAYS),
    st.sampled_from(EDGE_SECONDS) | st.integers(30 * 60, 4 * 3600 + 30 * 60),
    st.sampled_from((0, 999_999)) | st.integers(0, 999_999),
)
rule_parameters = st.builds(
    SessionParameters,
    gap_minutes=st.sampled_from((120, 45)),
    friends_xuids=st.frozensets(st.sampled_from(XUIDS), max_size=2),
    label_time_zone=st.sampled_from(LABEL_TIME_ZONES),
    start_time_zone=st.sampled_from(START_ZONES),
    split_on_ranked_change=st.booleans(),
    team_change_mode=st.sampled_from(MODES),
)


def zoneinfo_fold0(wall: datetime | None, zone: str) -> datetime | None:
    """The instant of a wall time, as Python's zoneinfo reads it (`fold=0`), naive UTC."""
    if wall is None:
        return None
    return wall.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC).replace(tzinfo=None)


@EXAMPLES
@given(
    walls=st.lists(st.none() | wall_times, max_size=30),
    zone=st.sampled_from(ZONES),
    shape=st.sampled_from(("sorted", "sorted with nulls", "any order")),
)
def test_wall_clock_to_utc_is_zoneinfo_fold_0(
    walls: list[datetime | None], zone: str, shape: str
) -> None:
    """Every wall time, DST nights included, gets zoneinfo's fold=0 instant; no row is lost."""
    if shape != "any order":
        present = sorted(wall for wall in walls if wall is not None)
        walls = present if shape == "sorted" else [*present, *(w for w in walls if w is None)]
    converted = wall_clock_to_utc(pl.Series("start_time", walls, dtype=pl.Datetime("us")), zone)
    assert converted.name == "start_time"
    assert converted.to_list() == [zoneinfo_fold0(wall, zone) for wall in walls]


@pytest.mark.parametrize(
    ("wall", "zone", "instant"),
    [
        (datetime(2026, 3, 29, 2, 30), "Europe/Paris", datetime(2026, 3, 29, 1, 30)),
        (datetime(2026, 10, 25, 2, 30), "Europe/Paris", datetime(2026, 10, 25, 0, 30)),
        (datetime(2026, 3, 29, 3, 0), "Europe/Paris", datetime(2026, 3, 29, 1, 0)),
        (datetime(2026, 10, 25, 3, 0), "Europe/Paris", datetime(2026, 10, 25, 2, 0)),
        (datetime(2025, 3, 30, 2, 30), "Europe/Paris", datetime(2025, 3, 30, 1, 30)),
        (datetime(2025, 10, 26, 2, 30), "Europe/Paris", datetime(2025, 10, 26, 0, 30)),
        (datetime(2026, 3, 8, 2, 30), "America/New_York", datetime(2026, 3, 8, 7, 30)),
        (datetime(2026, 11, 1, 1, 30), "America/New_York", datetime(2026, 11, 1, 5, 30)),
        (datetime(2025, 10, 5, 2, 15), "Australia/Lord_Howe", datetime(2025, 10, 4, 15, 45)),
        (datetime(2025, 4, 6, 1, 45), "Australia/Lord_Howe", datetime(2025, 4, 5, 14, 45)),
        (datetime(2026, 3, 29, 2, 30), "Asia/Kolkata", datetime(2026, 3, 28, 21, 0)),
    ],
)
def test_wall_clock_edge_cases(wall: datetime, zone: str, instant: datetime) -> None:
    """The spring hour takes the offset before the change, the autumn hour the earlier instant."""
    for walls in ([wall], [None, wall], [wall, datetime(2024, 1, 1)]):
        converted = wall_clock_to_utc(pl.Series(walls, dtype=pl.Datetime("us")), zone)
        assert converted.to_list() == [zoneinfo_fold0(w, zone) for w in walls]
        assert instant in converted.to_list()


def load(path: Path, params: SessionParameters, now: datetime) -> pl.DataFrame:
    """`load_sessions` with every rule given explicitly."""
    return load_sessions(
        path,
        friends_xuids=params.friends_xuids,
        gap_minutes=params.gap_minutes,
        start_time_zone=params.start_time_zone,
        label_time_zone=params.label_time_zone,
        split_on_ranked_change=params.split_on_ranked_change,
        team_change_mode=params.team_change_mode,
        now=now,
    )


@contextmanager
def a_directory() -> Iterator[Path]:
    """A fresh directory per hypothesis example (pytest's tmp_path is per test)."""
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


@FILES
@given(matches=timelines(), params=rule_parameters, data=st.data())
def test_sync_written_files_read_and_store_as_the_reference(
    matches: list[Match], params: SessionParameters, data: st.DataObject
) -> None:
    """Paris wall clock read in the chosen start zone: reader and store agree with the rules."""
    flags = data.draw(
        st.lists(st.sampled_from((True, False, None)), min_size=len(matches), max_size=len(matches))
    )
    ranked = {match_id: flag for (match_id, _, _), flag in zip(matches, flags, strict=False)}
    expected = reference_sessions(
        as_read_back(matches, params.start_time_zone), params, ranked=ranked
    )
    with a_directory() as directory:
        path = make_player_file(directory / "stats.duckdb", with_ranked(matches, ranked))

        loaded = load(path, params, LATER)
        assert loaded.drop("is_stored").rows() == [row[:4] for row in expected]

        result = store_sessions(path, params, StoreOptions(now=LATER))
        assert result.warnings == ()
        assert stored_by_id(path) == by_id(expected)
        replayed = load_sessions(path, now=LATER)
        assert replayed.drop("is_stored").rows() == [row[:4] for row in expected]
        assert replayed["is_stored"].all()


def v7_frame(matches: Sequence[Match], utc_ids: frozenset[str]) -> pl.DataFrame:
    """Matches as LevelUp v7 writes them: naive Paris wall clock, and for `utc_ids` the
    instant in `start_time_utc` (NULL for the others, as in rows synced before v7)."""
    frame = matches_frame(matches)
    in_utc = pl.col("match_id").is_in(sorted(utc_ids))
    return frame.with_columns(start_time_utc=pl.when(in_utc).then(pl.col("start_time")))


AWARE_LAYOUTS: dict[str, tuple[dict, Callable[[Sequence[Match], frozenset[str]], object]]] = {
    "timestamptz": ({"column_types": {"start_time": "TIMESTAMPTZ"}}, lambda m, _: list(m)),
    "start_time_utc": ({"extra_columns": {"start_time_utc": "TIMESTAMPTZ"}}, v7_frame),
}


def expected_instants(
    layout: str, matches: Sequence[Match], utc_ids: frozenset[str], zone: str
) -> list[Match]:
    """The instants a reader must see: aware ones as they are, naive ones read in `zone`."""
    if layout == "timestamptz":
        return list(matches)
    return [match if match[0] in utc_ids else as_read_back([match], zone)[0] for match in matches]


@FILES
@given(
    layout=st.sampled_from(sorted(AWARE_LAYOUTS)),
    batches=arrivals(st.just(StoreOptions())),
    params=rule_parameters,
    data=st.data(),
)
def test_aware_starts_are_instants_whatever_the_connection_zone(
    layout: str, batches: list[Batch], params: SessionParameters, data: st.DataObject
) -> None:
    """TIMESTAMPTZ and v7's start_time_utc are instants, on a New York machine too."""
    matches = [match for batch in batches for match in batch.matches]
    utc_ids = data.draw(st.frozensets(st.sampled_from([m[0] for m in matches])))
    file_options, frame_of = AWARE_LAYOUTS[layout]
    instants = expected_instants(layout, matches, utc_ids, params.start_time_zone)
    expected = reference_sessions(instants, params)
    starts = [start for _, start, _ in instants if start is not None]
    end = max([*starts, batches[-1].now]) + timedelta(hours=DEFAULT_STABILITY_HOURS)
    with connection_time_zone("America/New_York"), a_directory() as directory:
        incremental = make_player_file(directory / "incremental.duckdb", **file_options)
        for batch in batches:
            append_matches(incremental, frame_of(batch.matches, utc_ids))
            store_sessions(incremental, params, batch.store)
        loaded = load(incremental, params, batches[-1].now)
        assert loaded.drop("is_stored").rows() == [row[:4] for row in expected]
        store_sessions(incremental, params, StoreOptions(now=end))

        forced = make_player_file(
            directory / "forced.duckdb", frame_of(matches, utc_ids), **file_options
        )
        store_sessions(forced, params, StoreOptions(force=True, now=end))
        assert stored_by_id(forced) == by_id(expected)
        assert stored_by_id(incremental) == stored_by_id(forced)


def test_the_hour_that_never_happened_does_not_cut_a_session(tmp_path: Path) -> None:
    """01:50 and 03:10 Paris wall clock on the spring night are 20 real minutes apart."""
    matches = [("a", datetime(2026, 3, 29, 0, 50), None), ("b", datetime(2026, 3, 29, 1, 10), None)]
    path = make_player_file(tmp_path / "stats.duckdb", matches)
    gap_30 = SessionParameters(gap_minutes=30)
    label = "29/03/2026 01:50\u201303:10 (2)"

    loaded = load_sessions(path, gap_minutes=30, now=LATER)
    assert loaded["session_id"].to_list() == [0, 0]
    assert loaded["session_label"].to_list() == [label, label]

    # Read as UTC (what older code did), the same rows are 80 minutes apart: two sessions.
    as_utc = load_sessions(path, gap_minutes=30, start_time_zone="UTC", now=LATER)
    assert as_utc["session_id"].to_list() == [0, 1]

    store_sessions(path, gap_30, StoreOptions(now=LATER))
    assert stored_by_id(path) == {"a": (0, label), "b": (0, label)}


WINTER = [
    ("w0", datetime(2026, 2, 6, 18, 0), XUIDS[0]),  # written 19:00 Paris wall clock
    ("w1", datetime(2026, 2, 6, 18, 40), XUIDS[0]),
    ("w2", datetime(2026, 2, 7, 18, 0), None),
]
LEGACY_COLUMNS = ("start_time_zone", "split_on_ranked_change", "team_change_mode", "sources")
CHANGE = "start_time_zone UTC -> Europe/Paris"
AN_HOUR_LATER = NOW + timedelta(hours=1)


def store_as_older_code(path: Path) -> None:
    """What the code before the start-time zone left: naive times read as UTC, and a
    parameters table without the columns added since."""
    store_sessions(path, SessionParameters(start_time_zone="UTC"), StoreOptions(now=NOW))
    for column in LEGACY_COLUMNS:
        edit_by_hand(path, f"ALTER TABLE {PARAMETERS_TABLE} DROP COLUMN {column}")


def test_a_file_stored_by_older_code_reads_unchanged_then_moves_to_the_wall_clock(
    tmp_path: Path,
) -> None:
    """Its labels stay as stored until the next store, which recomputes every row, says why."""
    path = make_player_file(tmp_path / "stats.duckdb", WINTER)
    store_as_older_code(path)
    as_utc = reference_sessions(as_read_back(WINTER, "UTC"), SessionParameters())
    assert [row[3] for row in as_utc] == ["06/02/2026 20:00\u201320:40 (2)"] * 2 + [
        "07/02/2026 20:00\u201320:00 (1)"
    ]

    before = load_sessions(path, now=NOW)
    assert before.drop("is_stored").rows() == [row[:4] for row in as_utc]
    assert before["is_stored"].all()

    result = store_sessions(path, SessionParameters(), StoreOptions(now=AN_HOUR_LATER))

    assert NEW_PARAMETERS_WARNING.format(changes=CHANGE) in result.warnings
    assert result.written == len(WINTER)
    wall_clock = reference_sessions(WINTER, SessionParameters())
    assert [row[3] for row in wall_clock] == ["06/02/2026 19:00\u201319:40 (2)"] * 2 + [
        "07/02/2026 19:00\u201319:00 (1)"
    ]
    assert stored_by_id(path) == by_id(wall_clock)
    after = load_sessions(path, now=AN_HOUR_LATER)
    assert after.drop("is_stored").rows() == [row[:4] for row in wall_clock]


def test_a_store_at_the_same_instant_as_older_codes_store_is_the_one_replayed(
    tmp_path: Path,
) -> None:
    """The newest record wins by insertion when two stores share `stored_at` (DESIGN)."""
    path = make_player_file(tmp_path / "stats.duckdb", WINTER)
    store_as_older_code(path)
    store_sessions(path, SessionParameters(), StoreOptions(now=NOW))

    assert read_recorded_parameters(path).params == SessionParameters()
    assert load_sessions(path, now=NOW)["session_label"][0] == "06/02/2026 19:00\u201319:40 (2)"


def test_a_dagster_run_over_a_file_stored_by_older_code_names_the_change(tmp_path: Path) -> None:
    """The run's stored_sessions metadata tells the user why every row was rewritten."""
    root = tmp_path / "root"
    path = make_player_file(root / "data" / "players" / "Legacy" / "stats.duckdb", WINTER)
    store_as_older_code(path)
    defs = build_definitions(AppRoot(root))

    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        partition_key="Legacy",
        run_config=sessions_run_config(),
    )

    assert result.success
    (event,) = result.asset_materializations_for_node("stored_sessions")
    assert CHANGE in event.metadata["warnings"].value
    assert event.metadata["written"].value == len(WINTER)
    assert stored_by_id(path) == by_id(reference_sessions(WINTER, SessionParameters()))
