"""LevelUp's own session options: a ranked/social split and the three team change modes.

Each option cuts sessions exactly as DESIGN's rules say (checked against the one-match-at-
a-time reference), in a store, in a read and in the reasons `show` gives; a store with other
options than the recorded ones recomputes the file and says what changed.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions_pipeline import load_sessions
from sessions_pipeline.levelup.overview import read_overview
from sessions_pipeline.levelup.sql import player_db
from sessions_pipeline.levelup.store import (
    NEW_PARAMETERS_WARNING,
    NO_RANKED_WARNING,
    StoreOptions,
    read_recorded_parameters,
    store_sessions,
)
from sessions_pipeline.rules.sessions import DEFAULT_STABILITY_HOURS, SessionParameters
from sessions_pipeline_tests.levelup_files import (
    Match,
    append_matches,
    make_player_file,
    matches_at,
)
from sessions_pipeline_tests.sessions_reference import (
    NOW,
    T0,
    XUIDS,
    Batch,
    arrivals,
    by_id,
    reference_sessions,
    store,
    stored_by_id,
    timelines,
    with_ranked,
)

FILES = settings(max_examples=25, deadline=None)
LATER = datetime(2027, 6, 1)
"""After every timeline `timelines()` draws (naive UTC): everything is stable."""
F1, F2, R1, R2 = XUIDS
MODES = ("friends", "group", "ignore")
option_parameters = st.builds(
    SessionParameters,
    gap_minutes=st.sampled_from((120, 45)),
    friends_xuids=st.frozensets(st.sampled_from(XUIDS), max_size=2),
    start_time_zone=st.just("UTC"),
    split_on_ranked_change=st.booleans(),
    team_change_mode=st.sampled_from(MODES),
)
"""Start times read as UTC: the instants are the tuples' own, the options are the subject."""


def written_in_utc(matches: Sequence[Match], ranked: dict[str, bool | None]) -> pl.DataFrame:
    """What a sync on a machine set to UTC writes: naive starts that are the tuples' own
    instants when read with `start_time_zone="UTC"`, so the options are the only subject."""
    frame = with_ranked(matches, ranked)
    return frame.with_columns(pl.col("start_time").dt.replace_time_zone(None))


def reasons_shown(path: Path) -> list[str]:
    """Why each session started, oldest first, as `show` and the dashboard tell it."""
    return read_overview(path, now=LATER).summary["break_reason"].reverse().to_list()


def first_reasons(reference: Sequence[tuple]) -> list[str]:
    return [reason for *_, reason in reference if reason is not None]


@contextmanager
def a_directory() -> Iterator[Path]:
    """A fresh directory per hypothesis example (pytest's tmp_path is per test)."""
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


# ---------------------------------------------------------------- ranked / social


RANKED_MATCHES = matches_at(T0, [0, 10, 20, 30, 200, 210], signatures=[F1, F1, F1, F1, F1, R1])
RANKED = {"m0": True, "m1": None, "m2": False, "m3": True, "m4": False, "m5": True}
"""m1: ranked to NULL (= social); m2: social again; m3: ranked; m4: after a gap and social;
m5: ranked and new teammates at once."""


@pytest.mark.parametrize(
    ("split", "reasons"),
    [
        (True, ["first", "ranked_changed", "ranked_changed", "gap", "ranked_changed"]),
        (False, ["first", "gap", "teammates_changed"]),
    ],
)
def test_a_ranked_change_cuts_only_when_asked(
    tmp_path: Path, split: bool, reasons: list[str]
) -> None:
    """NULL is social; the gap wins over the ranked change, which wins over the teammates."""
    path = make_player_file(tmp_path / "stats.duckdb", written_in_utc(RANKED_MATCHES, RANKED))
    params = SessionParameters(start_time_zone="UTC", split_on_ranked_change=split)
    expected = reference_sessions(RANKED_MATCHES, params, ranked=RANKED)
    assert first_reasons(expected) == reasons

    loaded = load_sessions(path, start_time_zone="UTC", split_on_ranked_change=split, now=LATER)
    assert loaded.drop("is_stored").rows() == [row[:4] for row in expected]
    result = store_sessions(path, params, StoreOptions(now=LATER))

    assert result.warnings == ()
    assert stored_by_id(path) == by_id(expected)
    assert reasons_shown(path) == reasons


