"""The friends set: friends_defaults.json, its resolution, and the top-2 fallbacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sessions_pipeline.errors import ConfigFileError, PlayerNotFoundError
from sessions_pipeline.levelup.app_root import AppRoot, Player
from sessions_pipeline.levelup.friends import (
    FriendsResolution,
    FriendsSource,
    load_friends_config,
    resolve_friends,
    resolve_player_xuid,
)
from sessions_pipeline.levelup.sql.connection import open_player_db

ME = "2533274823110022"
MADINA = "2533274858283686"
CHOCO = "2535469190789936"
DAEMON = "2533274833178266"
RANDOM = "2533274800000001"

Alias = tuple[str, str]
Participant = tuple[str, str, int | None]
Aggregate = tuple[str, str | None, int | None]


def make_db(
    path: Path,
    *,
    aliases: list[Alias] | None = None,
    participants: list[Participant] | None = None,
    aggregate: list[Aggregate] | None = None,
    signatures: list[str | None] | None = None,
) -> Path:
    """A DuckDB file holding only the tables given (None = table missing, [] = empty)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        if aliases is not None:
            con.sql("CREATE TABLE xuid_aliases (xuid VARCHAR PRIMARY KEY, gamertag VARCHAR)")
            for row in aliases:
                con.sql("INSERT INTO xuid_aliases VALUES (?, ?)", params=list(row))
        if participants is not None:
            con.sql(
                "CREATE TABLE match_participants ("
                "match_id VARCHAR, xuid VARCHAR, team_id INTEGER, PRIMARY KEY (match_id, xuid))"
            )
            for row in participants:
                con.sql("INSERT INTO match_participants VALUES (?, ?, ?)", params=list(row))
        if aggregate is not None:
            con.sql(
                "CREATE TABLE teammates_aggregate (teammate_xuid VARCHAR PRIMARY KEY, "
                "teammate_gamertag VARCHAR, matches_together INTEGER, same_team_count INTEGER)"
            )
            for xuid, gamertag, same_team in aggregate:
                con.sql(
                    "INSERT INTO teammates_aggregate VALUES (?, ?, ?, ?)",
                    params=[xuid, gamertag, same_team, same_team],
                )
        if signatures is not None:
            con.sql(
                "CREATE TABLE match_stats ("
                "match_id VARCHAR, start_time TIMESTAMP, teammates_signature VARCHAR)"
            )
            for index, signature in enumerate(signatures):
                con.sql(
                    "INSERT INTO match_stats VALUES (?, TIMESTAMP '2026-02-07 20:00', ?)",
                    params=[f"m{index}", signature],
                )
    finally:
        con.close()
    return path


def make_player(
    tmp_path: Path, *, profile_xuid: str | None = ME, gamertag: str = "JGtm", **tables: Any
) -> tuple[AppRoot, Player]:
    make_db(tmp_path / "data" / "players" / gamertag / "stats.duckdb", **tables)
    if profile_xuid is not None:
        profiles = {"profiles": {gamertag: {"xuid": profile_xuid}}}
        (tmp_path / "db_profiles.json").write_text(json.dumps(profiles), encoding="utf-8")
    root = AppRoot(tmp_path)
    return root, root.player(gamertag)


def write_friends(root: AppRoot, document: object, *, encoding: str = "utf-8") -> Path:
    root.friends_file.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document)
    root.friends_file.write_text(text, encoding=encoding)
    return root.friends_file


def same_team(match_id: str, team_id: int | None, *xuids: str) -> list[Participant]:
    return [(match_id, xuid, team_id) for xuid in xuids]


# --- friends_defaults.json --------------------------------------------------------------


def test_missing_friends_file_has_no_entries(tmp_path: Path) -> None:
    assert load_friends_config(tmp_path / ".streamlit" / "friends_defaults.json") == {}


def test_friends_file_is_read_as_written(tmp_path: Path) -> None:
    path = write_friends(AppRoot(tmp_path), {ME: ["Madina97294", "~SpartanD", CHOCO], MADINA: []})
    assert load_friends_config(path) == {ME: ["Madina97294", "~SpartanD", CHOCO], MADINA: []}


