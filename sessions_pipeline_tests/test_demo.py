"""The demo root and the LevelUp DDL the demo and the tests build player files with."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import polars.selectors as cs
import pytest

from sessions_pipeline import load_sessions
from sessions_pipeline.entry_points.demo import (
    DEMO_PLAYERS,
    FRIENDS_DEFAULTS,
    OLD_SQUAD_MATE,
    build_demo_root,
    friends_defaults_text,
    generate_demo_matches,
)
from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.friends import resolve_friends
from sessions_pipeline.levelup.sql.levelup_schema import (
    create_match_stats,
    create_v4_player_tables,
    insert_frame,
    match_stats_spec,
    read_table,
)
from sessions_pipeline.levelup.store import StoreOptions, store_sessions
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.levelup_files import (
    DEMO_NOW,
    append_matches,
    make_player_file,
    matches_at,
    read_match_stats,
)

REPOSITORY = Path(__file__).resolve().parents[1]
GAMERTAGS = [player.gamertag for player in DEMO_PLAYERS]
XUIDS = {player.gamertag: player.xuid for player in DEMO_PLAYERS}


def db_path(root: Path, gamertag: str) -> Path:
    return root / "data" / "players" / gamertag / "stats.duckdb"


@contextmanager
def player_db(root: Path, gamertag: str) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(db_path(root, gamertag)), read_only=True)
    try:
        yield con
    finally:
        con.close()


def tables_of(root: Path, gamertag: str) -> dict[str, pl.DataFrame]:
    """The player's tables, their times as instants (naive UTC): the file holds them as
    LevelUp's sync writes them, Paris wall clock."""
    instants = (
        cs.datetime()
        .dt.replace_time_zone("Europe/Paris", ambiguous="earliest")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )
    with player_db(root, gamertag) as con:
        return {
            table: read_table(con, table).with_columns(instants)
            for table in (
                "match_stats",
                "xuid_aliases",
                "match_participants",
                "teammates_aggregate",
            )
        }


def test_demo_root_holds_the_four_players_with_profiles(demo_root: Path) -> None:
    profiles = json.loads((demo_root / "db_profiles.json").read_text())["profiles"]
    assert sorted(profiles) == sorted(GAMERTAGS)
    for gamertag in GAMERTAGS:
        assert profiles[gamertag] == {
            "db_path": f"data/players/{gamertag}/stats.duckdb",
            "xuid": XUIDS[gamertag],
        }
        assert (demo_root / profiles[gamertag]["db_path"]).is_file()
    assert AppRoot(demo_root).friends_file.read_text() == friends_defaults_text()


def test_each_player_has_two_years_of_matches(demo_root: Path) -> None:
    for gamertag in GAMERTAGS:
        stats = tables_of(demo_root, gamertag)["match_stats"]
        assert 800 <= stats.height <= 3000
        assert stats["match_id"].is_unique().all()
        assert stats["start_time"].null_count() == 0
        assert stats["start_time"].min() < DEMO_NOW - timedelta(days=700)
        assert stats["end_time"].max() <= DEMO_NOW
        assert stats["session_id"].null_count() == stats.height


def test_matches_look_like_paris_evenings(demo_root: Path) -> None:
    stats = tables_of(demo_root, "JGtm")["match_stats"].sort("start_time")
    local_hours = (
        stats["start_time"]
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone("Europe/Paris")
        .dt.hour()
    )
    evening_or_night = local_hours.is_in([*range(18, 24), *range(4)])
    assert evening_or_night.mean() > 0.95
    assert (local_hours < 4).sum() > 20, "some evenings cross midnight"
    # A wall time of the autumn's repeated hour reads as its earlier instant: those
    # matches' durations are not what was played, as in LevelUp's own files.
    wall_end = (
        pl.col("end_time")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone("Europe/Paris")
        .dt.replace_time_zone(None)
    )
    ambiguous = wall_end.dt.replace_time_zone("Europe/Paris", ambiguous="null").is_null()
    played = stats.filter(~ambiguous)
    minutes = (played["end_time"] - played["start_time"]).dt.total_seconds() / 60
    assert minutes.min() >= 8
    assert minutes.max() <= 17
    gaps = stats["start_time"].diff().drop_nulls().dt.total_minutes()
    long_pauses = gaps.filter((gaps > 120) & (gaps < 5 * 60))
    assert long_pauses.len() > 10, "some evenings hold a pause longer than the gap"


