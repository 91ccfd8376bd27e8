"""LevelUp's v5-v7 layouts: the DDL against LevelUp's own, the test builders, and the demo
written as a v6/v7 root holding the same matches as its v4 root."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from sessions_pipeline.entry_points.cli import main
from sessions_pipeline.entry_points.demo import DEMO_PLAYERS, build_demo_root, generate_demo_matches
from sessions_pipeline.levelup.sql.levelup_schema import (
    create_v5_player_tables,
    create_warehouse_tables,
    read_table,
)
from sessions_pipeline_tests.levelup_files import (
    DEMO_NOW,
    build_demo_roots,
    make_v6_player_file,
    make_v6_root,
    make_warehouse,
    matches_at,
    read_match_stats,
    read_v6_matches,
    start_instants,
    warehouse_path,
)

GAMERTAGS = [player.gamertag for player in DEMO_PLAYERS]
XUIDS = {player.gamertag: player.xuid for player in DEMO_PLAYERS}
DEFAULT_NOW = "CURRENT_TIMESTAMP"

# DESCRIBE rows (name, type, null, key, default) transcribed from LevelUp's DDL.
# src/data/sync/_engine_connections.py _SHARED_SCHEMA_SQL @45e0a451 (shared_matches_v2.duckdb).
MATCH_REGISTRY_V6 = [
    ("match_id", "VARCHAR", "NO", "PRI", None),
    ("start_time", "TIMESTAMP", "NO", None, None),
    ("end_time", "TIMESTAMP", "YES", None, None),
    ("playlist_id", "VARCHAR", "YES", None, None),
    ("playlist_name", "VARCHAR", "YES", None, None),
    ("map_id", "VARCHAR", "YES", None, None),
    ("map_name", "VARCHAR", "YES", None, None),
    ("pair_id", "VARCHAR", "YES", None, None),
    ("pair_name", "VARCHAR", "YES", None, None),
    ("game_variant_id", "VARCHAR", "YES", None, None),
    ("game_variant_name", "VARCHAR", "YES", None, None),
    ("mode_category", "VARCHAR", "YES", None, None),
    ("is_ranked", "BOOLEAN", "YES", None, "false"),
    ("is_firefight", "BOOLEAN", "YES", None, "false"),
    ("duration_seconds", "INTEGER", "YES", None, None),
    ("playable_duration_seconds", "INTEGER", "YES", None, None),
    ("real_start_time", "TIMESTAMP", "YES", None, None),
    ("team_0_score", "SMALLINT", "YES", None, None),
    ("team_1_score", "SMALLINT", "YES", None, None),
    ("team_0_ps_score", "INTEGER", "YES", None, None),
    ("team_1_ps_score", "INTEGER", "YES", None, None),
    ("backfill_completed", "INTEGER", "YES", None, "0"),
    ("participants_loaded", "BOOLEAN", "YES", None, "false"),
    ("events_loaded", "BOOLEAN", "YES", None, "false"),
    ("medals_loaded", "BOOLEAN", "YES", None, "false"),
    ("first_sync_by", "VARCHAR", "YES", None, None),
    ("first_sync_at", "TIMESTAMP", "YES", None, None),
    ("last_updated_at", "TIMESTAMP", "YES", None, None),
    ("player_count", "SMALLINT", "YES", None, "0"),
    ("created_at", "TIMESTAMP", "YES", None, DEFAULT_NOW),
    ("updated_at", "TIMESTAMP", "YES", None, DEFAULT_NOW),
]
# The same _SHARED_SCHEMA_SQL @016018a0 (v5, shared_matches.duckdb): without these four.
MATCH_REGISTRY_V5 = [
    row
    for row in MATCH_REGISTRY_V6
    if row[0]
    not in {"playable_duration_seconds", "real_start_time", "team_0_ps_score", "team_1_ps_score"}
]
# apps/go-api/internal/migration step add_start_time_utc_to_match_registry (AddColumnIfMissing).
MATCH_REGISTRY_V7 = [
    *MATCH_REGISTRY_V6,
    ("start_time_utc", "TIMESTAMP WITH TIME ZONE", "YES", None, None),
    ("end_time_utc", "TIMESTAMP WITH TIME ZONE", "YES", None, None),
]
# _engine_connections.py _SHARED_SCHEMA_SQL, identical @016018a0 and @45e0a451.
MATCH_PARTICIPANTS = [
    ("match_id", "VARCHAR", "NO", "PRI", None),
    ("xuid", "VARCHAR", "NO", "PRI", None),
    ("gamertag", "VARCHAR", "YES", None, None),
    ("team_id", "INTEGER", "YES", None, None),
    ("outcome", "INTEGER", "YES", None, None),
    ("rank", "SMALLINT", "YES", None, None),
    ("score", "INTEGER", "YES", None, None),
    ("kills", "SMALLINT", "YES", None, None),
    ("deaths", "SMALLINT", "YES", None, None),
    ("assists", "SMALLINT", "YES", None, None),
    ("shots_fired", "INTEGER", "YES", None, None),
    ("shots_hit", "INTEGER", "YES", None, None),
    ("damage_dealt", "FLOAT", "YES", None, None),
    ("damage_taken", "FLOAT", "YES", None, None),
    ("created_at", "TIMESTAMP", "YES", None, DEFAULT_NOW),
]
XUID_ALIASES = [
    ("xuid", "VARCHAR", "NO", "PRI", None),
    ("gamertag", "VARCHAR", "NO", None, None),
    ("last_seen", "TIMESTAMP", "YES", None, None),
    ("source", "VARCHAR", "YES", None, None),
    ("updated_at", "TIMESTAMP", "YES", None, DEFAULT_NOW),
]
# src/data/sync/_engine_schema.py SYNC_SCHEMA_DDL (@1390743e, @eed7dd67).
PLAYER_MATCH_ENRICHMENT = [
    ("match_id", "VARCHAR", "NO", "PRI", None),
    ("performance_score", "FLOAT", "YES", None, None),
    ("session_id", "VARCHAR", "YES", None, None),
    ("session_label", "VARCHAR", "YES", None, None),
    ("is_with_friends", "BOOLEAN", "YES", None, None),
    ("teammates_signature", "VARCHAR", "YES", None, None),
    ("known_teammates_count", "SMALLINT", "YES", None, None),
    ("friends_xuids", "VARCHAR", "YES", None, None),
    ("had_bot_teammate", "BOOLEAN", "YES", None, None),
    ("created_at", "TIMESTAMP", "YES", None, DEFAULT_NOW),
    ("updated_at", "TIMESTAMP", "YES", None, DEFAULT_NOW),
]
SYNC_META = [
    ("key", "VARCHAR", "NO", "PRI", None),
    ("value", "VARCHAR", "YES", None, None),
    ("updated_at", "TIMESTAMP", "YES", None, DEFAULT_NOW),
]
# src/data/repositories/_materialized_views.py _ensure_mv_tables (@83edd854).
MV_SESSION_STATS = [
    ("session_id", "VARCHAR", "NO", "PRI", None),
    ("match_count", "INTEGER", "YES", None, None),
    ("start_time", "TIMESTAMP", "YES", None, None),
    ("end_time", "TIMESTAMP", "YES", None, None),
    ("total_kills", "INTEGER", "YES", None, None),
    ("total_deaths", "INTEGER", "YES", None, None),
    ("total_assists", "INTEGER", "YES", None, None),
    ("kd_ratio", "DOUBLE", "YES", None, None),
    ("win_rate", "DOUBLE", "YES", None, None),
    ("avg_accuracy", "DOUBLE", "YES", None, None),
    ("avg_life_seconds", "DOUBLE", "YES", None, None),
    ("updated_at", "TIMESTAMP", "YES", None, None),
]


def described(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return [row[:5] for row in con.sql(f"DESCRIBE {table}").fetchall()]


def tables_in(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.sql("SHOW TABLES").fetchall()}


@contextmanager
def opened(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def read(path: Path, table: str, *order_by: str) -> pl.DataFrame:
    with opened(path) as con:
        return read_table(con, table, order_by=order_by)


def player_file(root: Path, gamertag: str) -> Path:
    return root / "data" / "players" / gamertag / "stats.duckdb"


def as_naive_utc(column: str) -> pl.Expr:
    """A TIMESTAMPTZ read back (in whatever zone the connection had) as naive UTC."""
    return pl.col(column).dt.convert_time_zone("UTC").dt.replace_time_zone(None)


def paris_wall_clock(column: str) -> pl.Expr:
    """Naive UTC instants as the Paris wall clock LevelUp's sync writes in naive columns."""
    return (
        pl.col(column)
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone("Europe/Paris")
        .dt.replace_time_zone(None)
    )


