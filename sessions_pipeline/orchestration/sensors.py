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
from sessions_pipeline.levelup.app_root import AppRoot, Player, warehouse_path
from sessions_pipeline.levelup.friends import load_friends_config, resolve_friends
from sessions_pipeline.levelup.settings import (
    LevelUpSettings,
    read_levelup_settings,
    resolve_parameters,
)
from sessions_pipeline.levelup.sql import player_db
from sessions_pipeline.levelup.sql.player_file import (
    NO_MATCHES,
    MatchesSeen,
    matches_seen,
    open_player_file,
    warehouse_matches_seen,
)
from sessions_pipeline.levelup.store import (
    StoredFile,
    identity,
    read_recorded_parameters,
    read_stored_file,
)
from sessions_pipeline.orchestration.assets import rules_metadata
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
    the rules its last store was given, for the run that stores them, and, for a v5+
    player, its xuid and what the warehouse held of its matches at this read."""

    latest_crossed: datetime | None
    next_crossing: datetime | None
    rules: dict[str, object]
    warehouse_seen: tuple[str | None, MatchesSeen] | None


def _stability(player: Player, now: datetime, settings: LevelUpSettings) -> _Stability:
    """Crossing times are those of the instants the run will read: its start-time zone is
    the replayed one, else the root's settings, else the default."""
    with open_player_file(
        player.db_path,
        read_only=True,
        lock_timeout_seconds=SENSOR_LOCK_TIMEOUT_SECONDS,
        **identity(player),
    ) as file:
        recorded = player_db.read_recorded_parameters(file.con)
        rules = replayed_rules(recorded)
        zone = resolve_parameters(rules, settings, RUN_CONFIG).start_time_zone
        frame = player_db.read_timeline(file, start_time_zone=zone, with_signatures=False).frame
        warehouse_seen = None if file.is_v4 else (file.player_xuid, matches_seen(file))
    stability_hours = recorded.stability_hours if recorded else DEFAULT_STABILITY_HOURS
    stable_at = frame.filter(pl.col("stored_session_id").is_null())["start_time"] + timedelta(
        hours=stability_hours
    )
    return _Stability(
        latest_crossed=stable_at.filter(stable_at <= now).max(),
        next_crossing=stable_at.filter(stable_at > now).min(),
        rules=rules,
        warehouse_seen=warehouse_seen,
    )


@dataclass
class _WarehousePlayers:
    """The known v5+ players of one warehouse that a tick must not take on trust."""

    to_check: list[tuple[Player, list[int]]] = field(default_factory=list)
    """Own file and next crossing unchanged, but the warehouse changed since they were seen."""
    to_reopen: list[tuple[Player, list[int]]] = field(default_factory=list)
    """Own file changed or next crossing passed: reopened, if the warehouse can be read."""


