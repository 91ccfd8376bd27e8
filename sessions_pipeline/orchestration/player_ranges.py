"""Runs over a range of players: Dagster's per-run cost paid once for many partitions.

A run costs about 0.3 s of Dagster work (run start and end, each step's own events)
whatever it stores, five times a 10,000-match player's own store. The assets therefore take
a backfill policy of at most `PLAYERS_PER_RUN` players per run, and in such a run each
asset does its players one after the other: each player still stores in its own
transaction, gets its own materialization and metadata, and one that fails is recorded as
a `PlayerFailure` that its later assets pass on untouched, so the others go on. A
single-partition run (the UI, sensors, the schedule, `backfill --gamertag`) runs exactly
as before: no range, no catching.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
from pydantic import Field, PrivateAttr

from sessions_pipeline.orchestration.dagster_internals import CheckTarget, check_target

PLAYERS_PER_RUN = 25
"""Most players of one run: enough that the per-run cost is a small part of the run, few
enough that a run's outputs (every player's timeline, held in memory by the step that
reads them) stay small, and that a Dagster backfill still spreads over several runs."""
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=PLAYERS_PER_RUN)
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

T = TypeVar("T")
PerPlayer = Any
"""An asset input: the player's value, or in a range run a dict of them by player (failures
included). `Any` for Dagster, which refuses a union annotation; `of_player` unpacks it."""


@dataclass(frozen=True)
class PlayerFailure:
    """Why one player of a range run stopped, and at which asset; its later assets skip it."""

    asset: str
    error: str

    def __str__(self) -> str:
        return f"{self.asset}: {self.error}"


class UpstreamFailedError(Exception):
    """An input of this player is a `PlayerFailure`: there is nothing to compute from."""

    def __init__(self, failure: PlayerFailure) -> None:
        super().__init__(f"upstream {failure}")
        self.failure = failure


def is_range(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> bool:
    """Whether the run covers several players (a single partition runs as it always did)."""
    op_context = (
        context.op_execution_context
        if isinstance(context, dg.AssetCheckExecutionContext)
        else context
    )
    return len(op_context.partition_keys) > 1


def of_player(context: dg.AssetExecutionContext, value: Any, key: str) -> Any:
    """An input's value for player `key` (in a range run the input is a dict by player),
    or the player's earlier failure raised again."""
    mine = value[key] if is_range(context) else value
    if isinstance(mine, PlayerFailure):
        raise UpstreamFailedError(mine)
    return mine


def attempt(
    context: dg.AssetExecutionContext, key: str, work: Callable[[str], T]
) -> T | PlayerFailure:
    """`work(key)`, or the player's failure, logged with the player's name.

    Any exception counts: in a range run one player's bug must not cost the others their
    stores. The error keeps its class name, as the CLI prints a failed step's error.
    """
    try:
        return work(key)
    except UpstreamFailedError as skipped:
        return skipped.failure
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [""])[0]
        failure = PlayerFailure(
            context.asset_key.to_user_string(), f"{type(error).__name__}: {first_line}"
        )
        context.log.error(f"{key}: {failure}")
        return failure


def failure_metadata(failure: PlayerFailure) -> dict[str, dg.MetadataValue]:
    """What a failed player's partition of an intermediate asset says instead of its figures."""
    return {"error": dg.MetadataValue.text(str(failure))}


def per_player_output(
    context: dg.AssetExecutionContext,
    compute: Callable[[str], T],
    metadata: Callable[[T], Mapping[str, dg.MetadataValue]],
) -> dg.Output:
    """The asset's output: one value as before, or in a range run a dict by player.

    In a range, each player's metadata goes to its own materialization
    (`add_asset_metadata(..., partition_key=...)`), and a failed player's value is its
    `PlayerFailure`, so the later assets of the run know to skip it.
    """
    if not is_range(context):
        value = compute(context.partition_key)
        return dg.Output(value, metadata=dict(metadata(value)))
    values: dict[str, T | PlayerFailure] = {}
    for key in context.partition_keys:
        value = attempt(context, key, compute)
        shown = failure_metadata(value) if isinstance(value, PlayerFailure) else metadata(value)
        context.add_asset_metadata(dict(shown), partition_key=key)
        values[key] = value
    return dg.Output(values)


