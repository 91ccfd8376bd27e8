"""The app root: where LevelUp keeps its profiles, player files, warehouse and friends list.

Everything is read from disk on each call, never cached: sensors ask again on every tick
and must see a profile or a player folder as soon as it appears.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from sessions_pipeline.errors import (
    ConfigFileError,
    PlayerNotFoundError,
    SessionsPipelineError,
    TitleError,
    UnsafeGamertagError,
    WarehouseNotFoundError,
)

HOME_ENV_VAR = "SESSIONS_PIPELINE_HOME"
TITLE_ENV_VAR = "SESSIONS_PIPELINE_TITLE"
# LevelUp's first title: a classic root (data/players/) and a flat db_profiles.json are its.
DEFAULT_TITLE = "halo_infinite"
PLAYER_DB_NAME = "stats.duckdb"
# The name LevelUp's sync writes since v6 first, then the older one.
WAREHOUSE_DB_NAMES = ("shared_matches_v2.duckdb", "shared_matches.duckdb")
# Only this exact string nests db_profiles.json by title (LevelUp's Go config): "3", 3.0,
# "2.1" or no version at all is the flat format.
PROFILES_V3 = "3.0"

# The longest file name most file systems take; an Xbox gamertag is at most 16 characters
# (a suffix included), so anything longer is no player, and opening it would be an OSError.
MAX_NAME_BYTES = 255
# Path separators of every platform, and ':' which makes "C:x" a drive path on Windows.
_FORBIDDEN_CHARACTERS = frozenset("/\\:")
# Control characters (Cc) and line/paragraph separators: invisible in a UI, and refused
# by Dagster in partition keys.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_TITLE_SLUG = re.compile(rf"[a-z0-9_]{{1,{MAX_NAME_BYTES}}}")


def validate_title(title: str) -> str:
    """Return `title` if it is a slug such as `halo_infinite`.

    It becomes the folder data/titles/<title>/, so nothing but a-z, 0-9 and _ is let in.
    """
    if not isinstance(title, str) or not _TITLE_SLUG.fullmatch(title):
        raise TitleError(
            f"title {title!r} is not a title slug: only a-z, 0-9 and _ (e.g. {DEFAULT_TITLE!r})"
        )
    return title


def title_from_env() -> str:
    """The title SESSIONS_PIPELINE_TITLE names, else the default one."""
    return os.environ.get(TITLE_ENV_VAR, "").strip() or DEFAULT_TITLE


def warehouse_path(player_db_path: Path | str) -> Path:
    """The shared warehouse of a player file, found from its path as LevelUp finds it.

    LevelUp (`get_shared_matches_path_from_player`) takes the folder above the path's first
    `players` component as the data folder, so both data/players/<gamertag>/ and
    data/titles/<slug>/players/<gamertag>/ lead to the warehouse/ beside them.
    """
    path = Path(player_db_path)
    if "players" not in path.parts:
        raise WarehouseNotFoundError(
            f"no warehouse for {path}: LevelUp looks for it beside a 'players' folder, "
            "and this path has none"
        )
    data_dir = Path(*path.parts[: path.parts.index("players")])
    candidates = _warehouse_files(data_dir / "warehouse")
    found = _first_file(candidates)
    if found is None:
        looked_at = " and ".join(str(candidate) for candidate in candidates)
        raise WarehouseNotFoundError(
            f"no warehouse for {path}: looked at {looked_at}, neither is a file"
        )
    return found


def _warehouse_files(warehouse_dir: Path) -> list[Path]:
    return [warehouse_dir / name for name in WAREHOUSE_DB_NAMES]


def _first_file(paths: list[Path]) -> Path | None:
    return next((path for path in paths if path.is_file()), None)


def validate_gamertag(name: str) -> str:
    """Return `name` if it can only ever name one folder directly under data/players/.

    A gamertag becomes a path component, so anything that could climb out of the root or
    point elsewhere (separators, ':', '.', '..', control characters, blank) is refused
    before any file is opened. Dots inside a name ("a..b") are harmless and accepted.
    """
    if not isinstance(name, str):
        raise UnsafeGamertagError(f"gamertag must be a string, got {type(name).__name__}")
    if not name.strip():
        raise UnsafeGamertagError(f"gamertag {name!r} is blank")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise UnsafeGamertagError(
            f"gamertag {name[:40]!r}… is {len(name)} characters long: no folder can be named so"
        )
    # Windows drops trailing dots and spaces from a folder name, so ".. " is ".." there.
    if not name.strip(". "):
        raise UnsafeGamertagError(f"gamertag {name!r} is a relative path, not a name")
    bad = sorted(
        {
            ch
            for ch in name
            if ch in _FORBIDDEN_CHARACTERS or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES
        }
    )
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        raise UnsafeGamertagError(
            f"gamertag {name!r} contains {shown}: it could escape the app root as a path"
        )
    return name


def read_json_document(path: Path) -> object | None:
    """Parse a JSON file of the root, or None when it does not exist.

    Accepts a UTF-8 BOM (Windows editors add one). Any other problem, including a key
    written twice (JSON would silently keep the last), is a ConfigFileError naming the
    file: a half-read config must never pass for an empty one.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigFileError(f"{path}: cannot be read ({error})") from error

    def reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
        document: dict[str, object] = {}
        for key, value in pairs:
            if key in document:
                raise ConfigFileError(f"{path}: key {key!r} appears twice in the same object")
            document[key] = value
        return document

    try:
        return json.loads(text, object_pairs_hook=reject_duplicate_keys)
    except json.JSONDecodeError as error:
        raise ConfigFileError(
            f"{path}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from error


_JSON_TYPE_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
}


