"""The dashboard's one call: stored sessions where frozen, the open tail computed on the fly."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from sessions_pipeline.planning import recompute_window, stability_cutoff
from sessions_pipeline.rules import (
    DEFAULT_GAP_MINUTES,
    DEFAULT_STABILITY_HOURS,
    SessionParameters,
    compute_sessions,
)
from sessions_pipeline.sql import player_db
from sessions_pipeline.sql.connection import open_player_db

READ_LOCK_TIMEOUT_SECONDS = 10.0


def load_sessions(
    db_path: str | Path,
    *,
    friends_xuids: Collection[str] | None = None,
    gap_minutes: int | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Every match with a start time, oldest first, with its session.

    Parameters not given are those recorded by the last store (else the defaults), so the
    computed tail numbers on from the stored sessions exactly as a store would. Only the
    tail from the start of the last stored session is recomputed, never the whole history.
    `is_stored` is true where the value shown is the one frozen in the file (stored, stable,
    and not moved by a late match the next store will repair).
    """
    with open_player_db(
        Path(db_path), read_only=True, lock_timeout_seconds=READ_LOCK_TIMEOUT_SECONDS
    ) as con:
        return read_sessions(
            con,
            player_db.read_recorded_parameters(con),
            friends_xuids=friends_xuids,
            gap_minutes=gap_minutes,
            now=now,
        )


def read_sessions(
    con: duckdb.DuckDBPyConnection,
    recorded: player_db.RecordedParameters | None,
    *,
    friends_xuids: Collection[str] | None = None,
    gap_minutes: int | None = None,
    now: datetime | None = None,
    with_signatures: bool = False,
) -> pl.DataFrame:
    """`load_sessions` on an open connection, for readers that ask the file more in one open.

    `with_signatures` keeps `teammates_signature` (read in the same pass), for readers
    that explain why sessions broke.
    """
    # A file the pipeline never stored, and that holds no stored id, is recomputed
    # whole: read its signatures in this pass (a stored file skips the check).
    whole = recorded is None and not player_db.has_stored_sessions(con)
    stored = player_db.read_timeline(
        con, with_signatures=whole or with_signatures, with_stored=not whole
    ).frame
    params = replay_parameters(recorded, friends_xuids, gap_minutes)
    stability_hours = recorded.stability_hours if recorded else DEFAULT_STABILITY_HOURS
    cutoff = stability_cutoff(now, stability_hours)
    is_stored = stored["stored_session_id"].is_not_null() & (stored["start_time"] <= cutoff)
    window = recompute_window(stored["stored_session_id"], is_stored)
    signatures = ["teammates_signature"] if with_signatures else []
    frozen = stored.with_columns(is_stored=is_stored).select(
        "match_id",
        "start_time",
        pl.col("stored_session_id").alias("session_id"),
        pl.col("stored_session_label").alias("session_label"),
        *signatures,
        "is_stored",
    )
    if window is None:
        return frozen
    tail = (
        stored
        if whole
        else player_db.read_timeline(con, since=stored["start_time"][window.start]).frame.tail(
            len(stored) - window.start
        )
    )
    computed = compute_sessions(tail, params, first_session_id=window.first_session_id)
    return pl.concat(
        [
            frozen.head(window.start),
            computed.select(
                "match_id",
                "start_time",
                "session_id",
                "session_label",
                *signatures,
                is_stored=pl.lit(is_stored.slice(window.start))
                & pl.col("session_id").eq_missing(pl.col("stored_session_id"))
                & pl.col("session_label").eq_missing(pl.col("stored_session_label")),
            ),
        ]
    )


def replay_parameters(
    recorded: player_db.RecordedParameters | None,
    friends_xuids: Collection[str] | None = None,
    gap_minutes: int | None = None,
) -> SessionParameters:
    """Those given, else those recorded by the last store, else the defaults."""
    base = recorded.params if recorded else SessionParameters(gap_minutes=DEFAULT_GAP_MINUTES)
    return SessionParameters(
        gap_minutes=gap_minutes if gap_minutes is not None else base.gap_minutes,
        friends_xuids=frozenset(friends_xuids) if friends_xuids is not None else base.friends_xuids,
        label_time_zone=base.label_time_zone,
    )
