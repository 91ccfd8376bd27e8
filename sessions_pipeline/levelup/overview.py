"""A player's sessions as a person reads them: what `show` prints and the dashboard draws.

One read-only open of the player file gives `load_sessions`' rows, one line per session
(why it started, whether it is stored), the parameters the file was stored with and the
friends' gamertags, so the command line and the page can never tell two stories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from sessions_pipeline.levelup.app_root import Player
from sessions_pipeline.levelup.reader import (
    READ_LOCK_TIMEOUT_SECONDS,
    read_session_rows,
    replay_parameters,
)
from sessions_pipeline.levelup.settings import settings_of_player_file
from sessions_pipeline.levelup.sql import lookups, player_db
from sessions_pipeline.levelup.sql.connection import open_player_db
from sessions_pipeline.levelup.sql.player_file import PlayerFile, open_player_file
from sessions_pipeline.levelup.store import identity
from sessions_pipeline.rules.planning import stability_cutoff
from sessions_pipeline.rules.sessions import (
    DEFAULT_STABILITY_HOURS,
    PARAMETER_NAMES,
    SessionParameters,
    break_reasons,
    summarize_sessions,
)

OLDER_STORE = "stored by an older version (not recorded)"
"""The source of a value a store recorded before sources were: for the start-time zone,
the ranked split and the team mode, what that code used (UTC, no split, friends)."""
STORED = "yes"
PARTLY_STORED = "partly"
RECENT = "recent"
"""Whether a session's values are frozen in the file: all, some, or none of its matches
(`recent`: computed on the fly, as the next store will write them)."""


@dataclass(frozen=True)
class PlayerOverview:
    """Everything the views of one player show, read in one open of its file.

    `sessions` is `load_sessions`' frame; `summary` has one row per session, newest
    first: `session_id, session_label, matches, first_start, last_start, break_reason,
    stored` (`stored` is STORED, PARTLY_STORED or RECENT).
    """

    sessions: pl.DataFrame
    summary: pl.DataFrame
    recorded: player_db.RecordedParameters | None
    params: SessionParameters
    stability_hours: float
    friend_gamertags: dict[str, str]
    cutoff: datetime
    unstored_sources: dict[str, str]
    """Where a never-stored file's parameters came from (the root's settings, defaults)."""

    @property
    def sources(self) -> dict[str, str]:
        """Where each parameter shown came from: the last store's own record of it."""
        if self.recorded is None:
            return {"friends_xuids": "none (never stored)", **self.unstored_sources}
        recorded = self.recorded.sources or {}
        return {name: recorded.get(name, OLDER_STORE) for name in PARAMETER_NAMES}

    @property
    def stored_matches(self) -> int:
        return int(self.sessions["is_stored"].sum())

    @property
    def computed_matches(self) -> int:
        return len(self.sessions) - self.stored_matches

    @property
    def unstored_stable_matches(self) -> int:
        """Matches old enough to be stored that are not (a backfill would write them)."""
        stable = self.sessions["start_time"] <= self.cutoff
        return int((stable & ~self.sessions["is_stored"]).sum())


def read_overview(
    db_path: str | Path, *, now: datetime | None = None, player: Player | None = None
) -> PlayerOverview:
    """The player's sessions with the parameters recorded in its file (read-only);
    `player` finds a v5+ player by its profile's xuid, as a store does."""
    with open_player_file(
        Path(db_path),
        read_only=True,
        lock_timeout_seconds=READ_LOCK_TIMEOUT_SECONDS,
        **identity(player),
    ) as file:
        recorded = player_db.read_recorded_parameters(file.con)
        unstored = None if recorded else settings_of_player_file(Path(db_path))
        params = replay_parameters(recorded, defaults=unstored and unstored.params())
        timeline = read_session_rows(
            file, recorded, params, now=now, with_scan_positions=True
        ).sessions()
        reasons = session_start_reasons(file, timeline, params)
        friend_gamertags = lookups.gamertags_of(file.con, params.friends_xuids)
    unnamed = params.friends_xuids - friend_gamertags.keys()
    if file.warehouse is not None and unnamed:
        # A v5+ player's names are in the warehouse, read once the player file is let go.
        with open_player_db(
            file.warehouse, read_only=True, lock_timeout_seconds=READ_LOCK_TIMEOUT_SECONDS
        ) as shared:
            friend_gamertags |= lookups.gamertags_of(shared, unnamed)
    sessions = timeline.drop(player_db.SCAN_POSITION)
    stored = pl.col("stored_matches")
    summary = summarize_sessions(
        sessions.with_columns(break_reason=reasons), stored_matches="is_stored"
    ).select(
        "session_id",
        "session_label",
        "matches",
        "first_start",
        "last_start",
        "break_reason",
        stored=pl.when(stored == pl.col("matches"))
        .then(pl.lit(STORED))
        .when(stored > 0)
        .then(pl.lit(PARTLY_STORED))
        .otherwise(pl.lit(RECENT)),
    )
    stability_hours = recorded.stability_hours if recorded else DEFAULT_STABILITY_HOURS
    return PlayerOverview(
        sessions=sessions,
        summary=summary,
        recorded=recorded,
        params=params,
        stability_hours=stability_hours,
        friend_gamertags=friend_gamertags,
        cutoff=stability_cutoff(now, stability_hours),
        unstored_sources=unstored.sources if unstored else {},
    )


def session_start_reasons(
    file: PlayerFile, sessions: pl.DataFrame, params: SessionParameters
) -> pl.Series:
    """Why each session started, on its first match (null on the others).

    A break depends only on a match and its predecessor, so the rules run on the first
    and last match of each session alone, not on the whole history: first without the
    signatures, which names the first session and every gap; then, for the sessions
    still unexplained (a friend joined, the player went solo, the teammates or the
    ranked/social kind changed), on each one's first match and the match before it, with
    their signatures (and `is_ranked`) read for them.
    """
    session_id = sessions["session_id"]
    starts = session_id.ne_missing(session_id.shift(1))
    bounds = starts | session_id.ne_missing(session_id.shift(-1))
    timeline = sessions.select("match_id", "start_time").with_row_index("row")
    explained = (
        break_reasons(timeline.with_columns(starts=starts).filter(bounds), params)
        .filter("starts")
        .select("row", "break_reason")
    )
    unexplained = explained.filter(pl.col("break_reason").is_null())["row"]
    if not unexplained.is_empty():
        pairs = pl.concat([unexplained - 1, unexplained]).unique().sort()
        rows = player_db.read_rule_columns_of(
            file,
            sessions[player_db.SCAN_POSITION].gather(pairs),
            with_ranked=params.split_on_ranked_change,
        )
        teammates = break_reasons(timeline[pairs].hstack(rows), params).filter(
            pl.col("row").is_in(unexplained.implode())
        )
        # Only the unexplained rows take these reasons: a predecessor's means nothing here.
        explained = explained.update(teammates.select("row", "break_reason"), on="row")
    nothing = pl.repeat(None, len(sessions), dtype=pl.String, eager=True)
    return nothing.scatter(explained["row"], explained["break_reason"]).alias("break_reason")
