"""Sensors that keep stored sessions right as the friends list changes and matches age,
and that keep the instance's view of the files true.

Each is built by a small factory over an app root, and each keeps its memory in the
sensor cursor (JSON), so a tick only does the work that changed. A file
that cannot be read makes a sensor skip with the file's error, never crash: the next
tick tries again, and the UI shows the reason.
"""

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

import dagster as dg
import polars as pl

from sessions_pipeline.errors import FILE_ERRORS
from sessions_pipeline.levelup.app_root import AppRoot, Player
from sessions_pipeline.levelup.friends import load_friends_config, resolve_friends
from sessions_pipeline.levelup.settings import (
    LevelUpSettings,
    read_levelup_settings,
    resolve_parameters,
)
from sessions_pipeline.levelup.sql import player_db
from sessions_pipeline.levelup.sql.player_file import open_player_file
from sessions_pipeline.levelup.store import StoredFile, read_recorded_parameters, read_stored_file
from sessions_pipeline.orchestration.run_config import (
    RUN_CONFIG,
    replayed_rules,
    sessions_run_config,
)
from sessions_pipeline.rules.planning import utc_naive_now
from sessions_pipeline.rules.sessions import DEFAULT_STABILITY_HOURS

FRIENDS_SENSOR_INTERVAL_SECONDS = 60
STABILITY_SENSOR_INTERVAL_SECONDS = 300
STORED_FILES_SENSOR_INTERVAL_SECONDS = 120
# A run holding a player file's write lock must not stall a tick: skip it, retry next tick.
SENSOR_LOCK_TIMEOUT_SECONDS = 2.0


def _not_loaded(gamertag: str) -> str:
    return (
        f"{gamertag}: not a partition of the loaded definitions; reload the code location "
        "(UI: Deployment > Reload) to pick up new player files"
    )


