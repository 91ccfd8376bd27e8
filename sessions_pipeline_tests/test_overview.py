"""`read_overview`: the per-session view `show` and the dashboard share."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from sessions_pipeline import load_sessions
from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.friends import resolve_friends
from sessions_pipeline.levelup.overview import read_overview
from sessions_pipeline.levelup.reader import replay_parameters
from sessions_pipeline.levelup.sql import player_db
from sessions_pipeline.levelup.sql.player_file import open_player_file
from sessions_pipeline.levelup.store import StoreOptions, store_sessions
from sessions_pipeline.rules.sessions import SessionParameters, compute_sessions
from sessions_pipeline_tests.levelup_files import DEMO_NOW, make_player_file, matches_at


def full_recompute_reasons(db_path: Path) -> list[str | None]:
    """Why each session started, from the rules run over the whole timeline, oldest first."""
    with open_player_file(db_path, read_only=True) as file:
        params = replay_parameters(player_db.read_recorded_parameters(file.con))
        timeline = player_db.read_timeline(
            file,
            start_time_zone=params.start_time_zone,
            with_ranked=params.split_on_ranked_change,
        ).frame
    reasons = compute_sessions(timeline, params)["break_reason"]
    return reasons.drop_nulls().to_list()


@pytest.mark.parametrize("gamertag", ["JGtm", "Chocoboflor"])
def test_reasons_from_session_bounds_equal_a_full_recompute(demo_root: Path, gamertag: str) -> None:
    app_root = AppRoot(demo_root)
    jgtm = app_root.player("JGtm")
    store_sessions(
        jgtm.db_path,
        SessionParameters(friends_xuids=resolve_friends(app_root, jgtm).xuids),
        StoreOptions(now=DEMO_NOW),
    )
    db_path = app_root.player(gamertag).db_path

    overview = read_overview(db_path, now=DEMO_NOW)

    oldest_first = overview.summary.sort("session_id")
    assert oldest_first["break_reason"].to_list() == full_recompute_reasons(db_path)
    sessions = load_sessions(db_path, now=DEMO_NOW)
    assert overview.sessions.equals(sessions)
    per_session = sessions.group_by("session_id", maintain_order=True).agg(
        pl.col("session_label").first(), pl.len().alias("matches")
    )
    assert oldest_first.select(per_session.columns).equals(per_session)


@pytest.mark.parametrize("friends", [frozenset({"11", "22"}), frozenset()], ids=["friends", "none"])
def test_reasons_of_a_file_synced_out_of_time_order_equal_a_full_recompute(
    tmp_path: Path, friends: frozenset[str]
) -> None:
    """A session that did not start on a gap is explained from its first match's and its
    predecessor's signatures, read again by their place in the file: rows inserted in no
    time order, a NULL start time among them, and an open tail computed on the fly."""
    now = datetime(2026, 3, 1, 20, 0)
    minutes = [0, 10, 20, 30, 40, 50, 200, 210, 220, 230, 240, 500, 510, 520, 580]
    signatures = ["11", "11", "11,22", "5", "5", "22", "22", "7", "7,11", None]
    signatures += ["11", "11", "22", "22", "22"]
    matches = matches_at(now - timedelta(hours=10), minutes, signatures=signatures)
    shuffled = [*matches[7::-1], ("nameless", None, "11"), *matches[:7:-1]]
    db_path = make_player_file(tmp_path / "p.duckdb", shuffled)
    store_sessions(db_path, SessionParameters(friends_xuids=friends), StoreOptions(now=now))

    overview = read_overview(db_path, now=now)

    reasons = overview.summary.sort("session_id")["break_reason"].to_list()
    assert reasons == full_recompute_reasons(db_path)
    assert (
        {"friend_joined", "went_solo"} <= set(reasons)
        if friends
        else "teammates_changed" in reasons
    )
    assert overview.summary["stored"].to_list()[0] != "yes"  # the tail is computed


def test_stored_partly_and_recent_and_the_unstored_stable_count(tmp_path: Path) -> None:
    now = datetime(2026, 3, 1, 20, 0)
    start = now - timedelta(hours=30)
    # Two old sessions (2 h 20 apart), then one that straddles the 4 h threshold.
    matches = matches_at(start, [0, 10, 150, 160], signatures="1")
    matches += matches_at(now - timedelta(hours=4, minutes=20), [0, 30], signatures="1", prefix="r")
    db_path = make_player_file(tmp_path / "p.duckdb", matches)
    store_sessions(db_path, SessionParameters(), StoreOptions(now=now))

    overview = read_overview(db_path, now=now)

    assert overview.summary["stored"].to_list() == ["partly", "yes", "yes"]
    assert overview.summary["break_reason"].to_list() == ["gap", "gap", "first"]
    assert (overview.stored_matches, overview.computed_matches) == (5, 1)
    assert overview.unstored_stable_matches == 0
    later = read_overview(db_path, now=now + timedelta(hours=1))
    assert later.unstored_stable_matches == 1
    assert later.recorded is not None and later.recorded.params.gap_minutes == 120


def test_a_file_never_stored_is_all_recent_with_teammate_breaks(tmp_path: Path) -> None:
    start = datetime(2026, 1, 10, 18, 0)
    matches = matches_at(start, [0, 10, 20, 30], signatures=["1", "1", "1,2", None])
    db_path = make_player_file(tmp_path / "p.duckdb", matches)

    overview = read_overview(db_path, now=start + timedelta(days=1))

    assert overview.recorded is None
    assert overview.summary["stored"].to_list() == ["recent"] * 3
    assert overview.summary["break_reason"].to_list() == [
        "teammates_changed",
        "teammates_changed",
        "first",
    ]
    assert overview.unstored_stable_matches == 4


def test_a_one_match_session_before_a_friend_joining_keeps_its_own_reason(tmp_path: Path) -> None:
    """The second pass sees a session's first match and its predecessor only; when that
    predecessor is a one-match session of its own, its reason (here a gap) stands."""
    now = datetime(2026, 3, 1, 20, 0)
    matches = matches_at(
        now - timedelta(hours=10), [0, 10, 200, 210, 220], signatures=["5", "5", "5", "11", "11"]
    )
    db_path = make_player_file(tmp_path / "p.duckdb", matches)
    store_sessions(db_path, SessionParameters(friends_xuids={"11"}), StoreOptions(now=now))

    reasons = read_overview(db_path, now=now).summary.sort("session_id")["break_reason"]

    assert reasons.to_list() == ["first", "gap", "friend_joined"]
    assert reasons.to_list() == full_recompute_reasons(db_path)