def test_a_file_without_is_ranked_warns_and_never_cuts_on_it(tmp_path: Path) -> None:
    """A sync-created file has no is_ranked: the split is asked, said impossible, not applied."""
    path = make_player_file(
        tmp_path / "stats.duckdb",
        written_in_utc(RANKED_MATCHES, {}).drop("is_ranked"),
        schema="sync",
    )
    params = SessionParameters(start_time_zone="UTC", split_on_ranked_change=True)
    expected = reference_sessions(RANKED_MATCHES, params, ranked=None)
    assert expected == reference_sessions(RANKED_MATCHES, SessionParameters(start_time_zone="UTC"))

    loaded = load_sessions(path, start_time_zone="UTC", split_on_ranked_change=True, now=LATER)
    assert loaded.drop("is_stored").rows() == [row[:4] for row in expected]
    result = store_sessions(path, params, StoreOptions(now=LATER))

    assert NO_RANKED_WARNING in result.warnings
    assert stored_by_id(path) == by_id(expected)
    assert "ranked_changed" not in reasons_shown(path)


# ---------------------------------------------------------------- team change modes

TEAM_MATCHES = matches_at(
    T0,
    [0, 10, 20, 30, 40, 50, 60, 70],
    signatures=[F1, f"{F1},{R1}", F1, f"{F1}, {F2}", F2, None, R1, R2],
)
"""A random joins; he leaves; a friend joins; one friend leaves while one stays; everyone
leaves; randoms come and go."""
EVERY_CHANGE = ["first", *["teammates_changed"] * 7]


@pytest.mark.parametrize(
    ("mode", "friends", "reasons"),
    [
        ("friends", {F1, F2}, ["first", "friend_joined", "went_solo"]),
        ("friends", set(), EVERY_CHANGE),
        ("group", {F1, F2}, EVERY_CHANGE),
        ("ignore", {F1, F2}, ["first"]),
    ],
    ids=["friends", "friends-without-friends-is-group", "group", "ignore"],
)
def test_each_team_change_mode_cuts_as_documented(
    tmp_path: Path, mode: str, friends: set[str], reasons: list[str]
) -> None:
    """friends: a friend joining or going solo; group: any change; ignore: never."""
    path = make_player_file(tmp_path / "stats.duckdb", written_in_utc(TEAM_MATCHES, {}))
    params = SessionParameters(
        friends_xuids=frozenset(friends), start_time_zone="UTC", team_change_mode=mode
    )
    expected = reference_sessions(TEAM_MATCHES, params, ranked={})
    assert first_reasons(expected) == reasons

    loaded = load_sessions(
        path, friends_xuids=friends, start_time_zone="UTC", team_change_mode=mode, now=LATER
    )
    assert loaded.drop("is_stored").rows() == [row[:4] for row in expected]
    store_sessions(path, params, StoreOptions(now=LATER))

    assert stored_by_id(path) == by_id(expected)
    assert reasons_shown(path) == reasons


# ---------------------------------------------------------------- properties


@FILES
@given(matches=timelines(), params=option_parameters, has_ranked=st.booleans(), data=st.data())
def test_any_options_store_and_read_as_the_reference(
    matches: list[Match], params: SessionParameters, has_ranked: bool, data: st.DataObject
) -> None:
    """Any timeline, options and file (with or without is_ranked): the rules as worded."""
    flags = data.draw(st.lists(st.sampled_from((True, False, None)), min_size=len(matches)))
    ranked = dict(zip((m[0] for m in matches), flags, strict=False)) if has_ranked else None
    expected = reference_sessions(matches, params, ranked=ranked)
    with a_directory() as directory:
        rows = written_in_utc(matches, ranked) if has_ranked else written_in_utc(matches, {})
        path = make_player_file(
            directory / "stats.duckdb",
            rows if has_ranked else rows.drop("is_ranked"),
            schema="v4" if has_ranked else "sync",
        )
        result = store_sessions(path, params, StoreOptions(now=LATER))

        assert stored_by_id(path) == by_id(expected)
        no_ranked = params.split_on_ranked_change and not has_ranked
        assert (NO_RANKED_WARNING in result.warnings) == no_ranked
        loaded = load_sessions(path, now=LATER)
        assert loaded.drop("is_stored").rows() == [row[:4] for row in expected]