def test_matches_played_together_share_their_id_across_files(demo_root: Path) -> None:
    stats = {gt: tables_of(demo_root, gt)["match_stats"] for gt in GAMERTAGS}
    jgtm = stats["JGtm"].select("match_id", "start_time", "team_id", "teammates_signature")
    for friend in GAMERTAGS[1:]:
        shared = jgtm.join(stats[friend], on="match_id", suffix="_friend")
        assert shared.height > 50, friend
        assert (shared["start_time"] == shared["start_time_friend"]).all()
        assert (shared["team_id"] == shared["team_id_friend"]).all()
        assert shared["teammates_signature"].str.contains(XUIDS[friend]).all()
        assert shared["teammates_signature_friend"].str.contains(XUIDS["JGtm"]).all()
    solo = jgtm.filter(
        ~pl.col("teammates_signature").str.contains_any([XUIDS[gt] for gt in GAMERTAGS[1:]])
    )
    assert solo.height > 100, "JGtm also plays without friends"


def test_signatures_are_sorted_and_agree_with_match_participants(demo_root: Path) -> None:
    for gamertag in GAMERTAGS:
        xuid = XUIDS[gamertag]
        tables = tables_of(demo_root, gamertag)
        participants = tables["match_participants"]
        mine = participants.filter(pl.col("xuid") == xuid).select("match_id", "team_id")
        expected = (
            participants.join(mine, on=["match_id", "team_id"])
            .filter(pl.col("xuid") != xuid)
            .group_by("match_id")
            .agg(expected=pl.col("xuid").sort().str.join(","))
        )
        stats = (
            tables["match_stats"]
            .join(mine, on="match_id", suffix="_participant")
            .join(expected, on="match_id", how="left")
            .with_columns(pl.col("expected").fill_null(""))
        )
        assert stats.height == tables["match_stats"].height
        assert (stats["team_id"] == stats["team_id_participant"]).all()
        assert (stats["teammates_signature"] == stats["expected"]).all()
        for signature in stats["teammates_signature"].head(200):
            xuids = signature.split(",") if signature else []
            assert xuids == sorted(xuids)
            assert all(len(x) == 16 and x.isdigit() for x in xuids)
        assert (
            participants["match_id"]
            .unique()
            .sort()
            .equals(tables["match_stats"]["match_id"].sort())
        )


def test_side_tables_are_consistent_with_the_matches(demo_root: Path) -> None:
    tables = tables_of(demo_root, "JGtm")
    stats, aliases, aggregate = (
        tables["match_stats"],
        tables["xuid_aliases"],
        tables["teammates_aggregate"],
    )
    known = dict(zip(aliases["xuid"], aliases["gamertag"], strict=True))
    for player in (*DEMO_PLAYERS, OLD_SQUAD_MATE):
        assert known[player.xuid] == player.gamertag
    assert set(aliases["xuid"]) == set(tables["match_participants"]["xuid"])
    madina = aggregate.filter(pl.col("teammate_xuid") == XUIDS["Madina97294"]).row(0, named=True)
    together = stats.filter(pl.col("teammates_signature").str.contains(XUIDS["Madina97294"]))
    assert madina["teammate_gamertag"] == "Madina97294"
    assert madina["same_team_count"] == together.height == madina["matches_together"]
    assert madina["wins_together"] == together.filter(pl.col("outcome") == 2).height
    top_two = aggregate.sort("same_team_count", descending=True)["teammate_xuid"].head(2)
    assert set(top_two) <= {p.xuid for p in DEMO_PLAYERS}