def test_friends_file_with_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write_friends(AppRoot(tmp_path), {ME: ["Chocoboflor"]}, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert load_friends_config(path) == {ME: ["Chocoboflor"]}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (f'{{"{ME}": ["Madina97294", "Choco', "invalid JSON"),
        ("", "invalid JSON"),
        ('["Madina97294", "Chocoboflor"]', "got a list"),
        ('"Madina97294"', "got a string"),
        (f'{{"{ME}": "Madina97294"}}', "must be a list of gamertags or xuids, got a string"),
        (f'{{"{ME}": null}}', "got null"),
        (f'{{"{ME}": {{"friend": "Madina97294"}}}}', "got an object"),
        (f'{{"{ME}": ["Madina97294", 2533274858283686]}}', "item 2: expected a gamertag"),
        (f'{{"{ME}": [null]}}', "item 1: expected a gamertag or xuid string, got null"),
        (f'{{"{ME}": [["Madina97294"]]}}', "got a list"),
        (f'{{"{ME}": [true]}}', "got a boolean"),
        (f'{{"{ME}": ["  "]}}', "item 1 is blank"),
        (f'{{"{ME}": ["Madina97294", "~"]}}', "item 2 is blank"),
        ('{"JGtm": ["Madina97294"]}', "'JGtm' is not a player xuid"),
        (f'{{"{ME}": ["A"], "{ME}": ["B"]}}', "appears twice"),
    ],
)
def test_malformed_friends_file_names_the_file_and_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = write_friends(AppRoot(tmp_path), content)
    with pytest.raises(ConfigFileError) as error:
        load_friends_config(path)
    message = str(error.value)
    assert str(path) in message
    assert "friends_defaults.json" in message
    assert problem in message


def test_friends_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = write_friends(AppRoot(tmp_path), "")
    path.write_bytes(b'{"1": ["\xe9"]}')
    with pytest.raises(ConfigFileError, match=r"friends_defaults\.json: cannot be read"):
        load_friends_config(path)


def test_malformed_friends_file_stops_resolution_instead_of_falling_back(tmp_path: Path) -> None:
    root, player = make_player(
        tmp_path, participants=same_team("m1", 0, ME, MADINA), aggregate=[(CHOCO, "Choco", 9)]
    )
    write_friends(root, f'{{"{ME}": "Madina97294"}}')
    with pytest.raises(ConfigFileError, match=r"friends_defaults\.json"):
        resolve_friends(root, player)


# --- the player's xuid ------------------------------------------------------------------


def test_player_xuid_comes_from_the_profile_first(tmp_path: Path) -> None:
    _, player = make_player(tmp_path, aliases=[("999", "JGtm")])
    with open_player_db(player.db_path, read_only=True) as con:
        assert resolve_player_xuid([con], player) == ME


def test_player_xuid_falls_back_to_xuid_aliases_case_insensitively(tmp_path: Path) -> None:
    _, player = make_player(
        tmp_path, profile_xuid=None, gamertag="jgtm", aliases=[(ME, "JGtm"), (MADINA, "Madina")]
    )
    with open_player_db(player.db_path, read_only=True) as con:
        assert resolve_player_xuid([con], player) == ME


def test_player_xuid_prefers_the_exact_spelling_when_aliases_disagree(tmp_path: Path) -> None:
    _, player = make_player(
        tmp_path, profile_xuid=None, aliases=[("1", "jgtm"), (ME, "JGtm"), ("3", "JGTM")]
    )
    with open_player_db(player.db_path, read_only=True) as con:
        assert resolve_player_xuid([con], player) == ME


def test_player_xuid_is_unknown_without_profile_or_alias(tmp_path: Path) -> None:
    _, player = make_player(tmp_path, profile_xuid=None)
    with open_player_db(player.db_path, read_only=True) as con:
        assert resolve_player_xuid([con], player) is None


# --- friends from the config ------------------------------------------------------------


def test_gamertags_resolve_case_insensitively_through_xuid_aliases(tmp_path: Path) -> None:
    root, player = make_player(
        tmp_path, aliases=[(ME, "JGtm"), (MADINA, "Madina97294"), (CHOCO, "Chocoboflor")]
    )
    write_friends(root, {ME: ["madina97294", " CHOCOBOFLOR "]})
    assert resolve_friends(root, player) == FriendsResolution(
        player_xuid=ME,
        xuids=frozenset({MADINA, CHOCO}),
        gamertags={MADINA: "Madina97294", CHOCO: "Chocoboflor"},
        source=FriendsSource.CONFIG,
        unresolved=(),
        inactive=(),
    )


