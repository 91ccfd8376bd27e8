"""LevelUp v5+ player files: matches read from the shared warehouse, sessions written into
`player_match_enrichment`, the warehouse never written, and every bad input named.

Files are built with LevelUp's DDL (levelup_files: `make_warehouse`, `make_v6_player_file`,
`make_v6_root`; the DDL and its sources are in sessions_pipeline/sql/levelup_schema.py).
"""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sessions_pipeline import load_sessions
from sessions_pipeline.errors import (
    PlayerFileError,
    PlayerFileLockedError,
    WarehouseNotFoundError,
)
from sessions_pipeline.levelup.store import (
    NO_RANKED_WARNING,
    StoreOptions,
    read_timeline,
    store_sessions,
)
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.levelup_files import (
    DEMO_NOW,
    as_read_back,
    build_demo_roots,
    make_v6_player_file,
    make_v6_root,
    make_warehouse,
    matches_at,
    warehouse_path,
)
from sessions_pipeline_tests.sessions_reference import (
    NOW,
    T0,
    XUIDS,
    edit_by_hand,
    file_digest,
    reference_sessions,
    session_values,
)

ME, FRIEND, RANDOM = "2533274800000010", XUIDS[0], XUIDS[1]
GAMERTAG = "Me"
MATCHES = [
    *matches_at(T0, [0, 20, 40], signatures=[FRIEND, FRIEND, f"{FRIEND},{RANDOM}"]),
    *matches_at(T0, [60, 80], signatures=None, prefix="solo"),
    *matches_at(T0 + timedelta(hours=6), [0, 15], signatures=FRIEND, prefix="late"),
]
FRIENDS = SessionParameters(friends_xuids=frozenset({FRIEND}))


def enrichment(path: Path) -> pl.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql("SELECT * FROM player_match_enrichment ORDER BY match_id").pl()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_v6_root(tmp_path, {GAMERTAG: (ME, MATCHES)})
    return tmp_path


def player_file(root: Path) -> Path:
    return root / "data" / "players" / GAMERTAG / "stats.duckdb"


def test_a_v6_player_reads_and_stores_as_the_reference(root: Path) -> None:
    """Its matches come from the warehouse; the store writes the enrichment rows only."""
    path, warehouse = player_file(root), warehouse_path(root)
    expected = [row[:4] for row in reference_sessions(as_read_back(MATCHES), FRIENDS)]
    loaded = load_sessions(path, friends_xuids=FRIENDS.friends_xuids, now=NOW)
    assert loaded.drop("is_stored").rows() == expected
    untouched = file_digest(warehouse)

    result = store_sessions(path, FRIENDS, StoreOptions(now=NOW))

    assert result.written == len(MATCHES)
    rows = enrichment(path)
    assert rows.select("match_id", "session_id", "session_label").sort("match_id").rows() == sorted(
        (match_id, str(session_id), label) for match_id, _, session_id, label in expected
    )
    assert file_digest(warehouse) == untouched
    assert session_values(load_sessions(path, now=NOW)).rows() == [
        (match_id, start, session_id, label) for match_id, start, session_id, label in expected
    ]
    assert store_sessions(path, FRIENDS, StoreOptions(now=NOW)).written == 0


def test_other_enrichment_columns_are_never_touched_and_missing_rows_are_added(
    tmp_path: Path,
) -> None:
    """A stable match without an enrichment row gets one; existing rows keep their columns."""
    make_warehouse(
        warehouse_path(tmp_path),
        [(m, start, False) for m, start, _ in MATCHES],
        [(m, ME, 0) for m, _, _ in MATCHES] + [(m, FRIEND, 0) for m, _, sig in MATCHES if sig],
        [(ME, GAMERTAG)],
    )
    path = make_v6_player_file(player_file(tmp_path), [("m0", FRIEND)], xuid=ME)
    edit_by_hand(path, "UPDATE player_match_enrichment SET performance_score = 7.5")
    edit_by_hand(path, "INSERT INTO player_match_enrichment (match_id) VALUES ('not-in-warehouse')")

    result = store_sessions(path, SessionParameters(), StoreOptions(now=NOW))

    rows = {row["match_id"]: row for row in enrichment(path).iter_rows(named=True)}
    assert rows["m0"]["performance_score"] == 7.5
    assert rows["m0"]["teammates_signature"] == FRIEND
    assert rows["not-in-warehouse"]["session_id"] is None
    assert set(rows) == {m for m, _, _ in MATCHES} | {"not-in-warehouse"}
    assert all(rows[m]["session_id"] is not None for m, _, _ in MATCHES)
    assert result.matches == len(MATCHES)
    timeline = read_timeline(path, SessionParameters())
    assert timeline.layout == "v6"
    assert timeline.orphan_enrichment_rows == 1


