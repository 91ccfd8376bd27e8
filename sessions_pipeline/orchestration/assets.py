"""The four assets of a player's sessions, each a thin call into the core library.

`friends_xuids` -> `match_timeline` -> `computed_sessions` -> `stored_sessions`, one
partition per player. The assets orchestrate and describe; the rules, the reads and the
writes live in the core modules, so the CLI, the tests and the UI all run the same code.
The metadata is what a person reads in the UI to understand a run without the file.
"""

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import polars as pl

from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.friends import FriendsResolution, resolve_friends
from sessions_pipeline.levelup.settings import (
    ResolvedParameters,
    read_levelup_settings,
    resolve_parameters,
)
from sessions_pipeline.levelup.sql.player_db import TimelineRead
from sessions_pipeline.levelup.sql.player_file import written_table
from sessions_pipeline.levelup.store import (
    StoreOptions,
    StoreResult,
    read_timeline,
    read_warnings,
    store_sessions,
)
from sessions_pipeline.orchestration.player_ranges import (
    BACKFILL_POLICY,
    PerPlayer,
    PlayerFailure,
    attempt,
    is_range,
    of_player,
    per_player_output,
)
from sessions_pipeline.orchestration.run_config import (
    RUN_CONFIG,
    ComputedSessionsConfig,
    StoredSessionsConfig,
    validated_config_schema,
)
from sessions_pipeline.rules.planning import stability_cutoff
from sessions_pipeline.rules.sessions import (
    DEFAULT_STABILITY_HOURS,
    SessionParameters,
    compute_sessions,
    describe_parameters,
    summarize_sessions,
)

GROUP_NAME = "sessions"
LATEST_SESSIONS_SHOWN = 10
CHANGES_SHOWN = 50
OWNERS = ["team:levelup"]
# Bump when what the assets compute changes: the UI then marks partitions materialized by
# older code as changed, so someone knows to re-run them (with `force`).
CODE_VERSION = "1"
CODE_VERSION_TAG = "dagster/code_version"
# What the `player_file` tag says: which assets only read the player's DuckDB file, which
# one writes it.
READS, WRITES, IN_MEMORY = "reads", "writes", "untouched"
STORED_COLUMNS = dg.TableSchema(
    columns=[
        dg.TableColumn(
            "session_id",
            "INTEGER or VARCHAR",
            description="0 for the player's oldest session, +1 per new session; never moves. "
            "Decimal text where the column is VARCHAR (LevelUp v4's, and every v5+ file).",
        ),
        dg.TableColumn(
            "session_label",
            "VARCHAR",
            description="DD/MM/YYYY HH:MM\N{EN DASH}HH:MM (N) in the label time zone "
            "(default Europe/Paris): first match, last match, number of matches.",
        ),
    ]
)


@dataclass(frozen=True)
class ComputedSessions:
    """The sessions of a player's timeline and the parameters that cut them.

    The store re-reads the file inside its own transaction and recomputes there (that read
    is the authoritative one); it takes `params` from here so both use the same values.
    """

    params: SessionParameters
    sessions: pl.DataFrame
    sources: dict[str, str]
    warnings: tuple[str, ...] = ()


def run_rules(root: AppRoot, run_config: dict) -> ResolvedParameters:
    """The rules of this run: `computed_sessions`' config, else the root's LevelUp
    settings, else the defaults. `match_timeline` reads the file with them too (a naive
    start time is wall clock of the run's start-time zone), so both assets see one set."""
    op_config = run_config.get("ops", {}).get("computed_sessions", {}).get("config") or {}
    given = ComputedSessionsConfig(**op_config).given()
    return resolve_parameters(given, read_levelup_settings(root), RUN_CONFIG)


