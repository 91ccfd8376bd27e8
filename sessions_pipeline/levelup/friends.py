"""The friends set of a player: who, joining or leaving, cuts a session.

It comes from `.streamlit/friends_defaults.json` when the player has an entry there that
resolves to someone, else from the player's two most frequent same-team teammates, else
it is empty (sessions then break on any teammate change). What did not resolve is
reported, never fatal; a malformed file is an error, never a silent fallback, because a
fallback would quietly re-cut every stored session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb

from sessions_pipeline.errors import ConfigFileError
from sessions_pipeline.levelup.app_root import (
    AppRoot,
    Player,
    describe_json_value,
    read_json_object,
    warehouse_path,
)
from sessions_pipeline.levelup.sql import lookups
from sessions_pipeline.levelup.sql.connection import DEFAULT_LOCK_TIMEOUT_SECONDS, open_player_db

TOP_TEAMMATES = 2
INACTIVE_PREFIX = "~"


class FriendsSource(StrEnum):
    CONFIG = "config"
    TOP2 = "top-2"
    NONE = "none"


@dataclass(frozen=True)
class FriendsResolution:
    """The friends set of one player, with where it came from and what was skipped.

    `gamertags` maps a resolved xuid to its gamertag when a table knows it (for display).
    `unresolved` and `inactive` list the config items that did not count (trimmed, the
    inactive ones without their `~`), in file order, even when the set fell back to top-2.
    """

    player_xuid: str | None
    xuids: frozenset[str]
    gamertags: dict[str, str]
    source: FriendsSource
    unresolved: tuple[str, ...]
    inactive: tuple[str, ...]

    @property
    def described_source(self) -> str:
        """Where the set came from, as recorded beside the other parameters' sources."""
        return {
            FriendsSource.CONFIG: "friends_defaults.json",
            FriendsSource.TOP2: "top-2 teammates",
            FriendsSource.NONE: "none found",
        }[self.source]


def load_friends_config(path: Path) -> dict[str, list[str]]:
    """Read friends_defaults.json: player xuid -> gamertags or xuids ("~" = inactive).

    A missing file means no entries. Anything else that is not exactly that shape is a
    ConfigFileError naming the file and the offending key or item.
    """
    document = read_json_object(path, "an object mapping player xuids to lists of friends")
    if document is None:
        return {}
    config: dict[str, list[str]] = {}
    for key, items in document.items():
        if not _is_xuid(key):
            raise ConfigFileError(
                f"{path}: key {key!r} is not a player xuid (digits only); "
                "entries are keyed by the player's xuid"
            )
        if not isinstance(items, list):
            raise ConfigFileError(
                f"{path}: entry {key!r} must be a list of gamertags or xuids, "
                f"got {describe_json_value(items)} ({items!r})"
            )
        for position, item in enumerate(items, start=1):
            if not isinstance(item, str):
                raise ConfigFileError(
                    f"{path}: entry {key!r}, item {position}: expected a gamertag or xuid "
                    f"string, got {describe_json_value(item)} ({item!r})"
                )
            if not item.strip().removeprefix(INACTIVE_PREFIX).strip():
                raise ConfigFileError(f"{path}: entry {key!r}, item {position} is blank ({item!r})")
        config[key] = list(items)
    return config


def resolve_player_xuid(sources: Sequence[duckdb.DuckDBPyConnection], player: Player) -> str | None:
    """The player's xuid: a v5+ file's `sync_meta`, else its profile's, else the
    `xuid_aliases` row of its gamertag (the player file's, else the warehouse's)."""
    from_sync = lookups.sync_meta_xuid(sources[0])
    if from_sync or player.profile_xuid:
        return from_sync or player.profile_xuid
    for source in sources:
        found = lookups.xuids_for_aliases(source, [player.gamertag]).get(player.gamertag)
        if found:
            return found
    return None


