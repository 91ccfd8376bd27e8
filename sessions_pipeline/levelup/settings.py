"""LevelUp's own session settings, and where each parameter of a run comes from.

LevelUp keeps its settings in `<root>/app_settings.json` (Go: `PathResolver.AppSettingsPath`;
Python: `src/ui/settings.py` `get_settings_path`), with the session rules under
`session_gap_minutes`, `session_split_on_ranked_change` and `session_team_change_mode`
(`internal/config` `Settings`). A multi-title root may overlay them per title in
`data/titles/<slug>/settings.json` (`PathResolver.TitleSettingsPath`), key by key, the
overlay winning (`ResolveForTitle`). A value given to a run wins over both; then the file;
then DESIGN's defaults. LevelUp itself falls back silently on a bad value; a store would
then freeze sessions cut by rules nobody chose, so here a bad value is an error naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sessions_pipeline.errors import ConfigFileError
from sessions_pipeline.levelup.app_root import AppRoot, describe_json_value, read_json_object
from sessions_pipeline.rules.sessions import (
    PARAMETER_NAMES,
    SessionParameters,
    TeamChangeMode,
)

SETTINGS_FILE_NAME = "app_settings.json"
DEFAULT = "default"
"""The source of a value nobody gave: DESIGN's default."""

# LevelUp's key -> (our parameter, what the value must be, its check).
_KEYS = {
    "session_gap_minutes": ("gap_minutes", "a whole number of minutes > 0"),
    "session_split_on_ranked_change": ("split_on_ranked_change", "true or false"),
    "session_team_change_mode": (
        "team_change_mode",
        "one of " + ", ".join(f'"{mode.value}"' for mode in TeamChangeMode),
    ),
}


def _valid(parameter: str, value: object) -> bool:
    if parameter == "gap_minutes":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if parameter == "split_on_ranked_change":
        return isinstance(value, bool)
    return value in {mode.value for mode in TeamChangeMode}


@dataclass(frozen=True)
class LevelUpSettings:
    """The session rules a root's settings files set, each with the file that set it."""

    values: dict[str, object] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


def settings_files(root: AppRoot) -> list[Path]:
    """The global settings file, then the served title's overlay (which wins key by key)."""
    return [root.path / SETTINGS_FILE_NAME, root.title_dir / "settings.json"]


def read_levelup_settings(root: AppRoot) -> LevelUpSettings:
    """The session rules set in the root's settings files (none when there are none).

    Keys of other features are LevelUp's business and ignored; a session key with a
    value of the wrong type or out of range is a ConfigFileError naming file, key, value.
    """
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for path in settings_files(root):
        document = read_json_object(path, "an object of LevelUp settings")
        for key, (parameter, expected) in _KEYS.items():
            if document is None or key not in document:
                continue
            value = document[key]
            if not _valid(parameter, value):
                raise ConfigFileError(
                    f"{path}: {key} must be {expected}, got {describe_json_value(value)} {value!r}"
                )
            values[parameter] = value
            sources[parameter] = f"settings file {path}"
    return LevelUpSettings(values, sources)


@dataclass(frozen=True)
class ResolvedParameters:
    """A run's session rules (friends aside), and where each value came from."""

    values: dict[str, object]
    sources: dict[str, str]

    def with_friends(
        self, friends_xuids: frozenset[str], friends_source: str
    ) -> tuple[SessionParameters, dict[str, str]]:
        """The parameters of one player's run, and the sources recorded with them."""
        params = SessionParameters(friends_xuids=friends_xuids, **self.values)
        return params, {**self.sources, "friends_xuids": friends_source}

    def params(self) -> SessionParameters:
        """These rules, with no friends: what a reader without friends computes with."""
        return SessionParameters(**self.values)

    @property
    def start_time_zone(self) -> str:
        return str(self.values["start_time_zone"])

    @property
    def split_on_ranked_change(self) -> bool:
        return bool(self.values["split_on_ranked_change"])


def settings_of_player_file(db_path: Path) -> ResolvedParameters:
    """What a file no store has recorded parameters in is read with, as a store would cut
    it: the LevelUp settings of the root it sits in, else the defaults."""
    root = AppRoot.of_player_file(db_path)
    return resolve_parameters({}, read_levelup_settings(root) if root else LevelUpSettings(), "")


def resolve_parameters(
    given: Mapping[str, object | None], settings: LevelUpSettings, given_source: str
) -> ResolvedParameters:
    """Each rule's value: given (not None, from `given_source`), else the settings, else
    the default. The result is checked as a whole, so a bad value fails here, named."""
    defaults = SessionParameters()
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    for name in PARAMETER_NAMES:
        if name == "friends_xuids":
            continue
        if given.get(name) is not None:
            values[name], sources[name] = given[name], given_source
        elif name in settings.values:
            values[name], sources[name] = settings.values[name], settings.sources[name]
        else:
            values[name], sources[name] = getattr(defaults, name), DEFAULT
    checked = SessionParameters(**values)
    return ResolvedParameters({name: getattr(checked, name) for name in values}, sources)
