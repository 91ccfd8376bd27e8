"""The store on real player files: schema, stability, modes, repairs, what it records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sessions_pipeline.errors import PlayerFileError
from sessions_pipeline.levelup.sql.levelup_schema import MATCH_STATS_V4_COLUMNS
from sessions_pipeline.levelup.store import (
    StoreResult,
    find_drift,
    find_unstored_stable,
    read_recorded_parameters,
)
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.levelup_files import (
    Match,
    append_matches,
    make_player_file,
    matches_at,
    matches_frame,
    read_match_stats,
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
    store,
    stored_values,
)

StoredRow = tuple[str, int | None, str | None]
"""(match_id, session_id, session_label)"""


def _rows(frame: pl.DataFrame) -> list[StoredRow]:
    return frame.select("match_id", "session_id", "session_label").rows()


def stored(path: Path) -> list[StoredRow]:
    """What the file holds."""
    return _rows(stored_values(path))


def expected(matches: Sequence[Match], params: SessionParameters | None = None) -> list[StoredRow]:
    """What a full recompute gives."""
    return _rows(full_recompute(matches, params))


def column_types(path: Path) -> dict[str, str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'match_stats' ORDER BY ordinal_position"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def changes_rows(result: StoreResult) -> list[tuple]:
    return result.changes.drop("start_time").rows()


def label(first: str, last: str, matches: int, day: str = "07/02/2026") -> str:
    """A session label of T0's evening in Paris."""
    return f"{day} {first}\u2013{last} ({matches})"


# ---------------------------------------------------------------- LevelUp schemas

_FILLERS: dict[str, Callable[[str, int], object]] = {
    "VARCHAR": lambda name, row: f"{name}-{row}",
    "TIMESTAMP": lambda name, row: datetime(2025, 1, 1) + timedelta(minutes=7 * row + len(name)),
    "INTEGER": lambda name, row: 7 * row + len(name),
    "DOUBLE": lambda name, row: row + len(name) / 8,
    "BOOLEAN": lambda name, row: (row + len(name)) % 2 == 0,
}


def v4_frame(matches: Sequence[Match]) -> pl.DataFrame:
    """Matches with every other v4 column filled, so a store touching one would show."""
    frame = matches_frame(matches)
    others = [
        (name, sql_type)
        for name, sql_type in MATCH_STATS_V4_COLUMNS
        if name not in {*frame.columns, "session_id", "session_label"}
    ]
    return frame.with_columns(
        pl.Series(name, [_FILLERS[sql_type](name, row) for row in range(frame.height)])
        for name, sql_type in others
    )


@pytest.mark.parametrize("primary_key", [True, False], ids=["primary-key", "no-key"])
def test_v4_file_keeps_every_other_column_and_its_text_session_id(
    tmp_path: Path, primary_key: bool
) -> None:
    matches = [*matches_at(T0, [0, 30, 300], signatures=[R1, R1, R2]), ("no-start", None, R1)]
    path = make_player_file(tmp_path / "p.duckdb", v4_frame(matches), primary_key=primary_key)
    before, types_before = read_match_stats(path), column_types(path)
    assert len(before.columns) == 36

    store(path)

    after = read_match_stats(path)
    assert after.drop("session_id", "session_label").equals(
        before.drop("session_id", "session_label")
    )
    assert column_types(path) == types_before
    assert after.select("match_id", "session_id").rows() == [
        ("m0", "0"),
        ("m1", "0"),
        ("m2", "1"),
        ("no-start", None),
    ]


@pytest.mark.parametrize(
    ("schema", "column_types_given", "session_id_type"),
    [
        ("sync", None, "INTEGER"),
        ("v4", None, "VARCHAR"),
        ("v4", {"session_id": "BIGINT"}, "BIGINT"),
    ],
    ids=["sync-added-integer", "v4-varchar-kept", "bigint-kept"],
)
def test_session_columns_are_added_when_missing_and_never_retyped(
    tmp_path: Path,
    schema: str,
    column_types_given: dict[str, str] | None,
    session_id_type: str,
) -> None:
    matches = matches_at(T0, [0, 30])
    path = make_player_file(
        tmp_path / "p.duckdb", matches, schema=schema, column_types=column_types_given
    )
    store(path)
    types = column_types(path)
    assert (types["session_id"], types["session_label"]) == (session_id_type, "VARCHAR")
    assert stored(path) == expected(matches)