def resolve_friends(
    root: AppRoot,
    player: Player,
    friends_config: Mapping[str, Sequence[str]] | None = None,
    *,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> FriendsResolution:
    """Resolve the player's friends set from its config entry, else its top-2 teammates.

    `friends_config` lets a caller that resolves every player read the file once; by
    default it is loaded from the root. Names and xuids are looked up in the player's
    file, then in the shared warehouse (where a v5+ player's matches and aliases are).
    Top-2 falls back, each time the previous source yields nobody, from the player's
    `match_participants` to the warehouse's, then to `teammates_aggregate`. The player
    never counts as its own friend.
    """
    config = load_friends_config(root.friends_file) if friends_config is None else friends_config
    with ExitStack() as opened:
        con = opened.enter_context(
            open_player_db(
                player.db_path, read_only=True, lock_timeout_seconds=lock_timeout_seconds
            )
        )
        warehouse = _warehouse_of(root, player, con)
        sources = [con]
        if warehouse is not None:
            sources.append(
                opened.enter_context(
                    open_player_db(
                        warehouse, read_only=True, lock_timeout_seconds=lock_timeout_seconds
                    )
                )
            )
        player_xuid = resolve_player_xuid(sources, player)
        entry = config.get(player_xuid, ()) if player_xuid else ()
        configured, unresolved, inactive = _resolve_items(sources, entry, player_xuid)
        if configured:
            return FriendsResolution(
                player_xuid=player_xuid,
                xuids=configured,
                gamertags=lookups.gamertags_in(sources, configured),
                source=FriendsSource.CONFIG,
                unresolved=unresolved,
                inactive=inactive,
            )
        top: list[str] = []
        for source in sources if player_xuid else ():
            top = top or lookups.top_same_team_teammates(source, player_xuid, TOP_TEAMMATES)
        if not top:
            top = lookups.top_aggregate_teammates(con, player_xuid, TOP_TEAMMATES)
        names = lookups.gamertags_in(sources, top)
    return FriendsResolution(
        player_xuid=player_xuid,
        xuids=frozenset(top),
        gamertags=names,
        source=FriendsSource.TOP2 if top else FriendsSource.NONE,
        unresolved=unresolved,
        inactive=inactive,
    )


def _warehouse_of(root: AppRoot, player: Player, con: duckdb.DuckDBPyConnection) -> Path | None:
    """A v5+ player's warehouse (an error if it is missing); for a v4 file, the root's,
    if it has one: it may know names and teammates the player's file does not."""
    if lookups.is_v5_player_file(con):
        return warehouse_path(player.db_path)
    return root.warehouse_db if root.warehouse_db.is_file() else None


def _is_xuid(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _resolve_items(
    sources: Sequence[duckdb.DuckDBPyConnection], items: Sequence[str], player_xuid: str | None
) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """Resolved xuids, then unresolved and inactive items (deduplicated, in file order).

    An item is a xuid the player's file or the warehouse knows, else a gamertag (an
    all-digit name is tried as one too): in `xuid_aliases` (the file's, then the
    warehouse's), then in the file's `teammates_aggregate`, each asked for all at once.
    """
    active: dict[str, None] = {}
    inactive: dict[str, None] = {}
    for raw in items:
        item = raw.strip()
        if item.startswith(INACTIVE_PREFIX):
            inactive[item.removeprefix(INACTIVE_PREFIX).strip()] = None
        else:
            active[item] = None
    resolved = {
        item: item
        for item in active
        if _is_xuid(item) and any(lookups.is_known_xuid(source, item) for source in sources)
    }
    for source in sources:
        resolved |= lookups.xuids_for_aliases(source, [i for i in active if i not in resolved])
    names = [item for item in active if item not in resolved]
    resolved |= lookups.xuids_for_teammate_gamertags(sources[0], names)
    unresolved = tuple(item for item in active if item not in resolved)
    xuids = frozenset(xuid for xuid in resolved.values() if xuid != player_xuid)
    return xuids, unresolved, tuple(inactive)
