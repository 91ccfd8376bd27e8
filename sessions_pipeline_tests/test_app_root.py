"""The app root: player discovery, profiles, and refusing gamertags that escape the root."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from pathlib import Path

import duckdb
import pytest

from sessions_pipeline.entry_points.cli import main
from sessions_pipeline.errors import (
    ConfigFileError,
    PlayerNotFoundError,
    SessionsPipelineError,
    TitleError,
    UnsafeGamertagError,
    WarehouseNotFoundError,
)
from sessions_pipeline.levelup.app_root import (
    AppRoot,
    Player,
    validate_gamertag,
    validate_title,
    warehouse_path,
)
from sessions_pipeline_tests.levelup_files import make_player_file, matches_at


def make_player_db(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.sql("CREATE TABLE match_stats (match_id VARCHAR, start_time TIMESTAMP)")
    finally:
        con.close()
    return path


def write_profiles(root: Path, profiles: object) -> None:
    (root / "db_profiles.json").write_text(json.dumps({"profiles": profiles}), encoding="utf-8")


@pytest.mark.parametrize(
    "name", ["JGtm", "Major Nelson", "XxDaemonGamerxX", "Ñandú 97", "a..b", "~tilde"]
)
def test_ordinary_gamertags_are_accepted_unchanged(name: str) -> None:
    assert validate_gamertag(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "   ", ".", "..", "...", ".. ", " . ", "a/b", "/abs", "../x", "a\\b", "..\\x",
     "\x00", "a\x00b", "a\nb", "tab\there", "del\x7f", "C:x", "line\u2028sep"],
)  # fmt: skip
def test_gamertags_that_could_escape_the_root_are_refused(name: str) -> None:
    with pytest.raises(UnsafeGamertagError):
        validate_gamertag(name)


def test_a_non_string_gamertag_is_refused() -> None:
    with pytest.raises(UnsafeGamertagError, match="string"):
        validate_gamertag(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["..", "a/b", "a\\b", "\x00", "", "a" * 10_240, "é" * 128])
def test_player_refuses_unsafe_names_before_reading_any_file(tmp_path: Path, name: str) -> None:
    # A broken profiles file would raise ConfigFileError if it were read first.
    (tmp_path / "db_profiles.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UnsafeGamertagError):
        AppRoot(tmp_path).player(name)


def test_root_files_are_where_levelup_keeps_them(tmp_path: Path) -> None:
    root = AppRoot(tmp_path)
    assert root.profiles_file == tmp_path / "db_profiles.json"
    assert root.friends_file == tmp_path / ".streamlit" / "friends_defaults.json"
    assert root.players_dir == tmp_path / "data" / "players"
    assert root.warehouse_dir == tmp_path / "data" / "warehouse"
    # With no warehouse yet: the file LevelUp's sync would create.
    assert root.warehouse_db == tmp_path / "data" / "warehouse" / "shared_matches_v2.duckdb"


def test_from_env_uses_sessions_pipeline_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONS_PIPELINE_HOME", str(tmp_path))
    assert AppRoot.from_env().path == tmp_path


def test_from_env_defaults_to_the_current_directory_as_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SESSIONS_PIPELINE_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    root = AppRoot.from_env()
    assert root.path.is_absolute()
    assert root.path.resolve() == tmp_path.resolve()


def test_from_env_relative_home_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "levelup").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SESSIONS_PIPELINE_HOME", "levelup")
    root = AppRoot.from_env()
    assert root.path.is_absolute()
    assert root.path.resolve() == (tmp_path / "levelup").resolve()


def test_from_env_refuses_a_home_that_is_not_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONS_PIPELINE_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(SessionsPipelineError, match="SESSIONS_PIPELINE_HOME"):
        AppRoot.from_env()


def test_empty_root_has_no_players(tmp_path: Path) -> None:
    root = AppRoot(tmp_path)
    assert root.gamertags() == []
    assert root.players() == []


def test_players_are_discovered_from_folders_without_a_profile(tmp_path: Path) -> None:
    db = make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    (tmp_path / "data" / "players" / "EmptyFolder").mkdir()
    (tmp_path / "data" / "players" / "NotAFolder").write_text("", encoding="utf-8")
    root = AppRoot(tmp_path)
    assert root.gamertags() == ["JGtm"]
    assert root.player("JGtm") == Player("JGtm", db, None)
    assert root.players() == [Player("JGtm", db, None)]


def test_folders_whose_name_is_not_a_safe_gamertag_are_not_players(tmp_path: Path) -> None:
    # Discovery only looks for the file; DuckDB itself would read '\\' as a separator.
    for unsafe in ("back\\slash", "bell\x07"):
        (tmp_path / "data" / "players" / unsafe).mkdir(parents=True)
        (tmp_path / "data" / "players" / unsafe / "stats.duckdb").write_bytes(b"")
    make_player_db(tmp_path / "data" / "players" / "Ok" / "stats.duckdb")
    assert AppRoot(tmp_path).gamertags() == ["Ok"]


def test_profile_with_relative_db_path_is_relative_to_the_root(tmp_path: Path) -> None:
    db = make_player_db(tmp_path / "dbs" / "jg.duckdb")
    write_profiles(tmp_path, {"JGtm": {"db_path": "dbs/jg.duckdb", "xuid": "2533274823110022"}})
    assert AppRoot(tmp_path).player("JGtm") == Player("JGtm", db, "2533274823110022")


def test_profile_with_absolute_db_path_is_used_as_is(tmp_path: Path) -> None:
    db = make_player_db(tmp_path / "elsewhere" / "madina.duckdb")
    root_dir = tmp_path / "root"
    root_dir.mkdir()
    write_profiles(root_dir, {"Madina97294": {"db_path": str(db), "xuid": "2533274858283686"}})
    player = AppRoot(root_dir).player("Madina97294")
    assert player.db_path == db
    assert player.profile_xuid == "2533274858283686"


def test_profile_without_db_path_uses_the_player_folder(tmp_path: Path) -> None:
    db = make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    write_profiles(tmp_path, {"JGtm": {"xuid": "42"}})
    assert AppRoot(tmp_path).player("JGtm") == Player("JGtm", db, "42")


def test_profile_keeps_levelups_other_keys_and_accepts_a_bom(tmp_path: Path) -> None:
    make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    document = {
        "version": "2.1",
        "profiles": {
            "JGtm": {
                "xuid": 2533274823110022,
                "gamertag": "JGtm",
                "db_path": "data/players/JGtm/stats.duckdb",
                "is_default": True,
            }
        },
    }
    (tmp_path / "db_profiles.json").write_text(json.dumps(document), encoding="utf-8-sig")
    assert AppRoot(tmp_path).player("JGtm").profile_xuid == "2533274823110022"


@pytest.mark.parametrize("xuid", [None, ""])
def test_profile_without_xuid_leaves_it_to_the_db(tmp_path: Path, xuid: object) -> None:
    make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    write_profiles(tmp_path, {"JGtm": {"xuid": xuid}})
    assert AppRoot(tmp_path).player("JGtm").profile_xuid is None


def test_profile_and_folder_of_the_same_player_are_listed_once(tmp_path: Path) -> None:
    make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    make_player_db(tmp_path / "data" / "players" / "Chocoboflor" / "stats.duckdb")
    custom = make_player_db(tmp_path / "custom.duckdb")
    write_profiles(tmp_path, {"JGtm": {"db_path": "custom.duckdb"}, "Madina97294": {}})
    root = AppRoot(tmp_path)
    assert root.gamertags() == ["Chocoboflor", "JGtm", "Madina97294"]
    assert root.player("JGtm").db_path == custom


def test_profile_pointing_at_a_missing_file_is_listed_but_not_found(tmp_path: Path) -> None:
    make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    write_profiles(tmp_path, {"Ghost": {"db_path": "data/players/Ghost/stats.duckdb"}})
    root = AppRoot(tmp_path)
    assert root.gamertags() == ["Ghost", "JGtm"]
    with pytest.raises(PlayerNotFoundError) as error:
        root.player("Ghost")
    assert "Ghost" in str(error.value)
    assert str(tmp_path / "data" / "players" / "Ghost" / "stats.duckdb") in str(error.value)
    assert [player.gamertag for player in root.players()] == ["JGtm"]


def test_unknown_player_is_not_found_naming_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(PlayerNotFoundError) as error:
        AppRoot(tmp_path).player("Nobody")
    message = str(error.value)
    assert "Nobody" in message
    assert str(tmp_path / "data" / "players" / "Nobody" / "stats.duckdb") in message


def test_player_name_matches_case_insensitively_and_keeps_its_spelling(tmp_path: Path) -> None:
    db = make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    write_profiles(tmp_path, {"Chocoboflor": {"db_path": str(db), "xuid": "7"}})
    root = AppRoot(tmp_path)
    assert root.player("jgtm") == Player("JGtm", db, None)
    assert root.player("CHOCOBOFLOR") == Player("Chocoboflor", db, "7")


def test_ambiguous_case_insensitive_name_needs_the_exact_spelling(tmp_path: Path) -> None:
    lower = make_player_db(tmp_path / "data" / "players" / "abc" / "stats.duckdb")
    upper = make_player_db(tmp_path / "data" / "players" / "ABC" / "stats.duckdb")
    root = AppRoot(tmp_path)
    assert root.player("abc").db_path == lower
    assert root.player("ABC").db_path == upper
    with pytest.raises(PlayerNotFoundError):
        root.player("Abc")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"profiles": {"JGtm": {"db_path": "x"', "invalid JSON"),
        ("[]", "got a list"),
        ('{"version": "2.1"}', "no 'profiles' key"),
        ('{"profiles": ["JGtm"]}', "found a list"),
        ('{"profiles": {"JGtm": "data/players/JGtm"}}', "'JGtm' must be an object"),
        ('{"profiles": {"JGtm": {"db_path": 3}}}', "'db_path' must be a non-empty string"),
        ('{"profiles": {"JGtm": {"db_path": ""}}}', "'db_path' must be a non-empty string"),
        ('{"profiles": {"JGtm": {"xuid": "abc"}}}', "'xuid' must be digits"),
        ('{"profiles": {"JGtm": {"xuid": true}}}', "'xuid' must be digits"),
        ('{"profiles": {"../evil": {}}}', "profile key refused"),
        ('{"profiles": {"JGtm": {}, "JGtm": {}}}', "appears twice"),
    ],
)
def test_malformed_profiles_file_names_the_file_and_the_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    (tmp_path / "db_profiles.json").write_text(content, encoding="utf-8")
    root = AppRoot(tmp_path)
    for call in (root.gamertags, root.players, lambda: root.player("JGtm")):
        with pytest.raises(ConfigFileError) as error:
            call()
        assert str(tmp_path / "db_profiles.json") in str(error.value)
        assert problem in str(error.value)


def test_profiles_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "db_profiles.json").write_bytes(b'{"profiles": {"\xff": {}}}')
    with pytest.raises(ConfigFileError, match="cannot be read"):
        AppRoot(tmp_path).gamertags()


# Multi-title roots (LevelUp's Go era): data/titles/<slug>/{players,warehouse}/ and
# db_profiles.json v3, one title served at a time.

MCC_XUID = "2533274800000000"


def write_profiles_v3(root: Path, profiles: object, version: object = "3.0") -> None:
    document = {"version": version, "profiles": profiles}
    (root / "db_profiles.json").write_text(json.dumps(document), encoding="utf-8")


def title_player(root: Path, title: str, gamertag: str) -> Path:
    return root / "data" / "titles" / title / "players" / gamertag / "stats.duckdb"


def make_multi_title_root(root: Path) -> Path:
    """Halo Infinite and MCC players, by folder and by v3 profile, plus a classic
    data/players/ left over from before the move (no title's any more)."""
    make_player_db(title_player(root, "halo_infinite", "JGtm"))
    make_player_db(title_player(root, "halo_mcc", "MccFolder"))
    make_player_db(title_player(root, "halo_mcc", "MonGamertag"))
    make_player_db(root / "dbs" / "profiled.duckdb")
    make_player_db(root / "data" / "players" / "Leftover" / "stats.duckdb")
    write_profiles_v3(
        root,
        {
            "halo_infinite": {"Profiled": {"db_path": "dbs/profiled.duckdb", "xuid": "1"}},
            "halo_mcc": {
                "MonGamertag": {
                    "db_path": "data/titles/halo_mcc/players/MonGamertag/stats.duckdb",
                    "xuid": MCC_XUID,
                    "waypoint_player": "MonGamertag",
                }
            },
        },
    )
    return root


@pytest.mark.parametrize("title", ["halo_infinite", "halo_mcc", "halo_5", "x", "a" * 255])
def test_title_slugs_are_accepted(title: str) -> None:
    assert validate_title(title) == title
    assert AppRoot(Path("/root"), title).title == title


@pytest.mark.parametrize(
    "title", ["", "Halo", "halo-5", "halo 5", "../x", "a/b", ".", "é", "halo\n", "a" * 256]
)
def test_a_title_that_is_no_slug_is_refused(title: str) -> None:
    with pytest.raises(TitleError, match="not a title slug"):
        AppRoot(Path("/root"), title)


def test_a_classic_root_serves_halo_infinite_by_default(tmp_path: Path) -> None:
    root = AppRoot(tmp_path)
    assert root.title == "halo_infinite"
    assert root.titles() == ["halo_infinite"]
    assert root.require_title() is root


def test_each_title_lists_only_its_own_players(tmp_path: Path) -> None:
    make_multi_title_root(tmp_path)
    halo, mcc = AppRoot(tmp_path), AppRoot(tmp_path, "halo_mcc")

    assert halo.gamertags() == ["JGtm", "Profiled"]
    assert mcc.gamertags() == ["MccFolder", "MonGamertag"]
    assert [player.gamertag for player in mcc.players()] == ["MccFolder", "MonGamertag"]
    with pytest.raises(PlayerNotFoundError) as error:
        halo.player("MccFolder")
    assert str(title_player(tmp_path, "halo_infinite", "MccFolder")) in str(error.value)
    with pytest.raises(PlayerNotFoundError):
        mcc.player("JGtm")
    # The classic folder is no title's once the root has data/titles/halo_infinite/.
    with pytest.raises(PlayerNotFoundError):
        halo.player("Leftover")


def test_a_titles_folders_and_profiles_give_its_players(tmp_path: Path) -> None:
    make_multi_title_root(tmp_path)
    halo, mcc = AppRoot(tmp_path), AppRoot(tmp_path, "halo_mcc")

    assert halo.players_dir == tmp_path / "data" / "titles" / "halo_infinite" / "players"
    assert mcc.players_dir == tmp_path / "data" / "titles" / "halo_mcc" / "players"
    assert mcc.warehouse_dir == tmp_path / "data" / "titles" / "halo_mcc" / "warehouse"
    # A relative db_path is relative to the root, not to the title's folder.
    assert halo.player("Profiled") == Player("Profiled", tmp_path / "dbs" / "profiled.duckdb", "1")
    assert mcc.player("mongamertag") == Player(
        "MonGamertag", title_player(tmp_path, "halo_mcc", "MonGamertag"), MCC_XUID
    )
    assert mcc.player("MccFolder") == Player(
        "MccFolder", title_player(tmp_path, "halo_mcc", "MccFolder"), None
    )


def test_a_v3_profile_without_db_path_uses_its_titles_player_folder(tmp_path: Path) -> None:
    db = make_player_db(title_player(tmp_path, "halo_mcc", "G"))
    write_profiles_v3(tmp_path, {"halo_mcc": {"G": {"xuid": "7"}}})
    assert AppRoot(tmp_path, "halo_mcc").player("G") == Player("G", db, "7")


def test_halo_infinite_without_a_title_folder_is_the_classic_layout(tmp_path: Path) -> None:
    classic = make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    make_player_db(title_player(tmp_path, "halo_mcc", "G"))
    root = AppRoot(tmp_path)
    assert root.players_dir == tmp_path / "data" / "players"
    assert root.warehouse_dir == tmp_path / "data" / "warehouse"
    assert root.players() == [Player("JGtm", classic, None)]
    assert AppRoot(tmp_path, "halo_mcc").gamertags() == ["G"]


def test_a_title_known_only_by_profiles_takes_no_classic_folder(tmp_path: Path) -> None:
    make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    db = make_player_db(tmp_path / "mcc.duckdb")
    write_profiles_v3(tmp_path, {"halo_mcc": {"G": {"db_path": "mcc.duckdb"}}})
    mcc = AppRoot(tmp_path, "halo_mcc").require_title()
    assert mcc.players() == [Player("G", db, None)]
    assert mcc.players_dir == tmp_path / "data" / "titles" / "halo_mcc" / "players"


def test_the_titles_of_a_root_are_its_folders_and_profiled_titles(tmp_path: Path) -> None:
    make_multi_title_root(tmp_path)
    (tmp_path / "data" / "titles" / "halo_5").mkdir()
    (tmp_path / "data" / "titles" / "Not A Slug").mkdir()
    (tmp_path / "data" / "titles" / "notes.txt").write_text("", encoding="utf-8")
    make_player_db(tmp_path / "reach.duckdb")
    profiles = json.loads((tmp_path / "db_profiles.json").read_text(encoding="utf-8"))
    profiles["profiles"]["halo_reach"] = {"R": {"db_path": "reach.duckdb"}}
    profiles["profiles"]["halo_2"] = {}  # a title with no profile is not one
    (tmp_path / "db_profiles.json").write_text(json.dumps(profiles), encoding="utf-8")

    titles = ["halo_5", "halo_infinite", "halo_mcc", "halo_reach"]
    assert AppRoot(tmp_path).titles() == titles
    assert AppRoot(tmp_path, "halo_reach").require_title().gamertags() == ["R"]


def test_a_flat_profiles_file_is_all_halo_infinite(tmp_path: Path) -> None:
    make_player_db(title_player(tmp_path, "halo_mcc", "MccFolder"))
    make_player_db(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    document = {"version": "2.1", "profiles": {"JGtm": {"xuid": "42"}}}
    (tmp_path / "db_profiles.json").write_text(json.dumps(document), encoding="utf-8")

    assert AppRoot(tmp_path).player("JGtm").profile_xuid == "42"
    assert AppRoot(tmp_path, "halo_mcc").gamertags() == ["MccFolder"]
    assert AppRoot(tmp_path).titles() == ["halo_infinite", "halo_mcc"]


@pytest.mark.parametrize("version", ["3", "3.00", " 3.0", "v3", 3.0, 3, None, "2.1"])
def test_only_the_exact_version_string_3_0_nests_profiles_by_title(
    tmp_path: Path, version: object
) -> None:
    # As LevelUp's Go config reads it: a v3 file of any other version is flat, its title
    # slugs become gamertags, and MCC has no profile.
    make_player_db(title_player(tmp_path, "halo_mcc", "MonGamertag"))
    write_profiles_v3(tmp_path, {"halo_mcc": {"MonGamertag": {"xuid": MCC_XUID}}}, version)

    assert AppRoot(tmp_path).gamertags() == ["halo_mcc"]
    assert AppRoot(tmp_path, "halo_mcc").player("MonGamertag").profile_xuid is None


@pytest.mark.parametrize(
    ("profiles", "problem"),
    [
        ([], "'profiles' must be an object, found a list"),
        ({"halo_mcc": []}, "title 'halo_mcc' must be an object of profiles, got a list"),
        ({"halo_mcc": None}, "title 'halo_mcc' must be an object of profiles, got null"),
        ({"Halo MCC": {}}, "title key refused: title 'Halo MCC' is not a title slug"),
        ({"halo_mcc": {"G": "x"}}, "title 'halo_mcc': profile 'G' must be an object"),
        (
            {"halo_mcc": {"G": {"db_path": 3}}},
            "title 'halo_mcc': profile 'G': 'db_path' must be a non-empty string",
        ),
        ({"halo_mcc": {"G": {"xuid": "abc"}}}, "title 'halo_mcc': profile 'G': 'xuid' must be"),
        ({"halo_mcc": {"../evil": {}}}, "title 'halo_mcc': profile key refused"),
    ],
)
def test_a_malformed_v3_file_names_the_file_the_title_and_the_profile(
    tmp_path: Path, profiles: object, problem: str
) -> None:
    write_profiles_v3(tmp_path, profiles)
    # The whole file is validated, whichever title is served.
    for root in (AppRoot(tmp_path), AppRoot(tmp_path, "halo_mcc")):
        for call in (root.gamertags, root.players, partial(root.player, "G")):
            with pytest.raises(ConfigFileError) as error:
                call()
            assert str(tmp_path / "db_profiles.json") in str(error.value)
            assert problem in str(error.value)


# The shared warehouse, found from a player path as LevelUp finds it.

V2 = "shared_matches_v2.duckdb"
OLD = "shared_matches.duckdb"


def make_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


@pytest.mark.parametrize(
    "data_dir", [Path("data"), Path("data", "titles", "halo_mcc")], ids=["classic", "titles"]
)
@pytest.mark.parametrize(
    ("present", "found"), [([V2], V2), ([OLD], OLD), ([OLD, V2], V2)], ids=["v2", "old", "both"]
)
def test_the_warehouse_is_beside_the_players_folder(
    tmp_path: Path, data_dir: Path, present: list[str], found: str
) -> None:
    player = make_player_db(tmp_path / data_dir / "players" / "G" / "stats.duckdb")
    for name in present:
        make_file(tmp_path / data_dir / "warehouse" / name)

    assert warehouse_path(player) == tmp_path / data_dir / "warehouse" / found
    assert warehouse_path(str(player)) == tmp_path / data_dir / "warehouse" / found


@pytest.mark.parametrize(("present", "found"), [([], V2), ([OLD], OLD), ([OLD, V2], V2)])
def test_the_roots_warehouse_db_is_the_one_a_player_path_leads_to(
    tmp_path: Path, present: list[str], found: str
) -> None:
    make_player_db(title_player(tmp_path, "halo_mcc", "G"))
    root = AppRoot(tmp_path, "halo_mcc")
    for name in present:
        make_file(root.warehouse_dir / name)

    assert root.warehouse_db == root.warehouse_dir / found
    if present:
        assert warehouse_path(root.player("G").db_path) == root.warehouse_db


def test_no_warehouse_is_an_error_naming_every_path_looked_at(tmp_path: Path) -> None:
    player = make_player_db(tmp_path / "data" / "players" / "G" / "stats.duckdb")
    # Another title's warehouse is not this player's.
    make_file(tmp_path / "data" / "titles" / "halo_infinite" / "warehouse" / V2)

    with pytest.raises(WarehouseNotFoundError) as error:
        warehouse_path(player)
    message = str(error.value)
    assert isinstance(error.value, SessionsPipelineError)
    assert str(player) in message
    assert str(tmp_path / "data" / "warehouse" / V2) in message
    assert str(tmp_path / "data" / "warehouse" / OLD) in message


def test_a_player_path_outside_any_players_folder_has_no_warehouse(tmp_path: Path) -> None:
    make_file(tmp_path / "warehouse" / V2)
    player = make_player_db(tmp_path / "dbs" / "g.duckdb")
    with pytest.raises(WarehouseNotFoundError, match="'players' folder"):
        warehouse_path(player)


# Choosing the title: SESSIONS_PIPELINE_TITLE, the CLI's --title.


def test_from_env_serves_the_title_sessions_pipeline_title_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_multi_title_root(tmp_path)
    monkeypatch.setenv("SESSIONS_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("SESSIONS_PIPELINE_TITLE", "halo_mcc")
    root = AppRoot.from_env()
    assert root == AppRoot(tmp_path, "halo_mcc")
    assert root.gamertags() == ["MccFolder", "MonGamertag"]
    # A title given by the caller (the CLI's --title) wins over the variable.
    assert AppRoot.from_env("halo_infinite").gamertags() == ["JGtm", "Profiled"]


@pytest.mark.parametrize("value", [None, "", "  "])
def test_from_env_defaults_to_halo_infinite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    monkeypatch.setenv("SESSIONS_PIPELINE_HOME", str(tmp_path))
    if value is None:
        monkeypatch.delenv("SESSIONS_PIPELINE_TITLE", raising=False)
    else:
        monkeypatch.setenv("SESSIONS_PIPELINE_TITLE", value)
    assert AppRoot.from_env().title == "halo_infinite"


def test_from_env_default_title_reads_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broken profiles file is each player's error later, not the code location's.
    (tmp_path / "db_profiles.json").write_text("{not json", encoding="utf-8")
    monkeypatch.setenv("SESSIONS_PIPELINE_HOME", str(tmp_path))
    monkeypatch.delenv("SESSIONS_PIPELINE_TITLE", raising=False)
    assert AppRoot.from_env() == AppRoot(tmp_path)


@pytest.mark.parametrize("multi_title", [True, False], ids=["multi-title", "classic"])
def test_from_env_refuses_a_title_the_root_does_not_have(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, multi_title: bool
) -> None:
    if multi_title:
        make_multi_title_root(tmp_path)
    monkeypatch.setenv("SESSIONS_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("SESSIONS_PIPELINE_TITLE", "halo_5")
    with pytest.raises(TitleError) as error:
        AppRoot.from_env()
    titles = "halo_infinite, halo_mcc" if multi_title else "halo_infinite"
    assert str(error.value) == (
        f"title 'halo_5': no {tmp_path / 'data' / 'titles' / 'halo_5'} and no profile of it "
        f"in {tmp_path / 'db_profiles.json'}; the titles of {tmp_path}: {titles}"
    )


def test_from_env_refuses_a_title_that_is_no_slug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SESSIONS_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("SESSIONS_PIPELINE_TITLE", "../halo_mcc")
    with pytest.raises(TitleError, match="not a title slug"):
        AppRoot.from_env()


def make_mcc_player(root: Path, gamertag: str = "G") -> Path:
    """A v4 player file of two sessions, in the MCC title of `root`."""
    start = datetime(2026, 1, 10, 20, 0)
    return make_player_file(
        title_player(root, "halo_mcc", gamertag), matches_at(start, [0, 10, 300])
    )


@pytest.fixture
def cli_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No run lands in a real DAGSTER_HOME, no variable chooses for the test, and tables
    are wide enough not to wrap."""
    for name in ("DAGSTER_HOME", "SESSIONS_PIPELINE_HOME", "SESSIONS_PIPELINE_TITLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


@pytest.mark.usefixtures("cli_environment")
def test_show_title_serves_that_titles_player(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_mcc_player(tmp_path)

    status = main(["show", "--gamertag", "G", "--title", "halo_mcc", "--root", str(tmp_path)])

    assert status == 0
    assert "G: 2 sessions, newest first" in capsys.readouterr().out
    assert main(["show", "--gamertag", "G", "--root", str(tmp_path)]) == 1
    assert "player 'G': no profile" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_environment")
def test_the_cli_takes_the_title_from_sessions_pipeline_title(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_mcc_player(tmp_path)
    monkeypatch.setenv("SESSIONS_PIPELINE_TITLE", "halo_mcc")

    assert main(["show", "--gamertag", "G", "--root", str(tmp_path)]) == 0
    monkeypatch.setenv("SESSIONS_PIPELINE_HOME", str(tmp_path))
    assert main(["show", "--gamertag", "G"]) == 0
    assert capsys.readouterr().out.count("G: 2 sessions, newest first") == 2
    # --title wins over the variable.
    assert main(["show", "--gamertag", "G", "--title", "halo_infinite"]) == 1


@pytest.mark.usefixtures("cli_environment")
@pytest.mark.parametrize(
    ("title", "problem"),
    [("halo_5", "the titles of {root}: halo_infinite, halo_mcc"), ("Halo", "not a title slug")],
)
def test_the_cli_refuses_a_title_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], title: str, problem: str
) -> None:
    make_mcc_player(tmp_path)

    status = main(["show", "--gamertag", "G", "--title", title, "--root", str(tmp_path)])

    assert status == 1
    assert problem.format(root=tmp_path) in capsys.readouterr().err


@pytest.mark.usefixtures("cli_environment")
def test_backfill_title_stores_that_titles_player(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The Dagster job is rebuilt from (root, title) in the run: the title must reach it.
    db_path = make_mcc_player(tmp_path)

    arguments = ["backfill", "--gamertag", "G", "--title", "halo_mcc", "--root", str(tmp_path)]
    assert main(arguments) == 0

    assert "1 ok, 0 failed" in capsys.readouterr().out
    with duckdb.connect(str(db_path), read_only=True) as con:
        ids = con.sql("SELECT session_id FROM match_stats ORDER BY match_id").fetchall()
    assert [int(session_id) for (session_id,) in ids] == [0, 0, 1]
