"""Properties of the store and the reader over histories of arrivals and stores.

Whatever was stored before, with the same parameters, what the file ends up holding and
what the dashboard reads must be what one full recompute gives.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sessions_pipeline import load_sessions
from sessions_pipeline.levelup.store import StoreOptions, store_sessions
from sessions_pipeline.rules.sessions import DEFAULT_STABILITY_HOURS, SessionParameters
from sessions_pipeline_tests.levelup_files import Match, as_read_back, make_player_file
from sessions_pipeline_tests.sessions_reference import (
    NOW,
    T0,
    XUIDS,
    Batch,
    arrivals,
    edit_by_hand,
    file_digest,
    full_recompute,
    reference_sessions,
    replay,
    session_parameters,
    session_values,
    store_options,
    stored_values,
    timelines,
)

FILES = settings(max_examples=10, deadline=None)
READ_LAGS_HOURS = (0.0, 1.0, 3.5, 4.0, 6.0)
stable_store_options = st.builds(StoreOptions, force=st.booleans())
"""Stores that freeze stable matches only (no include_recent)."""

LATE_REPAIR_AFTER_INCLUDE_RECENT = [
    Batch(
        [("a", T0, XUIDS[0]), ("b", T0 + timedelta(minutes=100), XUIDS[0])],
        T0 + timedelta(minutes=110),
        StoreOptions(include_recent=True, now=T0 + timedelta(minutes=110)),
    ),
    Batch(
        [("x", T0 + timedelta(minutes=50), XUIDS[1])],
        T0 + timedelta(minutes=300),
        StoreOptions(now=T0 + timedelta(minutes=300)),
    ),
]
"""b is stored while recent; late x splits its session while b is still recent."""


@contextmanager
def player_file(matches: Sequence[Match] = ()) -> Iterator[Path]:
    """A fresh v4 player file per example (pytest's tmp_path is per test, not per example)."""
    with tempfile.TemporaryDirectory() as directory:
        yield make_player_file(Path(directory) / "stats.duckdb", matches)


def all_matches(batches: Sequence[Batch]) -> list[Match]:
    return [match for batch in batches for match in batch.matches]


@FILES
@given(
    batches=arrivals(st.none() | store_options), params=session_parameters, options=store_options
)
def test_storing_twice_changes_nothing(
    batches: list[Batch], params: SessionParameters, options: StoreOptions
) -> None:
    """After any history, the same store run again writes nothing and leaves the bytes."""
    again = replace(options, now=batches[-1].now)
    with player_file() as path:
        replay(path, batches, params)
        store_sessions(path, params, again)
        digest = file_digest(path)
        assert store_sessions(path, params, again).written == 0
        assert file_digest(path) == digest


def check_load_equals_full_recompute(
    batches: list[Batch], params: SessionParameters, read_lag_hours: float
) -> None:
    """Replay the history, then the dashboard reads at or after the last batch."""
    read_at = batches[-1].now + timedelta(hours=read_lag_hours)
    with player_file() as path:
        replay(path, batches, params)
        loaded = load_sessions(path, now=read_at)
    assert session_values(loaded).equals(full_recompute(all_matches(batches), params))


@FILES
@given(
    batches=arrivals(st.none() | stable_store_options, first_store=stable_store_options),
    params=session_parameters,
    read_lag_hours=st.sampled_from(READ_LAGS_HOURS),
)
def test_load_sessions_equals_a_full_recompute_whatever_was_stored(
    batches: list[Batch], params: SessionParameters, read_lag_hours: float
) -> None:
    """Stores at earlier instants, some forced, late matches between, some never stored.

    The first batch is stored (so the parameters are recorded); later ones may arrive
    with no store after them.
    """
    check_load_equals_full_recompute(batches, params, read_lag_hours)


@FILES
@given(
    batches=arrivals(st.none() | store_options, first_store=store_options),
    params=session_parameters,
    read_lag_hours=st.sampled_from(READ_LAGS_HOURS),
)
@example(batches=LATE_REPAIR_AFTER_INCLUDE_RECENT, params=SessionParameters(), read_lag_hours=4.0)
def test_load_sessions_equals_a_full_recompute_even_after_include_recent_stores(
    batches: list[Batch], params: SessionParameters, read_lag_hours: float
) -> None:
    """As above, with stores that also froze recent matches (the backfill's flag)."""
    check_load_equals_full_recompute(batches, params, read_lag_hours)


@FILES
@given(batches=arrivals(st.just(StoreOptions())), params=session_parameters)
def test_incremental_stores_end_equal_to_one_forced_store(
    batches: list[Batch], params: SessionParameters
) -> None:
    """Default stores as batches arrive, then once all is stable: as if forced at the end."""
    starts = [start for _, start, _ in all_matches(batches) if start is not None]
    end = max([*starts, batches[-1].now]) + timedelta(hours=DEFAULT_STABILITY_HOURS)
    last_store = Batch([], end, StoreOptions(now=end))
    with player_file() as incremental, player_file(all_matches(batches)) as forced:
        replay(incremental, [*batches, last_store], params)
        store_sessions(forced, params, StoreOptions(force=True, now=end))
        assert stored_values(forced).equals(full_recompute(all_matches(batches), params))
        assert stored_values(incremental).equals(stored_values(forced))


@FILES
@given(matches=timelines(), params=session_parameters, data=st.data())
def test_load_sessions_of_a_never_stored_file_equals_the_reference(
    matches: list[Match], params: SessionParameters, data: st.DataObject
) -> None:
    """A whole read takes the signatures in a scan of their own before the rest: the two
    scans line up row for row, whatever the row order and rows deleted in between."""
    params = SessionParameters(params.gap_minutes, params.friends_xuids)  # the default zone
    deleted = data.draw(st.sets(st.sampled_from([m[0] for m in matches] or ["none"])))
    kept = [match for match in matches if match[0] not in deleted]
    with player_file(matches) as path:
        ids = ", ".join(f"'{match_id}'" for match_id in deleted) or "NULL"
        edit_by_hand(path, f"DELETE FROM match_stats WHERE match_id IN ({ids})")
        loaded = load_sessions(
            path, friends_xuids=params.friends_xuids, gap_minutes=params.gap_minutes, now=NOW
        )
    expected = [row[:4] for row in reference_sessions(as_read_back(kept), params)]
    assert loaded.drop("is_stored").rows() == expected
    assert not loaded["is_stored"].any()