def record_check_evaluations(
    context: dg.AssetCheckExecutionContext,
    asset_key: dg.AssetKey,
    evaluate: Callable[[str], Iterable[dg.AssetCheckResult]],
) -> Iterator[dg.Output]:
    """One evaluation per check and player of a range run, each on its player's partition.

    An `AssetCheckResult` names no partition (Dagster gives it the run's single one), so
    in a range each result is logged as an evaluation of its player, tied to the player's
    latest materialization as Dagster ties a single-partition result. The op's outputs,
    one per selected check, are then yielded empty, as a result's would be.
    """
    op_context = context.op_execution_context
    targets = _latest_materializations(context, asset_key, op_context.partition_keys)
    for key in op_context.partition_keys:
        target = targets.get(key)
        for result in evaluate(key):
            op_context.log_event(
                dg.AssetCheckEvaluation(
                    asset_key=asset_key,
                    check_name=str(result.check_name),
                    passed=result.passed,
                    metadata=result.metadata,
                    target_materialization_data=target,
                    partition=key,
                )
            )
    checks = op_context.assets_def
    for check_key in context.selected_asset_check_keys:
        yield dg.Output(None, output_name=checks.get_output_name_for_asset_check_key(check_key))


def _latest_materializations(
    context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey, keys: list[str]
) -> dict[str, CheckTarget]:
    """Each player's latest materialization, by one query for the whole range.

    After a range run every player's newest record is among the range's newest ones; a
    player found there no more (checks run alone, an older store) is asked for on its own.
    """
    found = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys), limit=len(keys)
    ).records
    latest: dict[str, dg.EventLogRecord] = {}
    for record in found:  # newest first: the first record of a player is its latest
        latest.setdefault(record.partition_key, record)
    for key in keys:
        if key not in latest:
            older = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[key]), limit=1
            ).records
            if older:
                latest[key] = older[0]
    return {key: check_target(record) for key, record in latest.items()}


PICKLE_PROTOCOL = 4
"""The protocol of Dagster's own pickle files (`FilesystemIOManager`), kept for the same files."""


class PlayerPicklesIOManager(dg.ConfigurableIOManager):
    """Dagster's filesystem pickles, file for file, also for an output of several players.

    `FilesystemIOManager` refuses an output of several partitions; a range run's output is
    a dict by player, so each player's value goes to the file a single-partition run of
    that player writes, and any run loads it back, alone or in a dict by player. The files
    are `FilesystemIOManager`'s, `<base_dir>/<asset>/<partition key>` (the key's leading
    `/` and `..` segments escaped as Dagster escapes them), so an instance's files from
    before stay readable. Every asset here is partitioned by player; nothing else comes
    through. On a throwaway instance (the CLI without DAGSTER_HOME, `materialize` in
    tests) the outputs stay in memory instead: the files would go with the instance, and
    writing and reading them back was a tenth of a range run's time a player.
    """

    base_dir: str | None = Field(
        default=None,
        description="Where the pickles go (default: the instance's storage directory).",
    )
    _directory: Path | None = PrivateAttr(default=None)
    _memory: dg.InMemoryIOManager | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        instance = context.instance
        if instance is None or instance.is_ephemeral:
            self._memory = dg.InMemoryIOManager()
        else:
            self._directory = Path(self.base_dir or instance.storage_directory())

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if self._memory is not None:
            self._memory.handle_output(context, obj)
            return
        paths = self._paths(context)
        if len(paths) > 1:
            for key, path in paths.items():
                _pickle(obj[key], path)
            return
        (path,) = paths.values()
        _pickle(obj, path)
        if obj is not None:  # as Dagster's, a single partition's metadata says where it went
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        if self._memory is not None:
            return self._memory.load_input(context)
        values = {key: _unpickle(path) for key, path in self._paths(context).items()}
        return values if len(values) > 1 else next(iter(values.values()))

    def _paths(self, context: dg.InputContext | dg.OutputContext) -> dict[str, Path]:
        """The file of each partition of the output, or of the upstream output loaded."""
        assert self._directory is not None  # set up for files, not memory
        asset = self._directory.joinpath(*context.asset_key.path)
        return {key: asset / _escaped(key) for key in context.asset_partition_keys}


def _escaped(partition_key: str) -> str:
    """A partition key as a path under its asset's folder: a leading `/` becomes `%2F` and
    each `..` segment `%2E%2E`, as Dagster's filesystem IO manager writes them."""
    if partition_key.startswith("/"):
        partition_key = "%2F" + partition_key[1:]
    return "/".join("%2E%2E" if part == ".." else part for part in partition_key.split("/"))


def _pickle(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        pickle.dump(obj, file, PICKLE_PROTOCOL)


def _unpickle(path: Path) -> Any:
    with path.open("rb") as file:
        return pickle.load(file)