def test_the_old_squad_mate_only_played_in_the_first_months(demo_root: Path) -> None:
    stats = tables_of(demo_root, "JGtm")["match_stats"]
    with_old_mate = stats.filter(pl.col("teammates_signature").str.contains(OLD_SQUAD_MATE.xuid))
    assert with_old_mate.height > 20
    assert with_old_mate["start_time"].max() < DEMO_NOW - timedelta(days=500)
    assert "~OldSquadMate" in FRIENDS_DEFAULTS[XUIDS["JGtm"]]


def test_the_last_evening_is_younger_than_the_stability_threshold(demo_root: Path) -> None:
    threshold = DEMO_NOW - timedelta(hours=4)
    for gamertag in GAMERTAGS:
        stats = tables_of(demo_root, gamertag)["match_stats"]
        assert stats.filter(pl.col("start_time") > threshold).height > 0, gamertag
    jgtm = tables_of(demo_root, "JGtm")["match_stats"]
    tonight = jgtm.filter(pl.col("start_time") > DEMO_NOW - timedelta(hours=5))
    assert tonight.height >= 8
    assert (tonight["start_time"] <= threshold).any(), "tonight starts before the threshold"
    shared_recent = tonight.filter(
        (pl.col("start_time") > threshold)
        & pl.col("teammates_signature").str.contains(XUIDS["Madina97294"])
    )
    assert shared_recent.height > 0


def assert_same_files(root: Path, other: Path) -> None:
    for gamertag in GAMERTAGS:
        expected = tables_of(root, gamertag)
        for table, frame in tables_of(other, gamertag).items():
            assert frame.equals(expected[table]), (gamertag, table)


def test_a_build_is_fast_and_repeats_the_same_rows(
    demo_root_template: Path, tmp_path: Path
) -> None:
    started = time.perf_counter()
    gamertags = build_demo_root(tmp_path, now=DEMO_NOW, layout="v4")
    assert time.perf_counter() - started < 10
    assert gamertags == ["JGtm", "Madina97294", "Chocoboflor", "XxDaemonGamerxX"]
    assert_same_files(demo_root_template, tmp_path)


def test_another_seed_gives_other_matches(demo_root_template: Path) -> None:
    stats, _ = generate_demo_matches(now=DEMO_NOW, seed=8)
    template = tables_of(demo_root_template, "JGtm")["match_stats"]
    assert set(stats[XUIDS["JGtm"]]["match_id"]).isdisjoint(template["match_id"])


def test_a_time_zone_aware_now_is_the_same_instant(
    demo_root_template: Path, tmp_path: Path
) -> None:
    paris_now = DEMO_NOW.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("Europe/Paris"))
    build_demo_root(tmp_path, now=paris_now, layout="v4")
    assert_same_files(demo_root_template, tmp_path)


def test_rebuild_replaces_player_files_and_touches_nothing_else(demo_root: Path) -> None:
    before = read_match_stats(db_path(demo_root, "JGtm"))
    append_matches(db_path(demo_root, "JGtm"), [("extra", DEMO_NOW, None)])
    AppRoot(demo_root).friends_file.write_text('{"1": ["someone"]}\n')
    (demo_root / "notes.txt").write_text("mine")
    other_player = make_player_file(db_path(demo_root, "Someone"), [])
    profiles_file = demo_root / "db_profiles.json"
    profiles = json.loads(profiles_file.read_text())
    profiles["profiles"]["Someone"] = {"db_path": "data/players/Someone/stats.duckdb"}
    profiles_file.write_text(json.dumps(profiles))

    build_demo_root(demo_root, now=DEMO_NOW, layout="v4")

    assert read_match_stats(db_path(demo_root, "JGtm")).equals(before)
    assert AppRoot(demo_root).friends_file.read_text() == '{"1": ["someone"]}\n'
    assert (demo_root / "notes.txt").read_text() == "mine"
    assert other_player.is_file()
    rebuilt_profiles = json.loads(profiles_file.read_text())["profiles"]
    assert sorted(rebuilt_profiles) == sorted([*GAMERTAGS, "Someone"])
    leftovers = [p.name for p in demo_root.rglob("*") if p.suffix in {".building", ".partial"}]
    assert leftovers == []