# --- The DDL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layout", "registry"),
    [("v5", MATCH_REGISTRY_V5), ("v6", MATCH_REGISTRY_V6), ("v7", MATCH_REGISTRY_V7)],
)
def test_warehouse_tables_are_levelups(layout: str, registry: list[tuple]) -> None:
    con = duckdb.connect()
    create_warehouse_tables(con, layout=layout)
    assert tables_in(con) == {"match_registry", "match_participants", "xuid_aliases"}
    assert described(con, "match_registry") == registry
    assert described(con, "match_participants") == MATCH_PARTICIPANTS
    assert described(con, "xuid_aliases") == XUID_ALIASES


def test_player_tables_are_levelups() -> None:
    con = duckdb.connect()
    create_v5_player_tables(con)
    assert described(con, "player_match_enrichment") == PLAYER_MATCH_ENRICHMENT
    assert described(con, "sync_meta") == SYNC_META
    assert described(con, "mv_session_stats") == MV_SESSION_STATS
    bare = duckdb.connect()
    create_v5_player_tables(bare, with_mv_session_stats=False)
    assert tables_in(bare) == {"player_match_enrichment", "sync_meta"}


def test_keys_defaults_and_not_null_hold_as_in_levelup() -> None:
    con = duckdb.connect()
    create_warehouse_tables(con, layout="v6")
    con.execute("INSERT INTO match_registry (match_id, start_time) VALUES ('m0', '2026-02-03')")
    ranked, firefight, created = con.execute(
        "SELECT is_ranked, is_firefight, created_at FROM match_registry"
    ).fetchall()[0]
    assert (ranked, firefight) == (False, False)
    assert created is not None
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO match_registry (match_id) VALUES ('m1')")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO match_registry (match_id, start_time) VALUES ('m0', now())")
    con.execute("INSERT INTO match_participants (match_id, xuid) VALUES ('m0', 'x')")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO match_participants (match_id, xuid) VALUES ('m0', 'x')")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO xuid_aliases (xuid) VALUES ('x')")