@dataclass
class _FriendsCursor:
    """What the friends sensor remembers between ticks."""

    content_hash: str | None = None
    generation: int = 0
    friends: dict[str, list[str]] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, cursor: str | None) -> Self:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(data["content_hash"], data["generation"], data["friends"], data["pending"])

    def dump(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


def _content_hash(path: Path) -> str:
    """The friends file's content hash ("absent" when there is none: no entries)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "absent"


def build_friends_sensor(
    root: AppRoot, job_name: str, partition_keys: Collection[str]
) -> dg.SensorDefinition:
    """A sensor re-materialising, with `force`, each player whose resolved friends changed.

    It acts when the content of friends_defaults.json changes. A player's previous friends
    set is the one this sensor last resolved, else the one recorded in the player's file by
    its last store (so the first tick corrects files stored with another set), else none (a
    never-stored player has nothing to correct). One change gives at most one run per
    player: the run key names the player and the change. Players whose file could not be
    read stay pending and are retried on the next ticks.
    """
    loaded = frozenset(partition_keys)

    @dg.sensor(
        name="friends_changed_sensor",
        job_name=job_name,
        minimum_interval_seconds=FRIENDS_SENSOR_INTERVAL_SECONDS,
        description="When .streamlit/friends_defaults.json changes, re-stores (force) the "
        "players whose resolved friends changed.",
    )
    def friends_changed_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        state = _FriendsCursor.parse(context.cursor)
        try:
            content_hash = _content_hash(root.friends_file)
            changed = content_hash != state.content_hash
            if not changed and not state.pending:
                return dg.SensorResult(skip_reason=f"{root.friends_file.name} unchanged")
            config = load_friends_config(root.friends_file)
            players = {player.gamertag: player for player in root.players()}
        except FILE_ERRORS as error:
            return dg.SensorResult(skip_reason=str(error))
        generation = state.generation + 1 if changed else state.generation
        targets = sorted(players) if changed else [g for g in state.pending if g in players]
        friends = {g: xuids for g, xuids in state.friends.items() if g in players}
        pending: list[str] = []
        problems: list[str] = []
        run_requests: list[dg.RunRequest] = []
        for gamertag in targets:
            if gamertag not in loaded:
                problems.append(_not_loaded(gamertag))
                continue
            player = players[gamertag]
            try:
                resolution = resolve_friends(
                    root, player, config, lock_timeout_seconds=SENSOR_LOCK_TIMEOUT_SECONDS
                )
                recorded = read_recorded_parameters(
                    player.db_path, lock_timeout_seconds=SENSOR_LOCK_TIMEOUT_SECONDS
                )
            except FILE_ERRORS as error:
                pending.append(gamertag)
                problems.append(f"{gamertag}: {error}")
                continue
            if gamertag in friends:
                previous = friends[gamertag]
            else:
                previous = sorted(recorded.params.friends_xuids) if recorded else None
            current = sorted(resolution.xuids)
            friends[gamertag] = current
            if previous is not None and previous != current:
                run_requests.append(
                    dg.RunRequest(
                        run_key=f"friends:{gamertag}:{content_hash[:12]}:{generation}",
                        partition_key=gamertag,
                        run_config=sessions_run_config(rules=replayed_rules(recorded), force=True),
                    )
                )
        cursor = _FriendsCursor(content_hash, generation, friends, pending).dump()
        for problem in problems:
            context.log.warning(problem)
        if run_requests:
            return dg.SensorResult(run_requests=run_requests, cursor=cursor)
        reason = "; ".join(problems) or "friends file changed, but no player's friends did"
        return dg.SensorResult(skip_reason=reason, cursor=cursor)

    return friends_changed_sensor


def _fingerprint(db_path: Path) -> list[int]:
    """What changes when anything writes the file: its and its WAL's mtime and size."""
    fingerprint = []
    for path in (db_path, db_path.with_name(db_path.name + ".wal")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            fingerprint += [0, 0]
        else:
            fingerprint += [stat.st_mtime_ns, stat.st_size]
    return fingerprint


@dataclass(frozen=True)
class _Stability:
    """When the player's unstored matches become stable (the latest already, the next one),
    and the rules its last store was given, for the run that stores them."""

    latest_crossed: datetime | None
    next_crossing: datetime | None
    rules: dict[str, object]


def _stability(db_path: Path, now: datetime, settings: LevelUpSettings) -> _Stability:
    """Crossing times are those of the instants the run will read: its start-time zone is
    the replayed one, else the root's settings, else the default."""
    with open_player_file(
        db_path, read_only=True, lock_timeout_seconds=SENSOR_LOCK_TIMEOUT_SECONDS
    ) as file:
        recorded = player_db.read_recorded_parameters(file.con)
        rules = replayed_rules(recorded)
        zone = resolve_parameters(rules, settings, RUN_CONFIG).start_time_zone
        frame = player_db.read_timeline(file, start_time_zone=zone, with_signatures=False).frame
    stability_hours = recorded.stability_hours if recorded else DEFAULT_STABILITY_HOURS
    stable_at = frame.filter(pl.col("stored_session_id").is_null())["start_time"] + timedelta(
        hours=stability_hours
    )
    return _Stability(
        latest_crossed=stable_at.filter(stable_at <= now).max(),
        next_crossing=stable_at.filter(stable_at > now).min(),
        rules=rules,
    )


def build_stability_sensor(
    root: AppRoot, job_name: str, partition_keys: Collection[str]
) -> dg.SensorDefinition:
    """A sensor launching a player's run once an unstored match of it has become stable.

    Cheap with many players: the cursor keeps each file's fingerprint (mtime and size of
    the file and its WAL) and the next instant one of its unstored matches becomes stable.
    A file is reopened only when its fingerprint changed or that instant has passed. The
    run key is the player and the latest crossing, so a crossing gives one run.
    """
    loaded = frozenset(partition_keys)

    @dg.sensor(
        name="stability_sensor",
        job_name=job_name,
        minimum_interval_seconds=STABILITY_SENSOR_INTERVAL_SECONDS,
        description="Stores a player's sessions once one of its unstored matches is older "
        "than the stability threshold (4 h).",
    )
    def stability_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        state: dict[str, dict] = json.loads(context.cursor) if context.cursor else {}
        now = utc_naive_now()
        try:
            # A run launched now would fail on a broken friends file: skip until it's fixed.
            load_friends_config(root.friends_file)
            settings = read_levelup_settings(root)
            players = root.players()
        except FILE_ERRORS as error:
            return dg.SensorResult(skip_reason=str(error))
        cursor: dict[str, dict] = {}
        problems: list[str] = []
        run_requests: list[dg.RunRequest] = []
        not_reopened = 0
        for player in players:
            gamertag = player.gamertag
            if gamertag not in loaded:
                problems.append(_not_loaded(gamertag))
                continue
            known = state.get(gamertag)
            try:
                fingerprint = _fingerprint(player.db_path)
                if known and known["fingerprint"] == fingerprint:
                    next_crossing = known["next_crossing"]
                    if next_crossing is None or datetime.fromisoformat(next_crossing) > now:
                        cursor[gamertag] = known
                        not_reopened += 1
                        continue
                stability = _stability(player.db_path, now, settings)
            except FILE_ERRORS as error:
                problems.append(f"{gamertag}: {error}")
                if known:
                    cursor[gamertag] = known
                continue
            next_crossing = stability.next_crossing
            cursor[gamertag] = {
                "fingerprint": fingerprint,
                "next_crossing": next_crossing.isoformat() if next_crossing else None,
            }
            if stability.latest_crossed is not None:
                run_requests.append(
                    dg.RunRequest(
                        run_key=f"stable:{gamertag}:{stability.latest_crossed.isoformat()}",
                        partition_key=gamertag,
                        run_config=sessions_run_config(rules=stability.rules),
                    )
                )
        dumped = json.dumps(cursor, sort_keys=True)
        for problem in problems:
            context.log.warning(problem)
        if run_requests:
            return dg.SensorResult(run_requests=run_requests, cursor=dumped)
        reason = "; ".join(
            [*problems, f"no unstored match became stable ({not_reopened} files unchanged)"]
        )
        return dg.SensorResult(skip_reason=reason, cursor=dumped)

    return stability_sensor


def build_stored_files_sensor(
    root: AppRoot, asset_key: dg.AssetKey, partition_keys: Collection[str]
) -> dg.SensorDefinition:
    """A sensor reporting, from the files, the stores this Dagster instance never saw.

    A file stored by a run on another instance, or by a backfill without DAGSTER_HOME,
    holds sessions while the UI shows its partition as Missing: only a materialization
    flips a partition's status (an observation does not, for a materializable asset). So
    for each player whose last store (recorded in its file) is newer than the partition's
    latest materialization, a tick reports one, with what the file holds. It runs by
    default, since it never writes a file and never launches a run; the cursor keeps each
    file's fingerprint, so a file is reopened only after something wrote it.
    """
    loaded = frozenset(partition_keys)

    @dg.sensor(
        name="stored_files_sensor",
        minimum_interval_seconds=STORED_FILES_SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Reports a materialization of stored_sessions for each player file "
        "stored outside this Dagster instance, so its partition is not shown as Missing.",
    )
    def stored_files_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        state: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
        try:
            players = root.players()
        except FILE_ERRORS as error:
            return dg.SensorResult(skip_reason=str(error))
        cursor: dict[str, list[int]] = {}
        problems: list[str] = []
        events: list[dg.AssetMaterialization] = []
        for player in players:
            gamertag = player.gamertag
            if gamertag not in loaded:
                problems.append(_not_loaded(gamertag))
                continue
            try:
                fingerprint = _fingerprint(player.db_path)
                if state.get(gamertag) != fingerprint:
                    stored = read_stored_file(
                        player.db_path, lock_timeout_seconds=SENSOR_LOCK_TIMEOUT_SECONDS
                    )
                    if stored and _unseen(context.instance, asset_key, gamertag, stored):
                        events.append(_stored_file_materialization(asset_key, player, stored))
            except FILE_ERRORS as error:
                problems.append(f"{gamertag}: {error}")
                continue
            cursor[gamertag] = fingerprint
        dumped = json.dumps(cursor, sort_keys=True)
        for problem in problems:
            context.log.warning(problem)
        # A tick launches no run, so its history shows this reason, with or without events.
        found = ", ".join(str(event.partition) for event in events)
        outcome = f"reported the stores of {found}" if events else "the instance knows every store"
        return dg.SensorResult(
            asset_events=events, skip_reason="; ".join([*problems, outcome]), cursor=dumped
        )

    return stored_files_sensor


def _unseen(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, gamertag: str, stored: StoredFile
) -> bool:
    """Whether the file's last store is newer than the partition's latest materialization."""
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[gamertag]), limit=1
    ).records
    stored_at = stored.recorded.stored_at.replace(tzinfo=UTC).timestamp()
    return not latest or latest[0].timestamp < stored_at