def test_rebuild_accepts_profiles_with_a_bom_and_keeps_other_players(demo_root: Path) -> None:
    """A db_profiles.json saved by a Windows editor (UTF-8 BOM) is read as the app reads it."""
    profiles_file = AppRoot(demo_root).profiles_file
    someone = {"db_path": "elsewhere/Someone.duckdb", "xuid": "2533274899999999"}
    document = {"profiles": {"Someone": someone}}
    profiles_file.write_text(json.dumps(document), encoding="utf-8-sig")
    assert profiles_file.read_bytes().startswith(b"\xef\xbb\xbf")

    assert build_demo_root(demo_root, now=DEMO_NOW, layout="v4") == GAMERTAGS

    rebuilt = json.loads(profiles_file.read_text(encoding="utf-8"))["profiles"]
    assert rebuilt["Someone"] == someone
    assert sorted(rebuilt) == sorted([*GAMERTAGS, "Someone"])
    assert AppRoot(demo_root).gamertags() == sorted([*GAMERTAGS, "Someone"])


def test_committed_friends_file_is_the_demo_constant() -> None:
    committed = REPOSITORY / ".streamlit" / "friends_defaults.json"
    assert committed.read_text() == friends_defaults_text()
    for player in DEMO_PLAYERS:
        others = [p.gamertag for p in DEMO_PLAYERS if p is not player]
        active = [item for item in FRIENDS_DEFAULTS[player.xuid] if not item.startswith("~")]
        assert active == others
    assert sorted(FRIENDS_DEFAULTS) == sorted(XUIDS.values())


def test_v4_match_stats_has_session_columns_and_about_thirty_columns() -> None:
    con = duckdb.connect()
    create_v4_player_tables(con)
    types = {row[0]: row[1] for row in con.sql("DESCRIBE match_stats").fetchall()}
    assert 28 <= len(types) <= 40
    assert types["match_id"] == "VARCHAR"
    assert types["start_time"] == "TIMESTAMP"
    assert types["teammates_signature"] == "VARCHAR"
    assert types["session_id"] == "VARCHAR"
    assert types["session_label"] == "VARCHAR"
    for table, column in [
        ("xuid_aliases", "gamertag"),
        ("match_participants", "team_id"),
        ("teammates_aggregate", "same_team_count"),
    ]:
        assert column in read_table(con, table).columns


def test_sync_match_stats_has_no_session_columns() -> None:
    names = [name for name, _ in match_stats_spec("sync")]
    assert {"match_id", "start_time", "teammates_signature"} <= set(names)
    assert "session_id" not in names
    assert "session_label" not in names


def test_primary_key_is_optional() -> None:
    con = duckdb.connect()
    create_match_stats(con, primary_key=False)
    duplicates = pl.DataFrame({"match_id": ["m0", "m0"]})
    assert insert_frame(con, "match_stats", duplicates) == 2
    keyed = duckdb.connect()
    create_match_stats(keyed)
    with pytest.raises(duckdb.ConstraintException):
        insert_frame(keyed, "match_stats", duplicates)