@FILES
@given(
    batches=arrivals(st.none() | st.just(StoreOptions())), params=option_parameters, data=st.data()
)
def test_incremental_stores_with_options_end_equal_to_a_full_recompute(
    batches: list[Batch], params: SessionParameters, data: st.DataObject
) -> None:
    """With any options, stores as matches arrive (late too) end equal to one forced store."""
    matches = [match for batch in batches for match in batch.matches]
    flags = data.draw(st.lists(st.sampled_from((True, False, None)), min_size=len(matches)))
    ranked = dict(zip((m[0] for m in matches), flags, strict=False))
    expected = reference_sessions(matches, params, ranked=ranked)
    starts = [start for _, start, _ in matches if start is not None]
    end = max([*starts, batches[-1].now]) + timedelta(hours=DEFAULT_STABILITY_HOURS)
    with a_directory() as directory:
        incremental = make_player_file(directory / "incremental.duckdb")
        for batch in batches:
            append_matches(incremental, written_in_utc(batch.matches, ranked))
            if batch.store is not None:
                store_sessions(incremental, params, batch.store)
        loaded = load_sessions(
            incremental,
            friends_xuids=params.friends_xuids,
            gap_minutes=params.gap_minutes,
            start_time_zone="UTC",
            split_on_ranked_change=params.split_on_ranked_change,
            team_change_mode=params.team_change_mode,
            now=batches[-1].now,
        )
        assert loaded.drop("is_stored").rows() == [row[:4] for row in expected]
        store_sessions(incremental, params, StoreOptions(now=end))

        forced = make_player_file(directory / "forced.duckdb", written_in_utc(matches, ranked))
        store_sessions(forced, params, StoreOptions(force=True, now=end))
        assert stored_by_id(forced) == by_id(expected)
        assert stored_by_id(incremental) == stored_by_id(forced)


# ---------------------------------------------------------------- recorded options


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        ({"team_change_mode": "friends"}, {"team_change_mode": "group"}, "friends -> group"),
        ({"team_change_mode": "group"}, {"team_change_mode": "ignore"}, "group -> ignore"),
        ({}, {"split_on_ranked_change": True}, "split_on_ranked_change False -> True"),
    ],
)
def test_changing_an_option_recomputes_every_row_and_says_so(
    tmp_path: Path, before: dict, after: dict, change: str
) -> None:
    """A default store after another option would otherwise leave a file cut two ways."""
    matches = TEAM_MATCHES + matches_at(T0, [80], signatures=F1, prefix="late")
    ranked = {"m3": True, "late0": True}
    path = make_player_file(tmp_path / "stats.duckdb", written_in_utc(TEAM_MATCHES, ranked))
    friends = frozenset({F1, F2})
    first = SessionParameters(friends_xuids=friends, start_time_zone="UTC", **before)
    second = SessionParameters(friends_xuids=friends, start_time_zone="UTC", **after)
    store(path, first)
    append_matches(path, written_in_utc(matches[-1:], ranked))

    result = store(path, second, now=NOW + timedelta(minutes=1))

    (warning,) = [w for w in result.warnings if "parameters differ" in w]
    assert change in warning
    assert warning.startswith(NEW_PARAMETERS_WARNING.split("{")[0])
    assert stored_by_id(path) == by_id(reference_sessions(matches, second, ranked=ranked))
    assert read_recorded_parameters(path).params == second


def test_the_recorded_parameters_hold_every_option_and_where_it_came_from(
    tmp_path: Path,
) -> None:
    """What a reader and the drift check replay, and what `show` says about each value."""
    path = make_player_file(tmp_path / "stats.duckdb", written_in_utc(TEAM_MATCHES, {}))
    params = SessionParameters(
        gap_minutes=45,
        friends_xuids=frozenset({F1}),
        label_time_zone="Asia/Kolkata",
        start_time_zone="America/New_York",
        split_on_ranked_change=True,
        team_change_mode="ignore",
    )
    sources = {
        "gap_minutes": "run config",
        "friends_xuids": "friends config",
        "label_time_zone": "default",
        "start_time_zone": "run config",
        "split_on_ranked_change": "settings file /root/app_settings.json",
        "team_change_mode": "settings file /root/data/titles/halo_infinite/settings.json",
    }
    store_sessions(path, params, StoreOptions(now=NOW), sources=sources)

    with duckdb.connect(str(path), read_only=True) as con:
        recorded = player_db.read_recorded_parameters(con)
        row = con.sql(
            "SELECT start_time_zone, split_on_ranked_change, team_change_mode, sources "
            f"FROM {player_db.PARAMETERS_TABLE}"
        ).fetchall()
    assert recorded.params == params
    assert recorded.sources == sources
    (zone, split, mode, recorded_sources) = row[0]
    assert (zone, split, mode) == ("America/New_York", True, "ignore")
    assert json.loads(recorded_sources) == sources
    assert load_sessions(path, now=NOW)["session_id"].to_list() == [0] * len(TEAM_MATCHES)


def test_the_later_of_two_stores_at_the_same_instant_is_replayed(tmp_path: Path) -> None:
    """Records tie on `stored_at` when stores share a `now`: the later insertion wins."""
    path = make_player_file(tmp_path / "stats.duckdb", matches_at(T0, [0, 100]))
    store(path)
    store(path, SessionParameters(gap_minutes=90))

    assert read_recorded_parameters(path).params == SessionParameters(gap_minutes=90)
    assert load_sessions(path, now=NOW)["session_id"].to_list() == [0, 1]
