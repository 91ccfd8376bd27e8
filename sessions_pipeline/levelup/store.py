"""Freezing sessions into a player file: one transaction, set-based, only what changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from sessions_pipeline.levelup.app_root import Player
from sessions_pipeline.levelup.sql import player_db
from sessions_pipeline.levelup.sql.connection import (
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    attached_read_only,
    open_player_db,
)
from sessions_pipeline.levelup.sql.player_db import RecordedParameters, TimelineRead
from sessions_pipeline.levelup.sql.player_file import PlayerFile, open_player_file
from sessions_pipeline.rules.planning import (
    StorePlan,
    plan_store,
    stability_cutoff,
    utc_naive_now,
)
from sessions_pipeline.rules.sessions import (
    DEFAULT_STABILITY_HOURS,
    DEFAULT_START_TIME_ZONE,
    PARAMETER_NAMES,
    SessionParameters,
    TeamChangeMode,
    compute_sessions,
)

CALLER = "the caller of store_sessions"
"""The source recorded for parameters a library call gave without saying where from."""
NO_SIGNATURE_WARNING = (
    "match_stats has no teammates_signature column: sessions break on the time gap only"
)
NO_RANKED_WARNING = (
    "match_stats has no is_ranked column: split_on_ranked_change cannot cut sessions here"
)
NEW_PARAMETERS_WARNING = (
    "parameters differ from those recorded by the last store ({changes}): every row is "
    "recomputed, so the file never holds sessions cut by two parameter sets"
)


@dataclass(frozen=True)
class StoreOptions:
    """How a store may touch the file (the plan's backfill flags)."""

    force: bool = False
    include_recent: bool = False
    dry_run: bool = False
    stability_hours: float = DEFAULT_STABILITY_HOURS
    now: datetime | None = None
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS


@dataclass(frozen=True)
class StoreResult:
    """What a store did (or, dry, would do), in the counts a person checks."""

    db_path: Path
    dry_run: bool
    params: SessionParameters
    matches: int
    null_start_times: int
    null_match_ids: int
    written: int
    filled: int
    relabelled: int
    repaired: int
    unchanged: int
    left_recent: int
    sessions: int
    changes: pl.DataFrame
    warnings: tuple[str, ...] = field(default=())
    layout: str = "v4"

    def summary(self) -> str:
        verb = "would write" if self.dry_run else "wrote"
        return (
            f"{self.matches} matches, {self.sessions} sessions stored: {verb} {self.written} "
            f"({self.filled} new, {self.relabelled} relabelled, {self.repaired} repaired), "
            f"{self.unchanged} unchanged, {self.left_recent} left recent"
        )


def store_sessions(
    db_path: Path,
    params: SessionParameters,
    options: StoreOptions | None = None,
    *,
    sources: Mapping[str, str] | None = None,
    player: Player | None = None,
) -> StoreResult:
    """Compute and write the sessions of one player file, all or nothing.

    The timeline is read inside the write transaction, so matches the sync inserted a
    moment ago are either fully taken into account or left for the next run. Parameters
    other than the recorded ones make any store a full recompute: the recorded parameters
    must be the ones that produced every stored value, as readers and drift checks replay them.
    `sources` says where each parameter came from; it is recorded with them (default:
    `CALLER` for each). `player`, the root's player the file is, finds a v5+ player in the
    warehouse by its profile's xuid when the file's `sync_meta` does not say it.
    """
    options = options or StoreOptions()
    now = utc_naive_now(options.now)
    cutoff = None if options.include_recent else stability_cutoff(now, options.stability_hours)
    with open_player_file(
        db_path,
        read_only=options.dry_run,
        lock_timeout_seconds=options.lock_timeout_seconds,
        **identity(player),
    ) as file:
        con = file.con
        con.begin()
        try:
            timeline = player_db.read_timeline(
                file,
                start_time_zone=params.start_time_zone,
                with_ranked=params.split_on_ranked_change,
            )
            player_db.refuse_duplicate_match_ids(file)
            recorded = player_db.read_recorded_parameters(con)
            new_parameters = recorded is not None and recorded.params != params
            plan = plan_store(
                timeline.frame, params, cutoff=cutoff, force=options.force or new_parameters
            )
            given = dict(sources) if sources is not None else dict.fromkeys(PARAMETER_NAMES, CALLER)
            this_store = RecordedParameters(params, options.stability_hours, now, given)
            if not options.dry_run:
                _write(file, plan.changes, this_store, recorded, options)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    warnings = read_warnings(timeline, params)
    if new_parameters:
        changes = describe_changes(recorded.params, params)
        warnings.append(NEW_PARAMETERS_WARNING.format(changes=changes))
    return _result(db_path, options, params, timeline, plan, tuple(warnings))


def read_warnings(timeline: TimelineRead, params: SessionParameters) -> list[str]:
    """What the file lacks for the rules asked of it: said, never fatal."""
    warnings = []
    if not timeline.has_signatures and params.team_change_mode != TeamChangeMode.IGNORE:
        warnings.append(NO_SIGNATURE_WARNING)
    if params.split_on_ranked_change and not timeline.has_ranked:
        warnings.append(NO_RANKED_WARNING)
    return warnings


def describe_changes(before: SessionParameters, after: SessionParameters) -> str:
    """Each parameter that differs, `name before -> after` (friends by count)."""
    changes = []
    for name in PARAMETER_NAMES:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            if name == "friends_xuids":
                old, new = f"{len(old)} friends", f"{len(new)} friends"
            changes.append(f"{name} {old} -> {new}")
    return ", ".join(changes)


def identity(player: Player | None) -> dict[str, str | None]:
    """What finds a v5+ player among the warehouse's participants beside its `sync_meta`:
    its gamertag and its profile's xuid (none given: the file's folder names it)."""
    return {"gamertag": player.gamertag, "profile_xuid": player.profile_xuid} if player else {}


def _write(
    file: PlayerFile,
    changes: pl.DataFrame,
    this_store: RecordedParameters,
    recorded: RecordedParameters | None,
    options: StoreOptions,
) -> None:
    """Write the changed rows, and record the parameters when they produced something new."""
    session_id_is_text = player_db.ensure_session_columns(file)
    player_db.write_session_values(file, changes, session_id_is_text=session_id_is_text)
    if file.warehouse is not None and player_db.has_session_summaries(file):
        with attached_read_only(file.con, file.warehouse, options.lock_timeout_seconds) as shared:
            player_db.refresh_session_summaries(file, shared, changes)
    same_parameters = recorded is not None and (
        recorded.params == this_store.params
        and recorded.stability_hours == this_store.stability_hours
    )
    if len(changes) or not same_parameters:
        player_db.record_parameters(
            file.con,
            this_store,
            forced=options.force,
            include_recent=options.include_recent,
            rows_written=len(changes),
        )


def _result(
    db_path: Path,
    options: StoreOptions,
    params: SessionParameters,
    timeline: TimelineRead,
    plan: StorePlan,
    warnings: tuple[str, ...],
) -> StoreResult:
    changes = plan.changes
    rewritten_recent = int((~changes["eligible"]).sum())
    was_stored = pl.col("stored_session_id").is_not_null()
    id_moved = pl.col("stored_session_id") != pl.col("session_id")
    counts = changes.select(
        filled=(~was_stored).sum(),
        relabelled=(was_stored & ~id_moved).sum(),
        repaired=(was_stored & id_moved).sum(),
    ).row(0, named=True)
    return StoreResult(
        db_path=Path(db_path),
        dry_run=options.dry_run,
        params=params,
        matches=len(timeline.frame),
        null_start_times=timeline.null_start_times,
        null_match_ids=timeline.null_match_ids,
        written=len(changes),
        unchanged=plan.eligible_rows - (len(changes) - rewritten_recent),
        left_recent=plan.recent_rows - rewritten_recent,
        sessions=_sessions_after(timeline.frame, plan.rows),
        changes=changes.select(
            "match_id",
            "start_time",
            pl.col("stored_session_id").alias("session_id_before"),
            pl.col("stored_session_label").alias("session_label_before"),
            pl.col("session_id").alias("session_id_after"),
            pl.col("session_label").alias("session_label_after"),
        ),
        warnings=warnings,
        layout=timeline.layout,
        **counts,
    )


def _sessions_after(timeline: pl.DataFrame, window_rows: pl.DataFrame) -> int:
    """Distinct stored session ids once the store's writes are applied."""
    before_window = timeline.head(len(timeline) - len(window_rows))["stored_session_id"]
    in_window = window_rows.select(
        pl.when("changed").then("session_id").otherwise("stored_session_id")
    ).to_series()
    return pl.concat([before_window, in_window]).drop_nulls().n_unique()


def read_timeline(
    db_path: Path,
    params: SessionParameters,
    *,
    with_signatures: bool = True,
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    player: Player | None = None,
) -> TimelineRead:
    """The player's matches with their stored values, read without blocking other readers,
    with what `params` asks of the file (its start-time zone, `is_ranked`)."""
    with open_player_file(
        db_path, read_only=True, lock_timeout_seconds=lock_timeout_seconds, **identity(player)
    ) as file:
        return player_db.read_timeline(
            file,
            start_time_zone=params.start_time_zone,
            with_signatures=with_signatures,
            with_ranked=params.split_on_ranked_change,
        )


def read_recorded_parameters(
    db_path: Path, *, lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> RecordedParameters | None:
    """The parameters of the latest store that changed this file."""
    with open_player_db(db_path, read_only=True, lock_timeout_seconds=lock_timeout_seconds) as con:
        return player_db.read_recorded_parameters(con)


@dataclass(frozen=True)
class StoredFile:
    """What a player file holds from its stores: the last one's parameters, and the rows."""

    recorded: RecordedParameters
    stored_matches: int
    sessions: int


def read_stored_file(
    db_path: Path, *, lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS
) -> StoredFile | None:
    """The stored state of this file, or None if no store ever changed it.

    The parameters are read first, alone: most files a sensor asks about were never
    stored, and a v5+ file's counts cost a join of the warehouse.
    """
    with open_player_db(db_path, read_only=True, lock_timeout_seconds=lock_timeout_seconds) as con:
        recorded = player_db.read_recorded_parameters(con)
    if recorded is None:
        return None
    with open_player_file(
        db_path, read_only=True, lock_timeout_seconds=lock_timeout_seconds
    ) as file:
        stored_matches, sessions = player_db.count_stored(file)
    return StoredFile(recorded, stored_matches, sessions)


def find_drift(db_path: Path, *, now: datetime | None = None) -> pl.DataFrame:
    """Stored rows of closed sessions that a recompute with the recorded parameters disputes.

    A session still open (any of its matches recent) is left out: its label legitimately
    lags until its new matches become stable and get stored.
    """
    return drift_of(read_stored(db_path), now=now)


@dataclass(frozen=True)
class StoredRead:
    """What the checks judge a file by: its recorded parameters and its whole timeline."""

    recorded: RecordedParameters | None
    timeline: pl.DataFrame


def read_stored(
    db_path: Path,
    *,
    with_signatures: bool = True,
    start_time_zone: str = DEFAULT_START_TIME_ZONE,
    player: Player | None = None,
) -> StoredRead:
    """One read of the file for both checks (an open alone costs about 15 ms), its start
    times read as the last store read them (`start_time_zone` for a file never stored)."""
    with open_player_file(db_path, read_only=True, **identity(player)) as file:
        recorded = player_db.read_recorded_parameters(file.con)
        replayed = (
            recorded.params if recorded else SessionParameters(start_time_zone=start_time_zone)
        )
        timeline = player_db.read_timeline(
            file,
            start_time_zone=replayed.start_time_zone,
            with_signatures=with_signatures,
            with_ranked=replayed.split_on_ranked_change,
        ).frame
    return StoredRead(recorded, timeline)


def drift_of(stored: StoredRead, *, now: datetime | None = None) -> pl.DataFrame:
    """`find_drift` on a file already read."""
    recorded, timeline = stored.recorded, stored.timeline
    if recorded is None:
        return _drift_frame(compute_sessions(timeline.clear(), SessionParameters()))
    cutoff = stability_cutoff(now, recorded.stability_hours)
    sessions = compute_sessions(timeline, recorded.params)
    closed = pl.col("start_time").max().over("session_id") <= cutoff
    disputed = pl.col("stored_session_id").ne_missing(pl.col("session_id")) | pl.col(
        "stored_session_label"
    ).ne_missing(pl.col("session_label"))
    return _drift_frame(
        sessions.filter(closed & pl.col("stored_session_id").is_not_null() & disputed)
    )


def _drift_frame(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        "match_id",
        "start_time",
        pl.col("stored_session_id"),
        pl.col("stored_session_label"),
        pl.col("session_id").alias("recomputed_session_id"),
        pl.col("session_label").alias("recomputed_session_label"),
    )


def find_unstored_stable(
    db_path: Path, *, now: datetime | None = None, stability_hours: float | None = None
) -> pl.DataFrame:
    """Stable matches still without a stored session (what the completeness check flags)."""
    stored = read_stored(db_path, with_signatures=False)
    return unstored_stable_of(stored, now=now, stability_hours=stability_hours)


def unstored_stable_of(
    stored: StoredRead, *, now: datetime | None = None, stability_hours: float | None = None
) -> pl.DataFrame:
    """`find_unstored_stable` on a file already read."""
    if stability_hours is None:
        recorded = stored.recorded
        stability_hours = recorded.stability_hours if recorded else DEFAULT_STABILITY_HOURS
    cutoff = stability_cutoff(now, stability_hours)
    return stored.timeline.filter(
        pl.col("stored_session_id").is_null() & (pl.col("start_time") <= cutoff)
    ).select("match_id", "start_time")