def test_teammates_come_from_the_participants_when_the_enrichment_row_has_none(
    tmp_path: Path,
) -> None:
    """Same-team participants other than the player; free-for-all (no team) means none."""
    starts = [(f"m{i}", T0 + timedelta(minutes=20 * i), False) for i in range(3)]
    participants = [
        ("m0", ME, 0),
        ("m0", FRIEND, 0),
        ("m0", RANDOM, 1),
        ("m1", ME, 0),
        ("m1", RANDOM, 0),
        ("m2", ME, None),
        ("m2", FRIEND, None),
    ]
    make_warehouse(warehouse_path(tmp_path), starts, participants, [(ME, GAMERTAG)])
    path = make_v6_player_file(player_file(tmp_path), [], xuid=ME)

    group = load_sessions(path, team_change_mode="group", now=NOW)

    assert group["session_id"].to_list() == [0, 1, 2]  # {FRIEND}, {RANDOM}, {}


@pytest.mark.parametrize("layout", ["v5", "v7"])
def test_v5_and_v7_warehouses(tmp_path: Path, layout: str) -> None:
    """v5: no start_time_utc (and here no is_ranked: a warning, no ranked cut); v7: the
    UTC column is the instant, whatever the naive column holds."""
    without = {"match_registry": ["is_ranked"]} if layout == "v5" else None
    make_warehouse(
        warehouse_path(tmp_path, layout),
        [(m, start, True) for m, start, _ in MATCHES],
        [(m, ME, 0) for m, _, _ in MATCHES],
        [(ME, GAMERTAG)],
        layout=layout,
        without_columns=without,
    )
    path = make_v6_player_file(player_file(tmp_path), [], xuid=ME)
    if layout == "v7":
        edit_by_hand(
            str(warehouse_path(tmp_path, layout)),
            "UPDATE match_registry SET start_time = start_time + INTERVAL 5 HOUR",
        )
    params = SessionParameters(split_on_ranked_change=True)

    result = store_sessions(path, params, StoreOptions(now=NOW))

    assert (NO_RANKED_WARNING in result.warnings) == (layout == "v5")
    starts = load_sessions(path, now=NOW)["start_time"].to_list()
    assert starts == sorted(start for _, start, _ in MATCHES)


def test_a_player_without_participant_rows_has_no_match(tmp_path: Path) -> None:
    """A profile whose player never played (yet): zero matches, not an error."""
    make_warehouse(warehouse_path(tmp_path), [("m0", T0, False)], [("m0", FRIEND, 0)], [])
    path = make_v6_player_file(player_file(tmp_path), [], xuid=ME)

    assert load_sessions(path, now=NOW).is_empty()
    assert store_sessions(path, SessionParameters(), StoreOptions(now=NOW)).matches == 0


def test_a_missing_warehouse_names_where_it_was_looked_for(tmp_path: Path) -> None:
    path = make_v6_player_file(player_file(tmp_path), [], xuid=ME)
    before = file_digest(path)

    with pytest.raises(WarehouseNotFoundError, match=r"shared_matches_v2\.duckdb"):
        store_sessions(path, SessionParameters(), StoreOptions(now=NOW))

    assert file_digest(path) == before