def test_each_gamertag_of_an_entry_gets_its_own_best_alias(tmp_path: Path) -> None:
    """The names are looked up together: each still prefers its exact spelling, then the
    smallest xuid (as text), among the rows that match it alone."""
    root, player = make_player(
        tmp_path,
        aliases=[
            (ME, "JGtm"),
            ("1", "madina97294"),
            (MADINA, "Madina97294"),
            ("20", "chocoboflor"),
            (CHOCO, "ChocoboFlor"),
        ],
    )
    write_friends(root, {ME: ["Madina97294", "CHOCOBOFLOR"]})
    assert resolve_friends(root, player).xuids == {MADINA, "20"}


def test_gamertags_resolve_through_teammates_aggregate_when_aliases_are_missing(
    tmp_path: Path,
) -> None:
    root, player = make_player(tmp_path, aggregate=[(DAEMON, "XxDaemonGamerxX", 0)])
    write_friends(root, {ME: ["xxdaemongamerxx"]})
    resolution = resolve_friends(root, player)
    assert resolution.xuids == {DAEMON}
    assert resolution.gamertags == {DAEMON: "XxDaemonGamerxX"}
    assert resolution.source is FriendsSource.CONFIG


def test_xuid_aliases_win_over_teammates_aggregate(tmp_path: Path) -> None:
    root, player = make_player(
        tmp_path,
        aliases=[(MADINA, "Madina97294")],
        aggregate=[(RANDOM, "madina97294", 5), (CHOCO, "Chocoboflor", 3)],
    )
    write_friends(root, {ME: ["Madina97294", "chocoboflor"]})
    assert resolve_friends(root, player).xuids == {MADINA, CHOCO}


@pytest.mark.parametrize(
    "tables",
    [
        {"aliases": [(MADINA, "Madina97294")]},
        {"participants": same_team("m1", 1, ME, MADINA)},
        {"aggregate": [(MADINA, None, 1)]},
        {"signatures": [None, "", f"{CHOCO} , {MADINA} "]},
    ],
    ids=["xuid_aliases", "match_participants", "teammates_aggregate", "teammates_signature"],
)
def test_xuid_items_count_when_known_anywhere_in_the_file(
    tmp_path: Path, tables: dict[str, object]
) -> None:
    root, player = make_player(tmp_path, **tables)
    write_friends(root, {ME: [MADINA, DAEMON]})
    resolution = resolve_friends(root, player)
    assert resolution.xuids == {MADINA}
    assert resolution.source is FriendsSource.CONFIG
    assert resolution.unresolved == (DAEMON,)


def test_xuid_item_in_a_file_without_any_lookup_table_is_unresolved(tmp_path: Path) -> None:
    root, player = make_player(tmp_path)
    write_friends(root, {ME: [MADINA]})
    resolution = resolve_friends(root, player)
    assert resolution.unresolved == (MADINA,)
    assert resolution.source is FriendsSource.NONE


def test_an_all_digit_item_unknown_as_xuid_is_tried_as_a_gamertag(tmp_path: Path) -> None:
    root, player = make_player(tmp_path, aliases=[(MADINA, "1337")])
    write_friends(root, {ME: ["1337"]})
    assert resolve_friends(root, player).xuids == {MADINA}


def test_inactive_items_are_ignored_and_reported(tmp_path: Path) -> None:
    root, player = make_player(
        tmp_path, aliases=[(MADINA, "Madina97294"), (CHOCO, "Chocoboflor"), (DAEMON, "SpartanD")]
    )
    write_friends(root, {ME: ["Madina97294", "~SpartanD", f"~{CHOCO}", " ~ Ghost "]})
    resolution = resolve_friends(root, player)
    assert resolution.xuids == {MADINA}
    assert resolution.inactive == ("SpartanD", CHOCO, "Ghost")
    assert resolution.unresolved == ()


def test_unknown_items_are_reported_in_file_order_and_never_fatal(tmp_path: Path) -> None:
    root, player = make_player(tmp_path, aliases=[(MADINA, "Madina97294")])
    write_friends(root, {ME: ["Nobody", "Madina97294", "999", "Nobody", "Ghost"]})
    resolution = resolve_friends(root, player)
    assert resolution.xuids == {MADINA}
    assert resolution.source is FriendsSource.CONFIG
    assert resolution.unresolved == ("Nobody", "999", "Ghost")


def test_the_player_is_never_its_own_friend(tmp_path: Path) -> None:
    root, player = make_player(tmp_path, aliases=[(ME, "JGtm"), (MADINA, "Madina97294")])
    write_friends(root, {ME: ["jgtm", ME, "Madina97294"]})
    resolution = resolve_friends(root, player)
    assert resolution.xuids == {MADINA}
    assert resolution.unresolved == ()