def build_session_assets(
    root: AppRoot, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    """The four assets over `root`, partitioned by `partitions_def` (its gamertags).

    `backfill_policy` is a beta parameter in Dagster 1.13; it is what lets a backfill run
    many players in one run, so its warning is silenced here only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _session_assets(root, partitions_def)


def _session_assets(
    root: AppRoot, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=BACKFILL_POLICY,
        group_name=GROUP_NAME,
        kinds={"duckdb", "json"},
        owners=OWNERS,
        tags={"player_file": READS},
        code_version=CODE_VERSION,
        description="The player's friends: its entry in `.streamlit/friends_defaults.json`, "
        "else its two most frequent teammates. A friend joining, or the player going solo, "
        "starts a new session.",
    )
    def friends_xuids(context: dg.AssetExecutionContext) -> dg.Output:
        return per_player_output(
            context, lambda key: resolve_friends(root, root.player(key)), _friends_metadata
        )

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=BACKFILL_POLICY,
        group_name=GROUP_NAME,
        kinds={"duckdb", "polars"},
        owners=OWNERS,
        tags={"player_file": READS},
        code_version=CODE_VERSION,
        deps=[friends_xuids],
        description="The player's matches (its file's `match_stats` in LevelUp v4, the shared "
        "warehouse since v5), in (start instant, match_id) "
        "order, with the session values already stored. A naive start time is wall clock "
        "of the run's start_time_zone (LevelUp's sync writes the machine's).",
    )
    def match_timeline(context: dg.AssetExecutionContext) -> dg.Output:
        rules = run_rules(root, context.run_config)
        reading = SessionParameters(
            start_time_zone=rules.start_time_zone,
            split_on_ranked_change=rules.split_on_ranked_change,
        )

        def read(key: str) -> TimelineRead:
            player = root.player(key)
            return read_timeline(player.db_path, reading, player=player)

        return per_player_output(context, read, _timeline_metadata)

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=BACKFILL_POLICY,
        group_name=GROUP_NAME,
        kinds={"polars"},
        owners=OWNERS,
        tags={"player_file": IN_MEMORY},
        code_version=CODE_VERSION,
        config_schema=validated_config_schema(ComputedSessionsConfig),
        description="Every match's session and why each session started (first, gap, "
        "ranked_changed, friend_joined, went_solo, teammates_changed). Each rule is the run "
        "config's, else the root's LevelUp setting (app_settings.json), else the default. "
        "Computed in memory: nothing written.",
    )
    def computed_sessions(
        context: dg.AssetExecutionContext,
        friends_xuids: PerPlayer,
        match_timeline: PerPlayer,
    ) -> dg.Output:
        rules = run_rules(root, context.run_config)

        def compute(key: str) -> ComputedSessions:
            friends: FriendsResolution = of_player(context, friends_xuids, key)
            timeline: TimelineRead = of_player(context, match_timeline, key)
            params, sources = rules.with_friends(friends.xuids, friends.described_source)
            warnings = tuple(read_warnings(timeline, params))
            for warning in warnings:
                context.log.warning(f"{key}: {warning}" if is_range(context) else warning)
            sessions = compute_sessions(timeline.frame, params)
            return ComputedSessions(params, sessions, sources, warnings)

        return per_player_output(context, compute, _sessions_metadata)

    @dg.asset(
        partitions_def=partitions_def,
        backfill_policy=BACKFILL_POLICY,
        group_name=GROUP_NAME,
        kinds={"duckdb"},
        owners=OWNERS,
        tags={"player_file": WRITES},
        code_version=CODE_VERSION,
        metadata={"dagster/column_schema": STORED_COLUMNS},
        config_schema=validated_config_schema(StoredSessionsConfig),
        output_required=False,
        description="`session_id` and `session_label` frozen into the player's file "
        "(`match_stats` in LevelUp v4, `player_match_enrichment` since v5; the warehouse is "
        "never written): matches older than 4 h, only the rows that change, in one "
        "transaction. A dry run "
        "records an observation instead: the file did not change.",
    )
    def stored_sessions(
        context: dg.AssetExecutionContext, computed_sessions: PerPlayer
    ) -> Iterator[dg.MaterializeResult]:
        config = StoredSessionsConfig(**context.op_execution_context.op_config)
        options = StoreOptions(
            force=config.force, include_recent=config.include_recent, dry_run=config.dry_run
        )

        def store(key: str) -> StoreResult:
            computed: ComputedSessions = of_player(context, computed_sessions, key)
            player = root.player(key)
            result = store_sessions(
                player.db_path, computed.params, options, sources=computed.sources, player=player
            )
            prefix = f"{key}: " if is_range(context) else ""
            for warning in result.warnings:
                context.log.warning(prefix + warning)
            context.log.info(prefix + result.summary())
            return result

        if is_range(context):
            yield from _store_each_player(context, store, options)
            return
        result = store(context.partition_key)
        if result.dry_run:
            _observe(context, context.partition_key, _store_metadata(result, options))
            return
        yield dg.MaterializeResult(metadata=_store_metadata(result, options))

    return [friends_xuids, match_timeline, computed_sessions, stored_sessions]


def _store_each_player(
    context: dg.AssetExecutionContext,
    store: Callable[[str], StoreResult],
    options: StoreOptions,
) -> Iterator[dg.MaterializeResult]:
    """A range run's stores, one transaction per player, each recorded on its partition.

    When every player stored, one `MaterializeResult` records them all, each with its own
    metadata, and the checks run after it. When one failed, the others' materializations
    are logged one by one (a result would also mark the failed ones materialized), then
    the step fails naming every failed player, so the run and their partitions show failed.
    """
    results = {key: attempt(context, key, store) for key in context.partition_keys}
    failures = {key: r for key, r in results.items() if isinstance(r, PlayerFailure)}
    stored = {key: r for key, r in results.items() if isinstance(r, StoreResult)}
    for key, result in stored.items():
        metadata = _store_metadata(result, options)
        if result.dry_run:
            _observe(context, key, metadata)
        elif failures:
            context.log_event(
                dg.AssetMaterialization(
                    context.asset_key,
                    partition=key,
                    metadata=metadata,
                    # What a materialization from a result carries, so the UI does not
                    # take these partitions for ones stored by other code.
                    tags={CODE_VERSION_TAG: CODE_VERSION},
                )
            )
        else:
            context.add_asset_metadata(metadata, partition_key=key)
    if failures:
        raise dg.Failure(
            description=f"{len(failures)} of {len(results)} players failed: "
            + "; ".join(f"{key}: {failure}" for key, failure in failures.items()),
            metadata={key: dg.MetadataValue.text(str(f)) for key, f in failures.items()},
        )
    if not options.dry_run:
        yield dg.MaterializeResult()


def _observe(
    context: dg.AssetExecutionContext, key: str, metadata: dict[str, dg.MetadataValue]
) -> None:
    """A dry run's record: an observation, since the file did not change."""
    context.log_event(dg.AssetObservation(context.asset_key, partition=key, metadata=metadata))


def _friends_metadata(resolution: FriendsResolution) -> dict[str, dg.MetadataValue]:
    friends = pl.DataFrame(
        {
            "xuid": sorted(resolution.xuids),
            "gamertag": [resolution.gamertags.get(x, "?") for x in sorted(resolution.xuids)],
        },
        schema={"xuid": pl.String, "gamertag": pl.String},
    )
    return {
        "source": dg.MetadataValue.text(str(resolution.source)),
        "player_xuid": dg.MetadataValue.text(resolution.player_xuid or "unknown"),
        "friends_count": dg.MetadataValue.int(len(resolution.xuids)),
        "friends": dg.MetadataValue.md(markdown_table(friends)),
        "unresolved": dg.MetadataValue.text(_listing(resolution.unresolved)),
        "inactive_skipped": dg.MetadataValue.text(_listing(resolution.inactive)),
    }


def _timeline_metadata(timeline: TimelineRead) -> dict[str, dg.MetadataValue]:
    frame = timeline.frame
    stable = int((frame["start_time"] <= stability_cutoff(None, DEFAULT_STABILITY_HOURS)).sum())
    metadata = {
        "matches": dg.MetadataValue.int(len(frame)),
        "null_start_times": dg.MetadataValue.int(timeline.null_start_times),
        "null_match_ids": dg.MetadataValue.int(timeline.null_match_ids),
        "layout": dg.MetadataValue.text(timeline.layout),
        "orphan_enrichment_rows": dg.MetadataValue.int(timeline.orphan_enrichment_rows),
        "stable": dg.MetadataValue.int(stable),
        "recent": dg.MetadataValue.int(len(frame) - stable),
        "already_stored": dg.MetadataValue.int(int(frame["stored_session_id"].is_not_null().sum())),
        "first_start": dg.MetadataValue.text(_when(frame["start_time"].min())),
        "last_start": dg.MetadataValue.text(_when(frame["start_time"].max())),
    }
    if not timeline.has_signatures:
        metadata["warning"] = dg.MetadataValue.text("no teammates_signature: gap-only sessions")
    return metadata


def _sessions_metadata(computed: ComputedSessions) -> dict[str, dg.MetadataValue]:
    sessions = computed.sessions
    reasons = (
        sessions.filter(pl.col("break_reason").is_not_null())
        .group_by("break_reason")
        .len("sessions")
        .sort("sessions", "break_reason", descending=[True, False])
    )
    latest = summarize_sessions(sessions).select(
        "session_id", "session_label", "matches", "break_reason"
    )
    params = computed.params
    metadata = {
        "sessions": dg.MetadataValue.int(len(latest)),
        "matches": dg.MetadataValue.int(len(sessions)),
        **rules_metadata(params),
        "parameters": dg.MetadataValue.md(
            markdown_table(describe_parameters(params, computed.sources))
        ),
        "break_reasons": dg.MetadataValue.md(markdown_table(reasons)),
        "latest_sessions": dg.MetadataValue.md(markdown_table(latest, limit=LATEST_SESSIONS_SHOWN)),
    }
    if computed.warnings:
        metadata["warnings"] = dg.MetadataValue.text(_listing(computed.warnings))
    return metadata


def _store_metadata(result: StoreResult, options: StoreOptions) -> dict[str, dg.MetadataValue]:
    metadata = {
        "summary": dg.MetadataValue.text(result.summary()),
        "dry_run": dg.MetadataValue.bool(result.dry_run),
        "force": dg.MetadataValue.bool(options.force),
        "include_recent": dg.MetadataValue.bool(options.include_recent),
        "written": dg.MetadataValue.int(result.written),
        "filled": dg.MetadataValue.int(result.filled),
        "relabelled": dg.MetadataValue.int(result.relabelled),
        "repaired": dg.MetadataValue.int(result.repaired),
        "unchanged": dg.MetadataValue.int(result.unchanged),
        "left_recent": dg.MetadataValue.int(result.left_recent),
        "sessions_stored": dg.MetadataValue.int(result.sessions),
        "matches": dg.MetadataValue.int(result.matches),
        "null_start_times": dg.MetadataValue.int(result.null_start_times),
        "db_path": dg.MetadataValue.path(str(result.db_path)),
        "layout": dg.MetadataValue.text(result.layout),
        "written_table": dg.MetadataValue.text(written_table(result.layout)),
    }
    if result.warnings:
        metadata["warnings"] = dg.MetadataValue.text(_listing(result.warnings))
    title = "would_change" if result.dry_run else "changed"
    metadata[title] = dg.MetadataValue.md(markdown_table(result.changes, limit=CHANGES_SHOWN))
    return metadata


def rules_metadata(params: SessionParameters) -> dict[str, dg.MetadataValue]:
    """The rules that cut a file's sessions, one entry each, as every run's metadata says."""
    return {
        "gap_minutes": dg.MetadataValue.int(params.gap_minutes),
        "friends_count": dg.MetadataValue.int(len(params.friends_xuids)),
        "team_change_mode": dg.MetadataValue.text(params.team_change_mode.value),
        "split_on_ranked_change": dg.MetadataValue.bool(params.split_on_ranked_change),
        "start_time_zone": dg.MetadataValue.text(params.start_time_zone),
        "label_time_zone": dg.MetadataValue.text(params.label_time_zone),
    }


def markdown_table(frame: pl.DataFrame, *, limit: int | None = None) -> str:
    """A frame as a Markdown table (the UI renders it), cut to `limit` rows with a note."""
    if frame.is_empty():
        return "_none_"
    shown = frame if limit is None else frame.head(limit)
    lines = [
        "| " + " | ".join(shown.columns) + " |",
        "|" + "---|" * len(shown.columns),
        *("| " + " | ".join(_cell(value) for value in row) + " |" for row in shown.iter_rows()),
    ]
    if len(frame) > len(shown):
        lines.append(f"\n…and {len(frame) - len(shown)} more")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return _when(value)
    return str(value).replace("|", "\\|")


def _when(instant: object) -> str:
    return instant.strftime("%Y-%m-%d %H:%M UTC") if isinstance(instant, datetime) else "—"


def _listing(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"