def read_json_object(path: Path, expected: str) -> dict[str, object] | None:
    """`read_json_document` for a file whose top must be an object (`expected` says which),
    so every config file words a wrong shape the same way."""
    document = read_json_document(path)
    if document is not None and not isinstance(document, dict):
        raise ConfigFileError(f"{path}: expected {expected}, got {describe_json_value(document)}")
    return document


def describe_json_value(value: object) -> str:
    """The JSON name of a parsed value's type, for messages a config author reads."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class Player:
    """A player of the root: its gamertag, its DB file and the xuid its profile gives."""

    gamertag: str
    db_path: Path
    profile_xuid: str | None


@dataclass(frozen=True)
class AppRoot:
    """A LevelUp app root (the repository itself is laid out as one), serving one title."""

    path: Path
    title: str = DEFAULT_TITLE

    def __post_init__(self) -> None:
        validate_title(self.title)

    @classmethod
    def of_player_file(cls, db_path: Path) -> AppRoot | None:
        """The root (and title) a player file sits in, as LevelUp lays them out:
        `<root>/data/players/<gamertag>/` or `<root>/data/titles/<slug>/players/<gamertag>/`;
        None for a file elsewhere."""
        parts = Path(db_path).absolute().parts
        if "players" not in parts:
            return None
        data = parts[: parts.index("players")]
        if len(data) >= 3 and data[-3:-1] == ("data", "titles"):
            with contextlib.suppress(SessionsPipelineError):
                return cls(Path(*data[:-3]), data[-1])
            return None
        return cls(Path(*data[:-1])) if data[-1:] == ("data",) else None

    @classmethod
    def from_env(cls, title: str | None = None) -> AppRoot:
        """The root named by SESSIONS_PIPELINE_HOME, else the current directory, serving
        `title`, else the one SESSIONS_PIPELINE_TITLE names, else the default one.

        Made absolute at once, so paths stay right if the working directory changes. A
        title the root does not have is refused here, where a person chose it.
        """
        raw = os.environ.get(HOME_ENV_VAR, "").strip()
        path = Path(raw).expanduser().absolute() if raw else Path.cwd()
        if not path.is_dir():
            raise SessionsPipelineError(f"{HOME_ENV_VAR}={raw!r}: {path} is not a directory")
        return cls(path, title or title_from_env()).require_title()

    def require_title(self) -> AppRoot:
        """This root if it has its title, else a TitleError naming the titles it has.

        The default title needs nothing on disk (an empty root serves it), so it is taken
        without reading any file.
        """
        if self.title == DEFAULT_TITLE or self.title_dir.is_dir():
            return self
        titles = self.titles()
        if self.title not in titles:
            raise TitleError(
                f"title {self.title!r}: no {self.title_dir} and no profile of it in "
                f"{self.profiles_file}; the titles of {self.path}: {', '.join(titles)}"
            )
        return self

    def titles(self) -> list[str]:
        """The titles this root can serve, sorted: the default one, each folder of
        data/titles/, and each title with a profile."""
        titles_dir = self.path / "data" / "titles"
        folders = set()
        if titles_dir.is_dir():
            folders = {
                folder.name
                for folder in titles_dir.iterdir()
                if folder.is_dir() and _TITLE_SLUG.fullmatch(folder.name)
            }
        profiled = {title for title, players in self._profiles_by_title().items() if players}
        return sorted({DEFAULT_TITLE} | folders | profiled)

    @property
    def friends_file(self) -> Path:
        return self.path / ".streamlit" / "friends_defaults.json"

    @property
    def profiles_file(self) -> Path:
        return self.path / "db_profiles.json"

    @property
    def title_dir(self) -> Path:
        """Where LevelUp's Go era keeps a title's players and warehouse."""
        return self.path / "data" / "titles" / self.title

    @property
    def _data_dir(self) -> Path:
        # The classic data/ is the default title's (LevelUp knew no other before its Go
        # era): another title's players never come from there. A title folder holding
        # only its settings overlay (settings.json) does not move the default's players.
        holds_data = any((self.title_dir / name).is_dir() for name in ("players", "warehouse"))
        if self.title == DEFAULT_TITLE and not holds_data:
            return self.path / "data"
        return self.title_dir

    @property
    def players_dir(self) -> Path:
        return self._data_dir / "players"

    @property
    def warehouse_dir(self) -> Path:
        return self._data_dir / "warehouse"

    @property
    def warehouse_db(self) -> Path:
        """The warehouse file there is (its current name first, then the older one), else
        the path LevelUp's sync would create: callers check that it exists."""
        files = _warehouse_files(self.warehouse_dir)
        return _first_file(files) or files[0]

    def gamertags(self) -> list[str]:
        """Every player of the root's title, sorted: profiles, and folders holding a
        stats.duckdb.

        A profile whose file is missing is listed too, so `--all` can report it.
        """
        return self._known(self._profiles())

    def player(self, gamertag: str) -> Player:
        """The player named `gamertag`, whose DB file exists.

        The name is matched exactly, else case-insensitively when that is unambiguous
        (gamertags are case-insensitive on Xbox Live), and the player keeps the spelling
        of its profile or folder.
        """
        name = validate_gamertag(gamertag)
        profiles = self._profiles()
        # An exact name (every partition key is one) is found without validating every
        # player of the root.
        if name not in profiles and not self._has_folder(name):
            same = [g for g in self._known(profiles) if g.casefold() == name.casefold()]
            if len(same) == 1:
                name = same[0]
        player = self._locate(name, profiles)
        if not player.db_path.is_file():
            if name in profiles:
                problem = f"its DB {player.db_path} (profile in {self.profiles_file}) is missing"
            else:
                problem = f"no profile in {self.profiles_file} and no {player.db_path}"
            raise PlayerNotFoundError(f"player {name!r}: {problem}")
        return player

    def players(self) -> list[Player]:
        """The players whose DB file exists now, sorted by gamertag.

        The others (a profile pointing at a missing file) are left out: ask `player()`
        for each of `gamertags()` to report them.
        """
        profiles = self._profiles()
        located = (self._locate(name, profiles) for name in self._known(profiles))
        return [player for player in located if player.db_path.is_file()]

    def _known(self, profiles: dict[str, Player]) -> list[str]:
        return sorted(profiles.keys() | set(self.folder_gamertags()))

    def _locate(self, gamertag: str, profiles: dict[str, Player]) -> Player:
        return profiles.get(gamertag) or Player(
            gamertag, self.players_dir / gamertag / PLAYER_DB_NAME, None
        )

    def _has_folder(self, gamertag: str) -> bool:
        """Whether the players folder holds one spelled exactly `gamertag` (the listing,
        not a stat, answers that on a case-insensitive file system too)."""
        folder = self.players_dir / gamertag
        return (folder / PLAYER_DB_NAME).is_file() and gamertag in os.listdir(self.players_dir)

    def folder_gamertags(self) -> list[str]:
        """Folders of the title's players folder holding a player file.

        A folder whose name is not a safe gamertag is not a player: it could not be
        addressed by name anyway, and Dagster refuses such partition keys.
        """
        if not self.players_dir.is_dir():
            return []
        names = []
        for folder in self.players_dir.iterdir():
            if not (folder / PLAYER_DB_NAME).is_file():
                continue
            try:
                names.append(validate_gamertag(folder.name))
            except UnsafeGamertagError:
                continue
        return names

    def _profiles(self) -> dict[str, Player]:
        """This title's players declared in db_profiles.json."""
        return self._profiles_by_title().get(self.title, {})

    def _profiles_by_title(self) -> dict[str, dict[str, Player]]:
        """Every title's profiles, the whole file validated: a mistake in another title's
        profiles is not let pass only because this one is served."""
        path = self.profiles_file
        document = read_json_object(path, "an object with a 'profiles' object")
        if document is None:
            return {}
        profiles = document.get("profiles")
        if not isinstance(profiles, dict):
            found = (
                "no 'profiles' key" if "profiles" not in document else describe_json_value(profiles)
            )
            raise ConfigFileError(f"{path}: 'profiles' must be an object, found {found}")
        if document.get("version") != PROFILES_V3:
            default = replace(self, title=DEFAULT_TITLE)
            return {DEFAULT_TITLE: default._players_of(f"{path}:", profiles)}
        by_title: dict[str, dict[str, Player]] = {}
        for title, title_profiles in profiles.items():
            try:
                validate_title(title)
            except TitleError as error:
                raise ConfigFileError(f"{path}: title key refused: {error}") from error
            if not isinstance(title_profiles, dict):
                raise ConfigFileError(
                    f"{path}: title {title!r} must be an object of profiles, got "
                    f"{describe_json_value(title_profiles)}"
                )
            where = f"{path}: title {title!r}:"
            by_title[title] = replace(self, title=title)._players_of(where, title_profiles)
        return by_title

    def _players_of(self, where: str, profiles: dict[str, object]) -> dict[str, Player]:
        """The players of one title's profiles; `where` starts each error message."""
        return {
            name: self._profile_player(where, name, profile) for name, profile in profiles.items()
        }

    def _profile_player(self, where: str, name: str, profile: object) -> Player:
        try:
            validate_gamertag(name)
        except UnsafeGamertagError as error:
            raise ConfigFileError(f"{where} profile key refused: {error}") from error
        if not isinstance(profile, dict):
            raise ConfigFileError(
                f"{where} profile {name!r} must be an object, got {describe_json_value(profile)}"
            )
        db_path = profile.get("db_path")
        if db_path is None:
            resolved = self.players_dir / name / PLAYER_DB_NAME
        elif isinstance(db_path, str) and db_path.strip():
            resolved = self.path / db_path.strip()
        else:
            raise ConfigFileError(
                f"{where} profile {name!r}: 'db_path' must be a non-empty string, got {db_path!r}"
            )
        return Player(name, resolved, _profile_xuid(where, name, profile.get("xuid")))


def _profile_xuid(where: str, name: str, xuid: object) -> str | None:
    """A profile's xuid as digits; absent, null or "" mean "ask the player's DB"."""
    if xuid is None or xuid == "":
        return None
    if isinstance(xuid, int) and not isinstance(xuid, bool) and xuid >= 0:
        return str(xuid)
    if isinstance(xuid, str) and xuid.strip().isascii() and xuid.strip().isdigit():
        return xuid.strip()
    raise ConfigFileError(f"{where} profile {name!r}: 'xuid' must be digits, got {xuid!r}")