def test_a_warehouse_can_lack_is_ranked_as_the_issue_names() -> None:
    con = duckdb.connect()
    create_warehouse_tables(con, layout="v5", without_columns={"match_registry": ["is_ranked"]})
    names = [row[0] for row in described(con, "match_registry")]
    assert "is_ranked" not in names
    assert "start_time_utc" not in names
    assert names == [row[0] for row in MATCH_REGISTRY_V5 if row[0] != "is_ranked"]
    assert described(con, "match_participants") == MATCH_PARTICIPANTS


@pytest.mark.parametrize(
    ("without", "message"),
    [
        ({"match_registry": ["is_rnaked"]}, "absent from match_registry"),
        ({"match_participants": ["xuid"]}, "primary key of match_participants"),
        ({"match_stats": ["is_ranked"]}, "no warehouse tables"),
    ],
)
def test_leaving_out_a_column_is_checked(without: dict, message: str) -> None:
    con = duckdb.connect()
    with pytest.raises(ValueError, match=message):
        create_warehouse_tables(con, layout="v6", without_columns=without)
    assert tables_in(con) == set()


def test_an_unknown_warehouse_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="'v8'"):
        create_warehouse_tables(duckdb.connect(), layout="v8")  # type: ignore[arg-type]


# --- The builders ----------------------------------------------------------------------