def test_insert_frame_writes_instants_as_the_sync_does_whatever_the_connection_zone() -> None:
    """An aware value lands in a naive column as Paris wall clock (LevelUp's sync on a
    machine in France), in a TIMESTAMPTZ as its instant; never through this connection."""
    con = duckdb.connect()
    con.sql("SET TimeZone = 'America/New_York'")
    create_match_stats(con, column_types={"session_label": "TIMESTAMPTZ"})
    instant = DEMO_NOW.replace(tzinfo=ZoneInfo("UTC"))
    frame = pl.DataFrame(
        {"match_id": ["m0"], "start_time": [instant], "session_label": [DEMO_NOW]},
        schema={
            "match_id": pl.String,
            "start_time": pl.Datetime("us", "Europe/Paris"),
            "session_label": pl.Datetime("us"),
        },
    )
    insert_frame(con, "match_stats", frame)
    start, aware = con.sql("SELECT start_time, epoch(session_label) FROM match_stats").fetchall()[0]
    assert start == DEMO_NOW + timedelta(hours=1)  # CET in February
    assert aware == instant.timestamp()


def test_insert_frame_refuses_unknown_columns() -> None:
    con = duckdb.connect()
    create_match_stats(con, schema="sync")
    with pytest.raises(ValueError, match="session_id"):
        insert_frame(con, "match_stats", pl.DataFrame({"match_id": ["m0"], "session_id": ["0"]}))


def test_make_player_file_creates_only_the_tables_given(tmp_path: Path) -> None:
    start = DEMO_NOW - timedelta(days=1)
    path = make_player_file(
        tmp_path / "p" / "stats.duckdb",
        [*matches_at(start, [0, 15, 200], signatures="2"), ("late", None, None)],
        schema="sync",
        primary_key=False,
        column_types={"start_time": "TIMESTAMPTZ"},
        aliases=[],
    )
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {row[0] for row in con.sql("SHOW TABLES").fetchall()}
        assert tables == {"match_stats", "xuid_aliases"}
    stats = read_match_stats(path)
    assert stats["match_id"].to_list() == ["m0", "m1", "m2", "late"]
    assert stats["start_time"].dt.convert_time_zone("UTC").dt.replace_time_zone(None)[2] == (
        start + timedelta(minutes=200)
    )
    assert "session_id" not in stats.columns


def test_the_demo_reads_as_the_clock_did_across_both_clock_changes(demo_root: Path) -> None:
    """Its files hold Paris wall clock, as the sync writes them: a session played through
    the spring-forward night is one session, whose label skips the hour that never was,
    and the autumn night's session is labelled as the clock read then."""
    app_root = AppRoot(demo_root)
    jgtm = app_root.player("JGtm")
    friends = resolve_friends(app_root, jgtm).xuids
    store_sessions(
        jgtm.db_path, SessionParameters(friends_xuids=friends), StoreOptions(now=DEMO_NOW)
    )
    labels = load_sessions(jgtm.db_path, now=DEMO_NOW)["session_label"].unique().to_list()

    spring = [label for label in labels if label.startswith("30/03/2025 01:")]
    assert len(spring) == 1, labels
    first, last = spring[0][11:16], spring[0][17:22]
    assert first < "02:00" and last >= "03:00", spring  # 02:00-03:00 never happened
    assert any(label.startswith("26/10/2025 01:") for label in labels)
    with player_db(demo_root, "JGtm") as con:
        [(wall_hours,)] = con.sql(
            "SELECT count(*) FROM match_stats WHERE start_time >= '2025-03-30 02:00' "
            "AND start_time < '2025-03-30 03:00'"
        ).fetchall()
    assert wall_hours == 0, "a wall clock never reads the skipped hour"


def test_the_demo_has_ranked_and_social_evenings_the_ranked_split_cuts(demo_root: Path) -> None:
    """`is_ranked` varies within evenings, so LevelUp's ranked split has something to cut."""
    jgtm = AppRoot(demo_root).player("JGtm")
    plain = load_sessions(jgtm.db_path, now=DEMO_NOW)
    split = load_sessions(jgtm.db_path, split_on_ranked_change=True, now=DEMO_NOW)
    assert split["session_id"].max() > plain["session_id"].max()
    ranked = tables_of(demo_root, "JGtm")["match_stats"]["is_ranked"]
    assert 0.1 < ranked.mean() < 0.9