def test_entry_is_found_through_the_xuid_from_xuid_aliases(tmp_path: Path) -> None:
    root, player = make_player(
        tmp_path, profile_xuid=None, aliases=[(ME, "JGtm"), (MADINA, "Madina97294")]
    )
    write_friends(root, {MADINA: ["JGtm"], ME: ["Madina97294"]})
    resolution = resolve_friends(root, player)
    assert resolution.player_xuid == ME
    assert resolution.xuids == {MADINA}


def test_friends_config_given_by_the_caller_replaces_the_file(tmp_path: Path) -> None:
    root, player = make_player(tmp_path, aliases=[(MADINA, "Madina97294"), (CHOCO, "Choco")])
    write_friends(root, "{broken")
    resolution = resolve_friends(root, player, {ME: ["Choco"]})
    assert resolution.xuids == {CHOCO}


# --- top-2 fallbacks --------------------------------------------------------------------


def _busy_history() -> list[Participant]:
    """CHOCO shares the player's team in 3 matches, MADINA and DAEMON in 2 each (tie),
    RANDOM in 1 but is an opponent in 4 more; NULL teams never count."""
    return [
        *same_team("m1", 0, ME, CHOCO, MADINA),
        *same_team("m1", 1, RANDOM),
        *same_team("m2", 0, ME, CHOCO, DAEMON),
        *same_team("m2", 1, RANDOM),
        *same_team("m3", 1, ME, CHOCO, RANDOM),
        *same_team("m3", 0, MADINA),
        *same_team("m4", 0, ME, MADINA, DAEMON),
        *same_team("m4", 1, RANDOM),
        *same_team("m5", None, ME, RANDOM),
        *same_team("m6", 1, RANDOM),
        *same_team("m6", 0, ME),
    ]


def test_no_entry_uses_the_top_two_same_team_teammates_ties_by_xuid(tmp_path: Path) -> None:
    root, player = make_player(
        tmp_path,
        participants=_busy_history(),
        aliases=[(CHOCO, "Chocoboflor"), (MADINA, "Madina97294"), (DAEMON, "XxDaemonGamerxX")],
        aggregate=[(RANDOM, "Random", 50)],
    )
    write_friends(root, {MADINA: ["JGtm"]})
    resolution = resolve_friends(root, player)
    assert DAEMON < MADINA
    assert resolution == FriendsResolution(
        player_xuid=ME,
        xuids=frozenset({CHOCO, DAEMON}),
        gamertags={CHOCO: "Chocoboflor", DAEMON: "XxDaemonGamerxX"},
        source=FriendsSource.TOP2,
        unresolved=(),
        inactive=(),
    )


def test_a_full_tie_keeps_the_two_smallest_xuids(tmp_path: Path) -> None:
    root, player = make_player(
        tmp_path,
        participants=[
            *same_team("m1", 0, ME, "30"),
            *same_team("m2", 0, ME, "10"),
            *same_team("m3", 0, ME, "20"),
        ],
    )
    assert resolve_friends(root, player).xuids == {"10", "20"}


def test_nothing_resolved_in_the_entry_falls_back_to_top_two(tmp_path: Path) -> None:
    root, player = make_player(tmp_path, participants=same_team("m1", 0, ME, MADINA))
    write_friends(root, {ME: ["Nobody", "~Madina97294"]})
    resolution = resolve_friends(root, player)
    assert resolution.source is FriendsSource.TOP2
    assert resolution.xuids == {MADINA}
    assert resolution.unresolved == ("Nobody",)
    assert resolution.inactive == ("Madina97294",)


def test_empty_entry_falls_back_to_top_two(tmp_path: Path) -> None:
    root, player = make_player(tmp_path, participants=same_team("m1", 0, ME, MADINA))
    write_friends(root, {ME: []})
    assert resolve_friends(root, player).source is FriendsSource.TOP2


def make_shared(root: AppRoot, **tables: Any) -> Path:
    return make_db(root.warehouse_db, **tables)


@pytest.mark.parametrize("participants", [None, [], same_team("m1", 0, MADINA, CHOCO)])
def test_shared_warehouse_is_used_when_the_player_file_has_no_teammate(
    tmp_path: Path, participants: list[Participant] | None
) -> None:
    root, player = make_player(
        tmp_path,
        participants=participants,
        aliases=[(DAEMON, "XxDaemonGamerxX")],
        aggregate=[(RANDOM, "Random", 50)],
    )
    make_shared(
        root,
        participants=[
            *same_team("s1", 0, ME, DAEMON, CHOCO),
            *same_team("s2", 1, ME, DAEMON, CHOCO),
            *same_team("s3", 0, ME, MADINA),
            *same_team("s3", 1, RANDOM),
        ],
        aliases=[(DAEMON, "OldDaemonName"), (CHOCO, "Chocoboflor")],
    )
    resolution = resolve_friends(root, player)
    assert resolution.source is FriendsSource.TOP2
    assert resolution.xuids == {DAEMON, CHOCO}
    # The player's own file names first; the warehouse fills in what it does not know.
    assert resolution.gamertags == {DAEMON: "XxDaemonGamerxX", CHOCO: "Chocoboflor"}