def test_make_warehouse_writes_times_as_the_sync_does(tmp_path: Path) -> None:
    february, july = datetime(2026, 2, 3, 19), datetime(2025, 7, 3, 19)
    path = make_warehouse(
        tmp_path / "data" / "warehouse" / "shared_matches_v2.duckdb",
        [("feb", february, True), ("jul", july, None)],
        [("feb", "1", 0), ("feb", "2", 0), ("jul", "1", 1)],
        [("1", "One"), ("2", "Two")],
        layout="v7",
    )
    registry = read(path, "match_registry", "match_id")
    assert registry["start_time"].to_list() == [
        february + timedelta(hours=1),
        july.replace(hour=21),
    ]
    instants = registry.select(as_naive_utc("start_time_utc"))["start_time_utc"]
    assert instants.to_list() == [february, july]
    assert registry["is_ranked"].to_list() == [True, None]
    assert registry["end_time_utc"].null_count() == 2
    participants = read(path, "match_participants", "match_id", "xuid")
    assert participants.select("match_id", "xuid", "team_id").rows() == [
        ("feb", "1", 0),
        ("feb", "2", 0),
        ("jul", "1", 1),
    ]
    assert read(path, "xuid_aliases", "xuid")["gamertag"].to_list() == ["One", "Two"]


def test_make_warehouse_leaves_out_what_the_layout_lacks(tmp_path: Path) -> None:
    path = make_warehouse(
        tmp_path / "shared_matches.duckdb",
        [("m0", datetime(2026, 2, 3, 19), True)],
        layout="v5",
        without_columns={"match_registry": ["is_ranked"]},
    )
    registry = read(path, "match_registry")
    assert registry.select("match_id", "start_time").rows() == [("m0", datetime(2026, 2, 3, 20))]
    assert {"is_ranked", "start_time_utc"}.isdisjoint(registry.columns)


def test_make_v6_player_file_holds_enrichment_and_the_xuid(tmp_path: Path) -> None:
    path = make_v6_player_file(
        tmp_path / "p" / "stats.duckdb", [("m0", "2,3"), ("m1", None)], xuid="1"
    )
    enrichment = read(path, "player_match_enrichment", "match_id")
    assert enrichment.select("match_id", "teammates_signature").rows() == [
        ("m0", "2,3"),
        ("m1", None),
    ]
    assert enrichment["session_id"].null_count() == 2
    assert read(path, "sync_meta").select("key", "value").rows() == [("xuid", "1")]
    assert read(path, "mv_session_stats").height == 0
    bare = make_v6_player_file(tmp_path / "q" / "stats.duckdb", with_mv_session_stats=False)
    with opened(bare) as con:
        assert tables_in(con) == {"player_match_enrichment", "sync_meta"}
    assert read(bare, "sync_meta").height == 0


def test_make_v6_root_gives_back_the_matches_it_was_given(tmp_path: Path) -> None:
    start = datetime(2026, 2, 3, 19)
    mine = matches_at(start, [0, 15, 200], signatures=["2", "2", None])
    theirs = [("m0", start, "1"), *matches_at(start, [400], prefix="t")]
    files = make_v6_root(tmp_path, {"Me": ("1", mine), "Friend": ("2", theirs)}, layout="v7")
    assert files["Me"] == player_file(tmp_path, "Me")
    me = read_v6_matches(tmp_path, "Me", "1")
    assert me.rows() == [
        ("m0", start + timedelta(hours=1), "2"),
        ("m1", start + timedelta(minutes=15, hours=1), "2"),
        ("m2", start + timedelta(minutes=200, hours=1), None),
    ]
    # Friend played m1 (Me's signature says so) but never synced it: no enrichment row.
    friend = read_v6_matches(tmp_path, "Friend", "2")
    assert friend.select("match_id", "teammates_signature").rows() == [
        ("m0", "1"),
        ("m1", None),
        ("t0", None),
    ]
    registry = read(warehouse_path(tmp_path), "match_registry", "start_time")
    assert registry["match_id"].to_list() == ["m0", "m1", "m2", "t0"]
    with pytest.raises(ValueError, match="NOT NULL"):
        make_v6_root(tmp_path / "other", {"Me": ("1", [("late", None, None)])})