def test_sync_file_columns_are_added_after_its_own(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0]), schema="sync")
    names_before = list(column_types(path))
    store(path)
    assert list(column_types(path)) == [*names_before, "session_id", "session_label"]


def test_timestamptz_start_times_are_stored_as_their_instants(tmp_path: Path) -> None:
    """Whatever the connection's TimeZone, labels come from the instant, in Paris time."""
    matches = matches_at(T0.replace(tzinfo=UTC), [0, 100, 221], signatures=[R1, R1, R2])
    with connection_time_zone("Asia/Tokyo"):
        path = make_player_file(
            tmp_path / "p.duckdb", matches, column_types={"start_time": "TIMESTAMPTZ"}
        )
        store(path)
        assert stored(path) == expected(matches_at(T0, [0, 100, 221], signatures=[R1, R1, R2]))


# ---------------------------------------------------------------- stability


def test_only_stable_matches_are_stored(tmp_path: Path) -> None:
    """Stable means starting at or before now - 4 h; later matches stay NULL."""
    starts = [
        NOW - timedelta(hours=5),
        NOW - timedelta(hours=4),
        NOW - timedelta(hours=4) + timedelta(seconds=1),
    ]
    path = make_player_file(
        tmp_path / "p.duckdb", [(f"m{i}", s, None) for i, s in enumerate(starts)]
    )
    result = store(path)
    assert [session_id for _, session_id, _ in stored(path)] == [0, 0, None]
    assert (result.written, result.left_recent, result.unchanged) == (2, 1, 0)


def test_stability_hours_is_an_option(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(NOW, [-90, -30]))
    store(path, stability_hours=1.0)
    assert [session_id for _, session_id, _ in stored(path)] == [0, None]


def test_include_recent_stores_recent_matches_too(tmp_path: Path) -> None:
    matches = matches_at(NOW, [-300, -60, -1])
    path = make_player_file(tmp_path / "p.duckdb", matches)
    result = store(path, include_recent=True)
    assert stored(path) == expected(matches)
    assert (result.written, result.left_recent) == (3, 0)


# ---------------------------------------------------------------- default, force, dry run


def _stored_then_tampered(tmp_path: Path) -> Path:
    """Two stored sessions, then one row's label changed by hand."""
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 30, 300]))
    store(path)
    edit_by_hand(path, "UPDATE match_stats SET session_label = 'by hand' WHERE match_id = 'm1'")
    return path


def test_default_mode_fills_only_unstored_rows(tmp_path: Path) -> None:
    path = _stored_then_tampered(tmp_path)
    result = store(path)
    assert result.written == 0
    assert stored(path)[1] == ("m1", 0, "by hand")


def test_force_rewrites_only_the_rows_that_are_wrong(tmp_path: Path) -> None:
    path = _stored_then_tampered(tmp_path)
    result = store(path, force=True)
    assert stored(path) == expected(matches_at(T0, [0, 30, 300]))
    assert changes_rows(result) == [("m1", 0, "by hand", 0, label("20:00", "20:30", 2))]
    assert (result.written, result.relabelled, result.unchanged) == (1, 1, 2)


def test_force_with_new_parameters_recomputes_the_whole_history(tmp_path: Path) -> None:
    matches = matches_at(T0, [0, 60, 120])
    path = make_player_file(tmp_path / "p.duckdb", matches)
    store(path)
    shorter_gap = SessionParameters(gap_minutes=30)
    result = store(path, shorter_gap, force=True)
    assert stored(path) == expected(matches, shorter_gap)
    assert (result.written, result.repaired, result.relabelled) == (3, 2, 1)


def test_force_leaves_recent_matches_null(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(NOW, [-600, -60]))
    store(path, force=True)
    assert [session_id for _, session_id, _ in stored(path)] == [0, None]


def test_dry_run_writes_nothing_and_lists_each_change_before_and_after(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 30]), schema="sync")
    digest = file_digest(path)
    result = store(path, dry_run=True)
    assert file_digest(path) == digest
    assert "session_id" not in column_types(path)
    assert result.dry_run
    assert result.written == 2
    assert result.changes.columns == [
        "match_id",
        "start_time",
        "session_id_before",
        "session_label_before",
        "session_id_after",
        "session_label_after",
    ]
    after = label("20:00", "20:30", 2)
    assert changes_rows(result) == [("m0", None, None, 0, after), ("m1", None, None, 0, after)]
    assert read_recorded_parameters(path) is None