def test_a_player_the_warehouse_cannot_name_is_an_error_naming_it(tmp_path: Path) -> None:
    make_warehouse(warehouse_path(tmp_path), [("m0", T0, False)], [("m0", ME, 0)], [])
    path = make_v6_player_file(player_file(tmp_path), [])

    with pytest.raises(PlayerFileError, match=r"which participant .* is 'Me'"):
        load_sessions(path, now=NOW)


def test_the_player_is_found_by_gamertag_when_sync_meta_is_empty(root: Path) -> None:
    edit_by_hand(str(player_file(root)), "DELETE FROM sync_meta")
    assert len(load_sessions(player_file(root), now=NOW)) == len(MATCHES)


def _hold_for_writing(path: str, ready: multiprocessing.synchronize.Event, seconds: float) -> None:
    con = duckdb.connect(path)
    ready.set()
    try:
        con.execute("SELECT 1")
        multiprocessing.Event().wait(seconds)
    finally:
        con.close()


def test_a_warehouse_locked_by_the_sync_is_waited_for_then_named(root: Path) -> None:
    """LevelUp's sync holds the warehouse while it writes: a bounded wait, then a clear
    error, and nothing written to the player file."""
    path = player_file(root)
    before = file_digest(path)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    holder = context.Process(target=_hold_for_writing, args=(str(warehouse_path(root)), ready, 5.0))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(PlayerFileLockedError, match=r"shared_matches_v2\.duckdb"):
            store_sessions(
                path, SessionParameters(), StoreOptions(now=NOW, lock_timeout_seconds=0.3)
            )
    finally:
        holder.join()
    assert file_digest(path) == before


def summaries(path: Path) -> list[tuple[str, int]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(
            "SELECT session_id, match_count FROM mv_session_stats ORDER BY session_id"
        ).fetchall()


def stored_sessions(path: Path) -> list[tuple[str, int]]:
    counts = load_sessions(path, now=NOW).group_by("session_id").len().sort("session_id")
    return sorted((str(session_id), matches) for session_id, matches in counts.rows())


def test_the_session_summaries_levelup_reads_follow_the_store(root: Path) -> None:
    """mv_session_stats holds one row per stored session, rebuilt when a store moves them."""
    path = player_file(root)
    store_sessions(path, FRIENDS, StoreOptions(now=NOW))
    assert summaries(path) == stored_sessions(path)
    before = len(summaries(path))

    regrouped = replace(FRIENDS, gap_minutes=600, team_change_mode="ignore")
    store_sessions(path, regrouped, StoreOptions(now=NOW))

    assert summaries(path) == stored_sessions(path)
    assert len(summaries(path)) < before


def test_a_v4_root_and_the_same_root_migrated_to_v6_give_the_same_sessions(
    tmp_path: Path,
) -> None:
    """The demo's matches written both ways: every player's stored sessions are equal."""
    roots = build_demo_roots(tmp_path)
    for gamertag in ("JGtm", "Chocoboflor"):
        sessions = {}
        for layout, root in roots.items():
            path = root / "data" / "players" / gamertag / "stats.duckdb"
            store_sessions(path, SessionParameters(), StoreOptions(now=DEMO_NOW))
            sessions[layout] = session_values(load_sessions(path, now=DEMO_NOW))
        assert sessions["v4"].equals(sessions["v6"]), gamertag
        assert len(sessions["v4"]) > 1000


def test_a_file_that_is_no_layout_says_what_each_layout_needs(tmp_path: Path) -> None:
    path = tmp_path / "data" / "players" / GAMERTAG / "stats.duckdb"
    path.parent.mkdir(parents=True)
    edit_by_hand(str(path), "CREATE TABLE sync_meta (key VARCHAR, value VARCHAR)")

    with pytest.raises(PlayerFileError) as refused:
        load_sessions(path, now=datetime(2026, 2, 8))

    message = str(refused.value)
    assert "v4 needs match_stats" in message
    assert "v5+ needs player_match_enrichment" in message
    assert "it has sync_meta" in message
