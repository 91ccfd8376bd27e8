"""Which rows to recompute and what to write: pure decisions shared by the store and reader.

A break depends only on a match and its predecessor, so recomputing from the start of
a stored session, numbering on from that session's id, equals a full recompute. Both the
store (new or late rows) and the reader (recent rows) recompute from the start of the
stored session the first untrusted row lands in, and trust everything before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from sessions_pipeline.rules.sessions import SessionParameters, compute_sessions


@dataclass(frozen=True)
class Window:
    """Recompute from row `start` on, numbering from `first_session_id`."""

    start: int
    first_session_id: int


def utc_naive_now(now: datetime | None = None) -> datetime:
    """`now` as naive UTC, matching how start times are compared (an aware `now` converts)."""
    if now is None:
        now = datetime.now(UTC)
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    return now


def stability_cutoff(now: datetime | None, stability_hours: float) -> datetime:
    """Matches starting at or before this instant can no longer gain a neighbour in-session."""
    return utc_naive_now(now) - timedelta(hours=stability_hours)


def recompute_window(stored_session_id: pl.Series, trusted: pl.Series) -> Window | None:
    """Where recomputing must start so untrusted rows get ids consistent with trusted ones.

    Rows before the first untrusted row keep their stored ids; the stored session that
    row lands in (the run of equal ids ending just before it) is recomputed whole, so a
    late match inside it can split it and a growing session gets its label refreshed.
    """
    untrusted = ~trusted
    if not untrusted.any():
        return None
    first_untrusted = int(untrusted.arg_max())
    if first_untrusted == 0:
        return Window(start=0, first_session_id=0)
    runs = stored_session_id.head(first_untrusted).rle_id()
    previous_run = runs[first_untrusted - 1]
    return Window(
        start=int((runs == previous_run).arg_max()),
        first_session_id=int(stored_session_id[first_untrusted - 1]),
    )


@dataclass(frozen=True)
class StorePlan:
    """Recomputed rows of the window, flagged eligible (stable, or recent allowed) and changed."""

    rows: pl.DataFrame
    eligible_rows: int
    recent_rows: int

    @property
    def changes(self) -> pl.DataFrame:
        return self.rows.filter("changed")


def plan_store(
    timeline: pl.DataFrame,
    params: SessionParameters,
    *,
    cutoff: datetime | None,
    force: bool,
) -> StorePlan:
    """What a store writes: rows of the window whose stored values are not right.

    `timeline` is ordered, with `stored_session_id` / `stored_session_label`; `cutoff`
    None means recent matches are eligible too. Default mode recomputes from the first
    eligible row still NULL; `force` recomputes everything. In the window, eligible rows
    are written, and so are recent rows that already hold a value (an earlier
    `include_recent` store): left alone, they would keep ids the recompute moved.
    """
    if cutoff is None:
        eligible = pl.repeat(True, len(timeline), eager=True)
    else:
        eligible = timeline["start_time"] <= cutoff
    if force:
        window = Window(start=0, first_session_id=0) if len(timeline) else None
    else:
        unstored = timeline["stored_session_id"].is_null() & eligible
        window = recompute_window(timeline["stored_session_id"], ~unstored)
    eligible_rows = int(eligible.sum())
    recent_rows = len(timeline) - eligible_rows
    if window is None:
        return StorePlan(
            rows=_empty_plan(timeline), eligible_rows=eligible_rows, recent_rows=recent_rows
        )
    tail = timeline.slice(window.start).with_columns(eligible=eligible.slice(window.start))
    rows = compute_sessions(tail, params, first_session_id=window.first_session_id)
    rows = rows.with_columns(
        changed=(pl.col("eligible") | pl.col("stored_session_id").is_not_null())
        & (
            pl.col("session_id").ne_missing(pl.col("stored_session_id"))
            | pl.col("session_label").ne_missing(pl.col("stored_session_label"))
        )
    )
    return StorePlan(rows=rows, eligible_rows=eligible_rows, recent_rows=recent_rows)


def _empty_plan(timeline: pl.DataFrame) -> pl.DataFrame:
    return compute_sessions(timeline.clear(), SessionParameters()).with_columns(
        eligible=pl.lit(False), changed=pl.lit(False)
    )
