"""`load_sessions`, the dashboard's call: stored where frozen, computed where not, read-only."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest

from sessions_pipeline import load_sessions
from sessions_pipeline.errors import PlayerFileError, PlayerNotFoundError
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.levelup_files import (
    Match,
    append_matches,
    make_player_file,
    matches_at,
)
from sessions_pipeline_tests.sessions_reference import (
    NOW,
    R1,
    R2,
    T0,
    connection_time_zone,
    edit_by_hand,
    file_digest,
    full_recompute,
    session_values,
    store,
)

STORED_GAP = SessionParameters(gap_minutes=30, label_time_zone="America/New_York")
"""Recorded parameters a reader must replay: a 60-minute gap breaks with them, not by default."""


# ---------------------------------------------------------------- shape


def test_columns_types_and_order(tmp_path: Path) -> None:
    """Oldest first, equal start times by match_id, rows without a start time left out."""
    matches = [
        ("b", T0, None),
        ("a", T0, None),
        ("none", None, None),
        ("c", T0 - timedelta(hours=1), None),
    ]
    path = make_player_file(tmp_path / "p.duckdb", matches)
    store(path)
    loaded = load_sessions(path, now=NOW)
    assert loaded.schema == pl.Schema(
        {
            "match_id": pl.String,
            "start_time": pl.Datetime("us"),
            "session_id": pl.Int64,
            "session_label": pl.String,
            "is_stored": pl.Boolean,
        }
    )
    assert loaded["match_id"].to_list() == ["c", "a", "b"]


def test_an_empty_table_reads_as_an_empty_frame(tmp_path: Path) -> None:
    loaded = load_sessions(make_player_file(tmp_path / "p.duckdb", []), now=NOW)
    assert loaded.is_empty()
    assert loaded.columns == ["match_id", "start_time", "session_id", "session_label", "is_stored"]


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlayerNotFoundError):
        load_sessions(tmp_path / "absent.duckdb")


def test_a_file_without_match_stats_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(PlayerFileError, match="match_stats"):
        load_sessions(path)


# ---------------------------------------------------------------- never stored


@pytest.mark.parametrize("schema", ["sync", "v4"])
def test_a_file_the_pipeline_never_touched_is_computed_with_the_defaults(
    tmp_path: Path, schema: str
) -> None:
    matches = matches_at(T0, [0, 30, 300], signatures=[R1, R2, R2])
    path = make_player_file(tmp_path / "p.duckdb", matches, schema=schema)
    loaded = load_sessions(path, now=NOW)
    assert session_values(loaded).equals(full_recompute(matches))
    assert not loaded["is_stored"].any()


def test_parameters_given_apply_to_a_never_stored_file(tmp_path: Path) -> None:
    matches = matches_at(T0, [0, 60], signatures=[R1, R2])
    path = make_player_file(tmp_path / "p.duckdb", matches)
    loaded = load_sessions(path, gap_minutes=30, friends_xuids=[R2], now=NOW)
    expected = full_recompute(matches, SessionParameters(30, frozenset({R2})))
    assert session_values(loaded).equals(expected)


# ---------------------------------------------------------------- case A


def test_case_a_returns_stored_values_as_they_are_whatever_the_parameters(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 30, 300]))
    store(path)
    edit_by_hand(path, "UPDATE match_stats SET session_label = 'by hand' WHERE match_id = 'm1'")
    loaded = load_sessions(path, gap_minutes=5, friends_xuids=[R1], now=NOW)
    assert loaded.select("match_id", "session_id", "session_label").rows() == [
        ("m0", 0, "07/02/2026 20:00\u201320:30 (2)"),
        ("m1", 0, "by hand"),
        ("m2", 1, "08/02/2026 01:00\u201301:00 (1)"),
    ]
    assert loaded["is_stored"].all()


# ---------------------------------------------------------------- case B


def _stored_then_recent(tmp_path: Path) -> tuple[Path, list[Match]]:
    """Stored with STORED_GAP; then matches 60 minutes apart, the last two recent."""
    stable = matches_at(T0, [0, 20, 300])
    path = make_player_file(tmp_path / "p.duckdb", stable)
    store(path, STORED_GAP)
    recent = matches_at(NOW, [-210, -150], prefix="new")
    append_matches(path, recent)
    return path, stable + recent


def test_case_b_computes_recent_rows_with_the_recorded_parameters(tmp_path: Path) -> None:
    path, matches = _stored_then_recent(tmp_path)
    loaded = load_sessions(path, now=NOW)
    assert session_values(loaded).equals(full_recompute(matches, STORED_GAP))
    assert loaded["session_id"].to_list() == [0, 0, 1, 2, 3]
    assert loaded["is_stored"].to_list() == [True, True, True, False, False]


def test_case_b_parameters_given_override_the_recorded_ones(tmp_path: Path) -> None:
    """The two recent matches are 60 minutes apart: one session with a 120-minute gap."""
    path, _ = _stored_then_recent(tmp_path)
    loaded = load_sessions(path, gap_minutes=120, now=NOW)
    assert loaded["session_id"].to_list() == [0, 0, 1, 2, 2]


def test_case_b_refreshes_the_label_of_the_stored_session_a_recent_match_joins(
    tmp_path: Path,
) -> None:
    stable = matches_at(NOW, [-360, -300])
    path = make_player_file(tmp_path / "p.duckdb", stable)
    store(path)
    joining = matches_at(NOW, [-210], prefix="new")
    append_matches(path, joining)
    loaded = load_sessions(path, now=NOW)
    assert loaded["session_id"].to_list() == [0, 0, 0]
    assert loaded["session_label"].unique().to_list() == ["08/02/2026 07:00\u201309:30 (3)"]


def test_case_b_recomputes_from_the_last_stored_session_only(tmp_path: Path) -> None:
    """An older stored session edited by hand shows as stored: history is not recomputed."""
    path, _ = _stored_then_recent(tmp_path)
    edit_by_hand(path, "UPDATE match_stats SET session_label = 'by hand' WHERE match_id = 'm0'")
    loaded = load_sessions(path, now=NOW)
    assert loaded["session_label"][0] == "by hand"


def test_recent_rows_stored_with_include_recent_are_recomputed_not_trusted(
    tmp_path: Path,
) -> None:
    matches = matches_at(NOW, [-360, -180, -120])
    path = make_player_file(tmp_path / "p.duckdb", matches)
    store(path, include_recent=True)
    append_matches(path, matches_at(NOW, [-60], prefix="new", signatures=R1))
    loaded = load_sessions(path, now=NOW)
    assert loaded["is_stored"].to_list() == [True, False, False, False]
    assert loaded["session_id"].to_list() == [0, 1, 1, 2]


def test_is_stored_is_true_once_a_stored_match_is_stable(tmp_path: Path) -> None:
    matches = matches_at(NOW, [-180, -120])
    path = make_player_file(tmp_path / "p.duckdb", matches)
    store(path, include_recent=True)
    assert load_sessions(path, now=NOW)["is_stored"].to_list() == [False, False]
    later = NOW + timedelta(hours=1, minutes=30)
    assert load_sessions(path, now=later)["is_stored"].to_list() == [True, False]


# ---------------------------------------------------------------- read-only, time zones


def test_reading_leaves_the_file_bytes_unchanged(tmp_path: Path) -> None:
    path, _ = _stored_then_recent(tmp_path)
    digest = file_digest(path)
    load_sessions(path, now=NOW)
    assert file_digest(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.duckdb"]


_HOLD_READ_ONLY = (
    "import sys, duckdb\n"
    "con = duckdb.connect(sys.argv[1], read_only=True)\n"
    "print(con.sql('SELECT count(*) FROM match_stats').fetchall()[0][0], flush=True)\n"
    "sys.stdin.read()\n"
)


def test_reading_works_while_another_read_only_connection_is_open(tmp_path: Path) -> None:
    path, matches = _stored_then_recent(tmp_path)
    dashboard = duckdb.connect(str(path), read_only=True)
    try:
        loaded = load_sessions(str(path), now=NOW)
        assert dashboard.sql("SELECT count(*) FROM match_stats").fetchall() == [(len(matches),)]
    finally:
        dashboard.close()
    assert session_values(loaded).equals(full_recompute(matches, STORED_GAP))


def test_reading_works_while_another_process_reads_the_file(tmp_path: Path) -> None:
    """The dashboard is its own process: its shared read lock must not block us."""
    path, matches = _stored_then_recent(tmp_path)
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_READ_ONLY, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as dashboard:
        assert dashboard.stdout is not None
        assert dashboard.stdout.readline().strip() == str(len(matches))
        loaded = load_sessions(path, now=NOW)
        dashboard.communicate("", timeout=30)
    assert session_values(loaded).equals(full_recompute(matches, STORED_GAP))


def test_timestamptz_start_times_are_read_as_their_instants(tmp_path: Path) -> None:
    """On a machine whose DuckDB TimeZone is Tokyo, start times are still the UTC instants."""
    naive = matches_at(T0, [0, 100, 221], signatures=[R1, R1, R2])
    aware = matches_at(T0.replace(tzinfo=UTC), [0, 100, 221], signatures=[R1, R1, R2])
    with connection_time_zone("Asia/Tokyo"):
        path = make_player_file(
            tmp_path / "p.duckdb", aware, column_types={"start_time": "TIMESTAMPTZ"}
        )
        loaded = load_sessions(path, now=NOW)
    assert session_values(loaded).equals(full_recompute(naive))


def test_an_aware_now_is_the_instant_it_names(tmp_path: Path) -> None:
    """13:00 in Paris is NOW (12:00 UTC): a match stored 3.5 hours before is still recent."""
    path = make_player_file(tmp_path / "p.duckdb", matches_at(NOW, [-210]))
    store(path, include_recent=True)
    paris_now = datetime(2026, 2, 8, 13, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert load_sessions(path, now=paris_now)["is_stored"].to_list() == [False]
