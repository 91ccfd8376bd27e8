"""The dashboard's one call: stored sessions where frozen, the open tail computed on the fly."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import polars as pl

from sessions_pipeline.levelup.settings import settings_of_player_file
from sessions_pipeline.levelup.sql import player_db
from sessions_pipeline.levelup.sql.player_file import PlayerFile, open_player_file
from sessions_pipeline.rules.planning import recompute_window, stability_cutoff
from sessions_pipeline.rules.sessions import (
    DEFAULT_STABILITY_HOURS,
    SessionParameters,
    compute_sessions,
    teammate_columns,
)

READ_LOCK_TIMEOUT_SECONDS = 10.0


def load_sessions(
    db_path: str | Path,
    *,
    friends_xuids: Collection[str] | None = None,
    gap_minutes: int | None = None,
    start_time_zone: str | None = None,
    label_time_zone: str | None = None,
    split_on_ranked_change: bool | None = None,
    team_change_mode: str | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Every match with a start time, oldest first, with its session.

    Parameters not given are those recorded by the last store (else the defaults), so the
    computed tail numbers on from the stored sessions exactly as a store would. Only the
    tail from the start of the last stored session is recomputed, never the whole history.
    `is_stored` is true where the value shown is the one frozen in the file (stored, stable,
    and not moved by a late match the next store will repair). The file is let go before
    the tail is computed: a store waits less, and DuckDB's memory is freed first.
    """
    with open_player_file(
        Path(db_path), read_only=True, lock_timeout_seconds=READ_LOCK_TIMEOUT_SECONDS
    ) as file:
        recorded = player_db.read_recorded_parameters(file.con)
        params = replay_parameters(
            recorded,
            defaults=None if recorded else settings_of_player_file(Path(db_path)).params(),
            friends_xuids=friends_xuids,
            gap_minutes=gap_minutes,
            start_time_zone=start_time_zone,
            label_time_zone=label_time_zone,
            split_on_ranked_change=split_on_ranked_change,
            team_change_mode=team_change_mode,
        )
        rows = read_session_rows(file, recorded, params, now=now)
    return rows.sessions()


@dataclass(frozen=True)
class SessionRows:
    """What a read took from the file: rows shown as stored, and the rows to recompute.

    `frozen` is final; `tail` (from the start of the window on, with its stored values)
    is computed by `sessions()`, which needs no connection. `tail_is_stored` is None for a
    file holding no stored value: the tail is then the whole timeline.
    """

    frozen: pl.DataFrame
    tail: pl.DataFrame | None
    tail_is_stored: pl.Series | None
    params: SessionParameters
    first_session_id: int
    columns: tuple[str, ...]

    def sessions(self) -> pl.DataFrame:
        if self.tail is None:
            return self.frozen
        computed = compute_sessions(
            self.tail, self.params, first_session_id=self.first_session_id, with_break_reasons=False
        )
        if self.tail_is_stored is None:
            return computed.select(*self.columns, is_stored=False)
        return pl.concat(
            [
                self.frozen,
                computed.select(
                    *self.columns,
                    is_stored=pl.lit(self.tail_is_stored)
                    & pl.col("session_id").eq_missing(pl.col("stored_session_id"))
                    & pl.col("session_label").eq_missing(pl.col("stored_session_label")),
                ),
            ]
        )


def read_session_rows(
    file: PlayerFile,
    recorded: player_db.RecordedParameters | None,
    params: SessionParameters,
    *,
    now: datetime | None = None,
    with_scan_positions: bool = False,
) -> SessionRows:
    """What `load_sessions` reads, on an open connection, for readers that ask the file more.

    `params` are those the tail is computed with (`replay_parameters`). `with_scan_positions`
    keeps each row's `SCAN_POSITION`, for readers that go back to the file for some rows
    (why sessions broke). `sessions()` computes with no connection.
    """
    # The rules' own columns are computed as the signatures are read.
    teammates = teammate_columns(params)
    positions = (player_db.SCAN_POSITION,) if with_scan_positions else ()
    columns = ("match_id", "start_time", "session_id", "session_label", *positions)
    # A file the pipeline never stored, and that holds no stored id, is recomputed whole,
    # without reading stored values (a stored file skips the check).
    if recorded is None and not player_db.has_stored_sessions(file):
        whole = player_db.read_timeline(
            file,
            start_time_zone=params.start_time_zone,
            with_stored=False,
            with_ranked=params.split_on_ranked_change,
            teammates=teammates,
            with_scan_positions=with_scan_positions,
        ).frame
        return SessionRows(whole.clear(), whole, None, params, 0, columns)
    stored = player_db.read_timeline(
        file,
        start_time_zone=params.start_time_zone,
        with_signatures=False,
        with_scan_positions=with_scan_positions,
    ).frame
    stability_hours = recorded.stability_hours if recorded else DEFAULT_STABILITY_HOURS
    is_stored = stored["stored_session_id"].is_not_null() & (
        stored["start_time"] <= stability_cutoff(now, stability_hours)
    )
    window = recompute_window(stored["stored_session_id"], is_stored)
    frozen = stored.select(
        "match_id",
        "start_time",
        pl.col("stored_session_id").alias("session_id"),
        pl.col("stored_session_label").alias("session_label"),
        *positions,
        is_stored=is_stored,
    )
    if window is None:
        return SessionRows(frozen, None, is_stored, params, 0, columns)
    since = stored["start_time"][window.start]
    # The rows of the window, as `stored` has them from its start on.
    tail = player_db.read_timeline(
        file,
        start_time_zone=params.start_time_zone,
        with_ranked=params.split_on_ranked_change,
        since=since,
        teammates=teammates,
    ).frame
    tail = tail.tail(len(stored) - window.start)
    if with_scan_positions:
        tail = tail.with_columns(stored[player_db.SCAN_POSITION].slice(window.start))
    return SessionRows(
        frozen.head(window.start),
        tail,
        is_stored.slice(window.start),
        params,
        window.first_session_id,
        columns,
    )


def replay_parameters(
    recorded: player_db.RecordedParameters | None,
    *,
    defaults: SessionParameters | None = None,
    friends_xuids: Collection[str] | None = None,
    **given: object,
) -> SessionParameters:
    """Those given (not None), else those recorded by the last store, else `defaults`
    (the root's LevelUp settings, for a caller that read them), else DESIGN's defaults."""
    base = recorded.params if recorded else (defaults or SessionParameters())
    chosen = {name: value for name, value in given.items() if value is not None}
    if friends_xuids is not None:
        chosen["friends_xuids"] = frozenset(friends_xuids)
    return replace(base, **chosen)