def test_dry_run_reports_what_the_real_store_then_writes(tmp_path: Path) -> None:
    path = _stored_then_tampered(tmp_path)
    append_matches(path, matches_at(T0, [310], prefix="new"))
    dry = store(path, force=True, dry_run=True)
    real = store(path, force=True)
    assert dry.changes.equals(real.changes)
    assert (dry.written, dry.filled, dry.relabelled) == (real.written, 1, 2)


# ---------------------------------------------------------------- incremental stores


def test_numbering_continues_the_stored_numbering(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 300]))
    store(path)
    edit_by_hand(path, "UPDATE match_stats SET session_id = CAST(session_id AS INTEGER) + 10")
    append_matches(path, matches_at(T0, [500, 700], prefix="new"))
    result = store(path)
    assert [session_id for _, session_id, _ in stored(path)] == [10, 11, 12, 13]
    assert (result.written, result.filled, result.unchanged) == (2, 2, 2)


def test_a_stored_session_that_grows_is_relabelled_and_keeps_its_id(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 300, 330]))
    store(path)
    append_matches(path, matches_at(T0, [360], prefix="new"))
    result = store(path)
    grown = label("01:00", "02:00", 3, day="08/02/2026")
    assert stored(path) == [
        ("m0", 0, label("20:00", "20:00", 1)),
        ("m1", 1, grown),
        ("m2", 1, grown),
        ("new0", 1, grown),
    ]
    assert (result.filled, result.relabelled, result.repaired, result.unchanged) == (1, 2, 0, 1)


def test_a_late_match_inside_stored_history_is_repaired_from_its_session_start(
    tmp_path: Path,
) -> None:
    """A late match with other teammates splits its session; earlier ids do not move."""
    matches = matches_at(T0, [0, 300, 360, 600], signatures=[R1, R1, R1, R1])
    path = make_player_file(tmp_path / "p.duckdb", matches)
    store(path)
    late = ("late", T0 + timedelta(minutes=330), R2)
    append_matches(path, [late])
    result = store(path)
    assert stored(path) == expected([*matches, late])
    assert [session_id for _, session_id, _ in stored(path)] == [0, 1, 2, 3, 4]
    assert result.changes["match_id"].to_list() == ["m1", "late", "m2", "m3"]
    assert (result.filled, result.relabelled, result.repaired) == (1, 1, 2)


def test_a_late_match_joining_a_session_rewrites_only_that_session(tmp_path: Path) -> None:
    """Rows already right (the sessions after it) are not rewritten."""
    matches = matches_at(T0, [0, 300, 360, 600])
    path = make_player_file(tmp_path / "p.duckdb", matches)
    store(path)
    append_matches(path, [("late", T0 + timedelta(minutes=330), None)])
    result = store(path)
    assert result.changes["match_id"].to_list() == ["m1", "late", "m2"]
    assert [session_id for _, session_id, _ in stored(path)] == [0, 1, 1, 1, 2]
    assert result.unchanged == 2


def test_a_late_match_before_all_history_renumbers_from_zero(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 300]))
    store(path)
    append_matches(path, [("early", T0 - timedelta(hours=5), None)])
    store(path)
    assert stored(path) == expected(
        [*matches_at(T0, [0, 300]), ("early", T0 - timedelta(hours=5), None)]
    )
    assert [session_id for _, session_id, _ in stored(path)] == [0, 1, 2]


def _backfilled_while_recent(tmp_path: Path) -> tuple[Path, list[Match]]:
    """a stable, b 100 minutes later still recent: both stored by an include_recent backfill."""
    matches = [("a", T0, R1), ("b", T0 + timedelta(minutes=100), R1)]
    path = make_player_file(tmp_path / "p.duckdb", matches)
    store(path, include_recent=True, now=T0 + timedelta(minutes=110))
    return path, matches


def test_a_repair_also_repairs_recent_rows_stored_by_include_recent(tmp_path: Path) -> None:
    """Late x splits a from b while b is recent; once b is stable it must not keep id 0."""
    path, matches = _backfilled_while_recent(tmp_path)
    late = ("x", T0 + timedelta(minutes=50), R2)
    append_matches(path, [late])
    store(path, now=T0 + timedelta(minutes=300))
    store(path, now=T0 + timedelta(minutes=400))
    assert stored(path) == expected([*matches, late])


