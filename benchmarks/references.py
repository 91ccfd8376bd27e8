"""The original app's approaches, kept only as yardsticks for the benchmarks.

LevelUp computed sessions with a Python loop over the rows for the friends rule and
stored them with one `UPDATE ... WHERE match_id = ?` per match; the figures compare the
pipeline's vectorised rules and set-based write against exactly that.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from sessions_pipeline.rules.sessions import LABEL_TIME_SEPARATOR, SessionParameters


def row_loop_sessions(timeline: pl.DataFrame, params: SessionParameters) -> pl.DataFrame:
    """Sessions of a sorted friends-mode timeline, one Python iteration per match.

    `timeline` holds `match_id, start_time, teammates_signature` in `(start_time,
    match_id)` order; the result adds `session_id` and `session_label`.
    """
    gap = timedelta(minutes=params.gap_minutes)
    friends = params.friends_xuids
    session_ids: list[int] = []
    bounds: list[list] = []  # per session: [first start, last start, matches]
    previous_start = None
    previous_friends: set[str] = set()
    for start, signature in timeline.select("start_time", "teammates_signature").iter_rows():
        teammates = {xuid.strip() for xuid in (signature or "").split(",")} - {""}
        current = teammates & friends
        if (
            previous_start is None
            or start - previous_start > gap
            or current - previous_friends
            or (not current and previous_friends)
        ):
            bounds.append([start, start, 0])
        bounds[-1][1] = start
        bounds[-1][2] += 1
        session_ids.append(len(bounds) - 1)
        previous_start, previous_friends = start, current
    zone = ZoneInfo(params.label_time_zone)
    labels = [
        f"{first.replace(tzinfo=UTC).astimezone(zone):%d/%m/%Y %H:%M}{LABEL_TIME_SEPARATOR}"
        f"{last.replace(tzinfo=UTC).astimezone(zone):%H:%M} ({count})"
        for first, last, count in bounds
    ]
    return timeline.with_columns(
        session_id=pl.Series(session_ids, dtype=pl.Int64),
        session_label=pl.Series([labels[session] for session in session_ids], dtype=pl.String),
    )


def update_row_by_row(con: duckdb.DuckDBPyConnection, sessions: pl.DataFrame) -> None:
    """Write `session_id` / `session_label` with one UPDATE statement per match."""
    for match_id, session_id, session_label in sessions.select(
        "match_id", "session_id", "session_label"
    ).iter_rows():
        con.execute(
            "UPDATE match_stats SET session_id = ?, session_label = ? WHERE match_id = ?",
            [session_id, session_label, match_id],
        )