# --- The demo as a v6 / v7 root --------------------------------------------------------


@pytest.fixture(scope="module")
def demo_v7_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's matches (DEMO_NOW, seed 7) as a v7 root; never modify it."""
    return build_demo_roots(tmp_path_factory.mktemp("demo_v7"), ["v7"])["v7"]


@pytest.fixture(scope="module")
def demo_instants() -> dict[str, pl.DataFrame]:
    """Per xuid, the demo's matches as generated: start and end instants, naive UTC."""
    stats, _ = generate_demo_matches(now=DEMO_NOW, seed=7)
    return {
        xuid: frame.select("match_id", "start_time", "end_time") for xuid, frame in stats.items()
    }


def test_the_v6_demo_root_is_a_warehouse_and_enrichment_files(
    demo_v6_root_template: Path, demo_root_template: Path
) -> None:
    root = demo_v6_root_template
    assert warehouse_path(root).is_file()
    assert (root / "db_profiles.json").read_text() == (
        demo_root_template / "db_profiles.json"
    ).read_text()
    for gamertag in GAMERTAGS:
        with opened(player_file(root, gamertag)) as con:
            assert tables_in(con) == {"player_match_enrichment", "sync_meta", "mv_session_stats"}
            assert described(con, "player_match_enrichment") == PLAYER_MATCH_ENRICHMENT
        meta = read(player_file(root, gamertag), "sync_meta")
        assert meta.select("key", "value").rows() == [("xuid", XUIDS[gamertag])]
        assert read(player_file(root, gamertag), "mv_session_stats").height == 0
    with opened(warehouse_path(root)) as con:
        assert described(con, "match_registry") == MATCH_REGISTRY_V6
    leftovers = [p.name for p in root.rglob("*") if p.suffix in {".building", ".wal"}]
    assert leftovers == []


def test_every_match_of_each_player_is_in_the_warehouse_once(
    demo_v6_root_template: Path, demo_instants: dict[str, pl.DataFrame]
) -> None:
    root = demo_v6_root_template
    registry = read(warehouse_path(root), "match_registry")
    participants = read(warehouse_path(root), "match_participants")
    assert registry["match_id"].is_unique().all()
    everyone: set[str] = set()
    for gamertag in GAMERTAGS:
        enrichment = read(player_file(root, gamertag), "player_match_enrichment")
        played = participants.filter(pl.col("xuid") == XUIDS[gamertag])["match_id"]
        generated = demo_instants[XUIDS[gamertag]]["match_id"]
        assert enrichment.height >= 800
        assert set(enrichment["match_id"]) == set(played) == set(generated), gamertag
        assert enrichment["match_id"].is_unique().all()
        assert enrichment.select("session_id", "session_label").null_count().row(0) == (
            enrichment.height,
            enrichment.height,
        )
        everyone |= set(enrichment["match_id"])
    assert set(registry["match_id"]) == everyone == set(participants["match_id"])
    counts = participants.group_by("match_id").len()
    assert (
        registry.join(counts, on="match_id")
        .filter(pl.col("player_count") != pl.col("len"))
        .is_empty()
    )


def test_signatures_are_the_same_team_others_sorted_and_null_when_alone(
    demo_v6_root_template: Path,
) -> None:
    root = demo_v6_root_template
    registry = read(warehouse_path(root), "match_registry")
    participants = read(warehouse_path(root), "match_participants")
    for gamertag in GAMERTAGS:
        xuid = XUIDS[gamertag]
        mine = participants.filter(pl.col("xuid") == xuid).select("match_id", "team_id")
        expected = (
            participants.join(mine, on=["match_id", "team_id"])
            .filter(pl.col("xuid") != xuid)
            .group_by("match_id")
            .agg(expected=pl.col("xuid").sort().str.join(","))
        )
        enrichment = (
            read(player_file(root, gamertag), "player_match_enrichment")
            .join(expected, on="match_id", how="left")
            .join(registry.select("match_id", "playlist_name"), on="match_id")
        )
        signature = enrichment["teammates_signature"]
        assert signature.null_count() > 0 and signature.drop_nulls().len() > 0, gamertag
        assert (signature != "").all()
        assert enrichment.filter(
            pl.col("teammates_signature").ne_missing(pl.col("expected"))
        ).is_empty()
        free_for_all = enrichment.filter(pl.col("playlist_name") == "Free-for-All")
        assert free_for_all.height > 0
        assert free_for_all["teammates_signature"].null_count() == free_for_all.height