def test_a_forced_store_leaves_no_row_with_the_old_parameters(tmp_path: Path) -> None:
    """Forced with a 30-minute gap while b is recent; once b is stable it must not keep id 0."""
    path, matches = _backfilled_while_recent(tmp_path)
    shorter_gap = SessionParameters(gap_minutes=30)
    store(path, shorter_gap, force=True, now=T0 + timedelta(minutes=300))
    store(path, shorter_gap, now=T0 + timedelta(minutes=400))
    assert stored(path) == expected(matches, shorter_gap)


# ---------------------------------------------------------------- what a store reports


def test_null_start_times_are_counted_and_left_null(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", [*matches_at(T0, [0]), ("x", None, None)])
    result = store(path)
    assert (result.matches, result.null_start_times, result.written) == (1, 1, 1)
    assert read_match_stats(path).filter(pl.col("match_id") == "x")["session_id"].to_list() == [
        None
    ]


def test_an_empty_table_stores_nothing(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", [], schema="sync")
    result = store(path)
    assert (result.matches, result.written, result.sessions) == (0, 0, 0)
    assert "session_id" in column_types(path)


def test_result_counts_sessions_and_reads_as_a_sentence(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(NOW, [-900, -600, -1]))
    result = store(path)
    assert result.sessions == 2
    assert result.summary() == (
        "3 matches, 2 sessions stored: wrote 2 (2 new, 0 relabelled, 0 repaired), "
        "0 unchanged, 1 left recent"
    )


def test_duplicate_match_ids_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    twice = [("dup", T0, None), ("dup", T0 + timedelta(minutes=5), None)]
    path = make_player_file(tmp_path / "p.duckdb", twice, primary_key=False)
    digest = file_digest(path)
    with pytest.raises(PlayerFileError, match="duplicate"):
        store(path)
    assert file_digest(path) == digest


# ---------------------------------------------------------------- recorded parameters


def test_parameters_are_recorded_by_a_store(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0]))
    assert read_recorded_parameters(path) is None
    params = SessionParameters(45, frozenset({R1}), "America/New_York")
    store(path, params, stability_hours=6.0)
    recorded = read_recorded_parameters(path)
    assert recorded is not None
    assert (recorded.params, recorded.stability_hours, recorded.stored_at) == (params, 6.0, NOW)


def test_new_parameters_are_recorded_even_when_no_row_changes(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0]))
    store(path)
    later = NOW + timedelta(hours=1)
    store(path, SessionParameters(gap_minutes=60), now=later)
    recorded = read_recorded_parameters(path)
    assert recorded is not None
    assert (recorded.params.gap_minutes, recorded.stored_at) == (60, later)


def test_a_store_that_changes_nothing_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 300]))
    store(path)
    digest = file_digest(path)
    result = store(path, force=True, now=NOW + timedelta(days=1))
    assert result.written == 0
    assert file_digest(path) == digest


# ---------------------------------------------------------------- checks


def test_no_drift_right_after_a_store(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(T0, [0, 300]))
    assert find_drift(path, now=NOW).is_empty()
    store(path)
    assert find_drift(path, now=NOW).is_empty()


def test_drift_lists_stored_rows_a_recompute_disputes(tmp_path: Path) -> None:
    path = _stored_then_tampered(tmp_path)
    drift = find_drift(path, now=NOW)
    assert drift.drop("start_time").rows() == [("m1", 0, "by hand", 0, label("20:00", "20:30", 2))]


def test_drift_ignores_a_session_still_open(tmp_path: Path) -> None:
    """The recent match the store leaves unstored (its session still open) is not drift.

    The stable match stored before it, alone in its session, agrees with a recompute.
    """
    path = make_player_file(tmp_path / "p.duckdb", matches_at(NOW, [-300, -60]))
    store(path)
    assert find_drift(path, now=NOW).is_empty()


def test_unstored_stable_lists_what_the_next_store_would_fill(tmp_path: Path) -> None:
    path = make_player_file(tmp_path / "p.duckdb", matches_at(NOW, [-300, -250, -60]))
    assert find_unstored_stable(path, now=NOW)["match_id"].to_list() == ["m0", "m1"]
    store(path)
    assert find_unstored_stable(path, now=NOW).is_empty()
    assert find_unstored_stable(path, now=NOW + timedelta(hours=4))["match_id"].to_list() == ["m2"]
