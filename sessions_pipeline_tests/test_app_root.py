"""The app root: player discovery, profiles, and refusing gamertags that escape the root."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from sessions_pipeline.app_root import AppRoot, Player, validate_gamertag
from sessions_pipeline.errors import (
    ConfigFileError,
    PlayerNotFoundError,
    SessionsPipelineError,
    UnsafeGamertagError,
)


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
    assert root.shared_matches_db == tmp_path / "data" / "warehouse" / "shared_matches.duckdb"


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