def test_naive_columns_hold_paris_wall_clock_and_v7_the_instant(
    demo_v7_root: Path, demo_instants: dict[str, pl.DataFrame]
) -> None:
    registry = read(warehouse_path(demo_v7_root), "match_registry").with_columns(
        as_naive_utc("start_time_utc"), as_naive_utc("end_time_utc")
    )
    generated = pl.concat(demo_instants.values()).unique("match_id")
    both = registry.join(generated, on="match_id", suffix="_generated")
    assert both.height == registry.height
    assert (both["start_time_utc"] == both["start_time_generated"]).all()
    assert (both["end_time_utc"] == both["end_time_generated"]).all()
    wall = both.select(paris_wall_clock("start_time_generated"), "start_time")
    assert (wall["start_time_generated"] == wall["start_time"]).all()
    offset = both.select(
        month=pl.col("start_time_utc").dt.month(),
        hours=(pl.col("start_time") - pl.col("start_time_utc")).dt.total_hours(),
    )
    assert set(offset.filter(pl.col("month") == 2)["hours"]) == {1}  # CET
    assert set(offset.filter(pl.col("month") == 7)["hours"]) == {2}  # CEST
    with opened(warehouse_path(demo_v7_root)) as con:
        assert described(con, "match_registry") == MATCH_REGISTRY_V7


def test_the_v4_and_v6_demo_roots_hold_the_same_matches(
    demo_root_template: Path, demo_v6_root_template: Path
) -> None:
    for gamertag in GAMERTAGS:
        v4 = read_match_stats(player_file(demo_root_template, gamertag)).select(
            "match_id",
            "start_time",
            teammates_signature=pl.when(pl.col("teammates_signature") != "").then(
                pl.col("teammates_signature")
            ),
        )
        v6 = read_v6_matches(demo_v6_root_template, gamertag, XUIDS[gamertag])
        assert v6.height == v4.height
        assert v6.equals(v4), gamertag
        assert start_instants(v6).equals(start_instants(v4))


def test_a_v6_build_repeats_the_same_rows_and_replaces_a_v4_root(
    demo_root: Path, demo_v6_root_template: Path
) -> None:
    assert build_demo_root(demo_root, now=DEMO_NOW, layout="v6") == GAMERTAGS
    for path in (warehouse_path(demo_root), *(player_file(demo_root, gt) for gt in GAMERTAGS)):
        template = demo_v6_root_template / path.relative_to(demo_root)
        with opened(path) as con, opened(template) as expected:
            assert tables_in(con) == tables_in(expected), path
            for table in tables_in(con):
                assert read_table(con, table).equals(read_table(expected, table)), (path, table)
    leftovers = [p.name for p in demo_root.rglob("*") if p.suffix in {".building", ".wal"}]
    assert leftovers == []


def test_an_unknown_demo_layout_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'v5'"):
        build_demo_root(tmp_path, now=DEMO_NOW, layout="v5")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_the_demo_command_writes_the_layout_asked(tmp_path: Path) -> None:
    """`--layout v4` reaches the build (and the v4 pipeline still stores it); an unknown
    layout is refused by the parser, before anything is written."""
    assert main(["demo", "--layout", "v4", "--root", str(tmp_path)]) == 0
    assert not warehouse_path(tmp_path).exists()
    stored = read_match_stats(player_file(tmp_path, "JGtm"))["session_id"]
    assert stored.drop_nulls().n_unique() > 10
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--layout", "v5", "--root", str(empty)])
    assert exit_info.value.code == 2
    assert list(empty.iterdir()) == []