def _stored_file_materialization(
    asset_key: dg.AssetKey, player: Player, stored: StoredFile
) -> dg.AssetMaterialization:
    stored_at = stored.recorded.stored_at.replace(tzinfo=UTC)
    params = stored.recorded.params
    summary = (
        f"{stored.sessions} sessions ({stored.stored_matches} matches) found stored in the "
        f"file, last stored {stored_at:%Y-%m-%d %H:%M} UTC outside this Dagster instance"
    )
    return dg.AssetMaterialization(
        asset_key=asset_key,
        partition=player.gamertag,
        description="Reported by stored_files_sensor from the player file.",
        metadata={
            "summary": dg.MetadataValue.text(summary),
            "sessions_stored": dg.MetadataValue.int(stored.sessions),
            "stored_matches": dg.MetadataValue.int(stored.stored_matches),
            "stored_at": dg.MetadataValue.timestamp(stored_at),
            "gap_minutes": dg.MetadataValue.int(params.gap_minutes),
            "friends_count": dg.MetadataValue.int(len(params.friends_xuids)),
            "team_change_mode": dg.MetadataValue.text(params.team_change_mode.value),
            "split_on_ranked_change": dg.MetadataValue.bool(params.split_on_ranked_change),
            "start_time_zone": dg.MetadataValue.text(params.start_time_zone),
            "label_time_zone": dg.MetadataValue.text(params.label_time_zone),
            "db_path": dg.MetadataValue.path(str(player.db_path)),
        },
    )