@pytest.mark.parametrize("name", ["shared_matches.duckdb", "shared_matches_v2.duckdb"])
def test_the_warehouse_is_read_under_its_older_name_too(tmp_path: Path, name: str) -> None:
    root, player = make_player(tmp_path, participants=[])
    make_db(root.warehouse_dir / name, participants=same_team("s1", 0, ME, CHOCO))
    assert resolve_friends(root, player).xuids == {CHOCO}


@pytest.mark.parametrize(
    "shared_tables",
    [None, {}, {"participants": []}, {"participants": same_team("s1", 0, MADINA, CHOCO)}],
    ids=["no-warehouse", "no-table", "empty-table", "player-absent"],
)
def test_teammates_aggregate_is_used_when_the_warehouse_has_no_teammate(
    tmp_path: Path, shared_tables: dict[str, object] | None
) -> None:
    root, player = make_player(
        tmp_path,
        participants=[],
        aggregate=[
            (ME, "JGtm", 99),
            (RANDOM, "Random", 0),
            ("30", "Thirty", 4),
            ("20", "Twenty", 7),
            ("10", None, 4),
            ("40", "Forty", None),
        ],
    )
    if shared_tables is not None:
        make_shared(root, **shared_tables)
    resolution = resolve_friends(root, player)
    assert resolution.source is FriendsSource.TOP2
    assert resolution.xuids == {"20", "10"}
    assert resolution.gamertags == {"20": "Twenty"}


def test_without_a_player_xuid_only_teammates_aggregate_can_answer(tmp_path: Path) -> None:
    root, player = make_player(
        tmp_path,
        profile_xuid=None,
        participants=same_team("m1", 0, ME, MADINA),
        aggregate=[(CHOCO, "Chocoboflor", 2)],
    )
    make_shared(root, participants=same_team("s1", 0, ME, DAEMON))
    write_friends(root, {ME: ["Chocoboflor"]})
    resolution = resolve_friends(root, player)
    assert resolution.player_xuid is None
    assert resolution.source is FriendsSource.TOP2
    assert resolution.xuids == {CHOCO}


@pytest.mark.parametrize("profile_xuid", [ME, None])
def test_nothing_anywhere_gives_the_empty_set(tmp_path: Path, profile_xuid: str | None) -> None:
    root, player = make_player(
        tmp_path,
        profile_xuid=profile_xuid,
        participants=same_team("m1", 0, ME),
        aggregate=[],
        signatures=[None],
    )
    make_shared(root)
    assert resolve_friends(root, player) == FriendsResolution(
        player_xuid=profile_xuid,
        xuids=frozenset(),
        gamertags={},
        source=FriendsSource.NONE,
        unresolved=(),
        inactive=(),
    )


def test_a_file_without_any_table_gives_the_empty_set(tmp_path: Path) -> None:
    root, player = make_player(tmp_path, profile_xuid=None)
    write_friends(root, {ME: ["Madina97294"]})
    resolution = resolve_friends(root, player)
    assert resolution.source is FriendsSource.NONE
    assert resolution.xuids == frozenset()


def test_a_player_whose_file_vanished_is_not_found(tmp_path: Path) -> None:
    root, player = make_player(tmp_path)
    player.db_path.unlink()
    with pytest.raises(PlayerNotFoundError):
        resolve_friends(root, player)


def test_every_file_is_closed_after_resolution(tmp_path: Path) -> None:
    root, player = make_player(tmp_path, participants=[], aggregate=[(MADINA, "M", 1)])
    make_shared(root, participants=same_team("s1", 0, ME, CHOCO))
    assert resolve_friends(root, player).xuids == {CHOCO}
    # DuckDB refuses a read-write open of a file this process still holds read-only.
    for path in (player.db_path, root.warehouse_db):
        with open_player_db(path, read_only=False, lock_timeout_seconds=0.1) as con:
            con.sql("CREATE TABLE touched (x INTEGER)")