class _StabilityTick:
    """One evaluation of the stability sensor: what it keeps, reopens and reports.

    The cursor maps a gamertag to its file's fingerprint, its next crossing and, for a v5+
    player, `warehouse`: the warehouse's fingerprint when the player was last seen, its
    xuid and its `MatchesSeen` then (None for a v4 player). A v5+ player's new matches
    change only the warehouse, which every sync writes: when its fingerprint changed, one
    query over it gives the `MatchesSeen` of all its players, and only those whose values
    moved are reopened.
    """

    def __init__(self, state: dict[str, dict], now: datetime, settings: LevelUpSettings) -> None:
        self.state = state
        self.now = now
        self.settings = settings
        self.cursor: dict[str, dict] = {}
        self.problems: list[str] = []
        self.run_requests: list[dg.RunRequest] = []
        self.unchanged = 0
        self.reopened = 0
        self.warehouse_reads = 0
        self._warehouse_fingerprints: dict[Path, list[int]] = {}

    def run(self, players: list[Player], loaded: frozenset[str]) -> None:
        to_reopen: list[tuple[Player, list[int]]] = []
        by_warehouse: dict[Path, _WarehousePlayers] = {}
        for player in players:
            if player.gamertag not in loaded:
                self.problems.append(_not_loaded(player.gamertag))
                continue
            self._sort(player, to_reopen, by_warehouse)
        for warehouse, group in by_warehouse.items():
            self._read_warehouse(warehouse, group, to_reopen)
        for player, fingerprint in to_reopen:
            self._reopen(player, fingerprint)

    def summary(self) -> str:
        """The tick's counts, in its skip reason and its log: what a slow tick is read by."""
        return (
            f"{self.unchanged} files unchanged, {self.reopened} reopened, "
            f"{self.warehouse_reads} warehouse reads"
        )

    def _sort(
        self,
        player: Player,
        to_reopen: list[tuple[Player, list[int]]],
        by_warehouse: dict[Path, _WarehousePlayers],
    ) -> None:
        """Keep the player's entry, or say what must be read to know."""
        known = self.state.get(player.gamertag)
        try:
            fingerprint = _fingerprint(player.db_path)
        except FILE_ERRORS as error:
            self._failed(player, error)
            return
        # No "warehouse" key: an entry of older code, which did not know v5+ players.
        if not known or "warehouse" not in known:
            to_reopen.append((player, fingerprint))
            return
        fresh = known["fingerprint"] == fingerprint and not self._crossing_passed(known)
        seen = known["warehouse"]
        if seen is None:
            if fresh:
                self._keep(player, known)
            else:
                to_reopen.append((player, fingerprint))
            return
        try:
            warehouse = warehouse_path(player.db_path)
            current = self._warehouse_fingerprint(warehouse)
        except FILE_ERRORS as error:
            self._failed(player, error)
            return
        if fresh and seen["fingerprint"] == current:
            self._keep(player, known)
            return
        group = by_warehouse.setdefault(warehouse, _WarehousePlayers())
        (group.to_check if fresh else group.to_reopen).append((player, fingerprint))

    def _crossing_passed(self, known: dict) -> bool:
        next_crossing = known["next_crossing"]
        return next_crossing is not None and datetime.fromisoformat(next_crossing) <= self.now

    def _read_warehouse(
        self,
        warehouse: Path,
        group: _WarehousePlayers,
        to_reopen: list[tuple[Player, list[int]]],
    ) -> None:
        """One query for the players to check; those whose matches moved are reopened.

        The players to reopen wait for it too: a warehouse that cannot be read (locked past
        the bounded wait, broken) is then reported for all of them at the cost of one wait,
        not of one wait per player.
        """
        seen = {
            player.gamertag: self.state[player.gamertag]["warehouse"]
            for player, _ in group.to_check
        }
        try:
            found = warehouse_matches_seen(
                warehouse,
                {entry["xuid"] for entry in seen.values()},
                lock_timeout_seconds=SENSOR_LOCK_TIMEOUT_SECONDS,
            )
        except FILE_ERRORS as error:
            for player, _ in group.to_check + group.to_reopen:
                self._failed(player, error)
            return
        self.warehouse_reads += 1
        current = self._warehouse_fingerprints[warehouse]
        for player, fingerprint in group.to_check:
            entry = seen[player.gamertag]
            if found.get(entry["xuid"], NO_MATCHES) == tuple(entry["matches"]):
                known = self.state[player.gamertag]
                self._keep(player, {**known, "warehouse": {**entry, "fingerprint": current}})
            else:
                to_reopen.append((player, fingerprint))
        to_reopen.extend(group.to_reopen)

    def _reopen(self, player: Player, fingerprint: list[int]) -> None:
        gamertag = player.gamertag
        try:
            # Taken before the read, so a write after it shows as a change on the next tick.
            warehouse_fingerprint = self._warehouse_fingerprint(warehouse_path(player.db_path))
        except FILE_ERRORS:
            # None for a v4 file; a v5+ one fails to open below, or is checked next tick.
            warehouse_fingerprint = None
        try:
            stability = _stability(player, self.now, self.settings)
        except FILE_ERRORS as error:
            self._failed(player, error)
            return
        self.reopened += 1
        next_crossing = stability.next_crossing
        warehouse = None
        if stability.warehouse_seen is not None:
            xuid, matches = stability.warehouse_seen
            warehouse = {"fingerprint": warehouse_fingerprint, "xuid": xuid, "matches": matches}
        self.cursor[gamertag] = {
            "fingerprint": fingerprint,
            "next_crossing": next_crossing.isoformat() if next_crossing else None,
            "warehouse": warehouse,
        }
        if stability.latest_crossed is not None:
            self.run_requests.append(
                dg.RunRequest(
                    run_key=f"stable:{gamertag}:{stability.latest_crossed.isoformat()}",
                    partition_key=gamertag,
                    run_config=sessions_run_config(rules=stability.rules),
                )
            )

    def _warehouse_fingerprint(self, warehouse: Path) -> list[int]:
        """Taken once a tick, before the first read of the warehouse in it."""
        if warehouse not in self._warehouse_fingerprints:
            self._warehouse_fingerprints[warehouse] = _fingerprint(warehouse)
        return self._warehouse_fingerprints[warehouse]

    def _keep(self, player: Player, entry: dict) -> None:
        self.cursor[player.gamertag] = entry
        self.unchanged += 1

    def _failed(self, player: Player, error: Exception) -> None:
        """Reported; the entry stays as it was, so the next tick tries again."""
        self.problems.append(f"{player.gamertag}: {error}")
        known = self.state.get(player.gamertag)
        if known:
            self.cursor[player.gamertag] = known


def build_stability_sensor(
    root: AppRoot, job_name: str, partition_keys: Collection[str]
) -> dg.SensorDefinition:
    """A sensor launching a player's run once an unstored match of it has become stable.

    Cheap with many players: the cursor keeps each file's fingerprint (mtime and size of
    the file and its WAL) and the next instant one of its unstored matches becomes stable;
    for a v5+ player, whose new matches land in the shared warehouse, also what it saw of
    them there (see `_StabilityTick`). A file is reopened only when its fingerprint
    changed, that instant has passed, or the warehouse has new matches of its player. The
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
        try:
            # A run launched now would fail on a broken friends file: skip until it's fixed.
            load_friends_config(root.friends_file)
            settings = read_levelup_settings(root)
            players = root.players()
        except FILE_ERRORS as error:
            return dg.SensorResult(skip_reason=str(error))
        tick = _StabilityTick(state, utc_naive_now(), settings)
        tick.run(players, loaded)
        dumped = json.dumps(tick.cursor, sort_keys=True)
        for problem in tick.problems:
            context.log.warning(problem)
        context.log.info(tick.summary())
        if tick.run_requests:
            return dg.SensorResult(run_requests=tick.run_requests, cursor=dumped)
        reason = "; ".join([*tick.problems, f"no unstored match became stable ({tick.summary()})"])
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
            **rules_metadata(params),
            "db_path": dg.MetadataValue.path(str(player.db_path)),
        },
    )
