"""A file's stored values always come from the parameters recorded in it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sessions_pipeline import load_sessions
from sessions_pipeline.levelup.store import find_drift, read_recorded_parameters
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.levelup_files import append_matches, make_player_file, matches_at
from sessions_pipeline_tests.sessions_reference import NOW, T0, full_recompute, store

GAP_90 = SessionParameters(gap_minutes=90)


def test_a_default_store_with_other_parameters_recomputes_everything(tmp_path: Path) -> None:
    """Filling new rows with other parameters would leave a file cut by two parameter sets,
    which neither the reader nor the drift check could replay."""
    first, later = matches_at(T0, [0, 100, 200, 300]), matches_at(T0, [400], prefix="later")
    path = make_player_file(tmp_path / "stats.duckdb", first)
    store(path, GAP_90, force=True)
    append_matches(path, later)

    result = store(path)

    assert any("parameters differ" in warning for warning in result.warnings)
    assert read_recorded_parameters(path).params == SessionParameters()
    assert find_drift(path, now=NOW).is_empty()
    assert load_sessions(path, now=NOW)["session_id"].to_list() == (
        full_recompute(first + later)["session_id"].to_list()
    )


def test_the_latest_recorded_parameters_win_even_at_the_same_instant(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "stats.duckdb", matches_at(T0, [0, 100]))
    store(path, GAP_90)
    store(path, SessionParameters())

    assert read_recorded_parameters(path).params == SessionParameters()


def test_a_recent_row_rewritten_is_not_also_counted_as_left_recent(tmp_path: Path) -> None:
    recent = NOW - timedelta(hours=1)
    path = make_player_file(tmp_path / "stats.duckdb", matches_at(recent, [0, 30]))
    store(path, include_recent=True)

    result = store(path, SessionParameters(gap_minutes=20), include_recent=False)

    assert (result.written, result.left_recent, result.unchanged) == (2, 0, 0)
    assert result.written + result.left_recent + result.unchanged == result.matches
