"""Asset checks on `stored_sessions`: what is in the file is what the rules say.

Both read the player file, not the run's outputs, so they can also be executed on their
own from the UI (e.g. after someone edited a file by hand). A dry run materializes
nothing, so the checks do not run after one: there is nothing new to check.
"""

import warnings
from collections.abc import Callable

import dagster as dg

from sessions_pipeline.app_root import AppRoot
from sessions_pipeline.assets import markdown_table
from sessions_pipeline.player_ranges import is_range, record_check_evaluations
from sessions_pipeline.store import find_drift, find_unstored_stable

ROWS_SHOWN = 20


def build_session_checks(
    root: AppRoot, stored_sessions: dg.AssetsDefinition, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetChecksDefinition]:
    """The drift and completeness checks, one evaluation per player (partition).

    Partitioned checks are a preview feature in Dagster 1.13; they are what makes a
    player's check status its own in the UI, so the preview warning is silenced here only.
    """

    def drift_result(gamertag: str) -> dg.AssetCheckResult:
        drift = find_drift(root.player(gamertag).db_path)
        return dg.AssetCheckResult(
            passed=drift.is_empty(),
            metadata={
                "drifted_rows": dg.MetadataValue.int(len(drift)),
                "rows": dg.MetadataValue.md(markdown_table(drift, limit=ROWS_SHOWN)),
            },
        )

    def unstored_result(gamertag: str) -> dg.AssetCheckResult:
        unstored = find_unstored_stable(root.player(gamertag).db_path)
        return dg.AssetCheckResult(
            passed=unstored.is_empty(),
            metadata={
                "unstored_stable_rows": dg.MetadataValue.int(len(unstored)),
                "rows": dg.MetadataValue.md(markdown_table(unstored, limit=ROWS_SHOWN)),
            },
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)

        @dg.asset_check(
            asset=stored_sessions,
            partitions_def=partitions_def,
            description="Stored values of closed sessions equal a recompute with the "
            "parameters recorded in the file.",
        )
        def no_drift(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult | None:
            return _evaluate(context, stored_sessions.key, "no_drift", drift_result)

        @dg.asset_check(
            asset=stored_sessions,
            partitions_def=partitions_def,
            description="No stable match (older than the stability threshold) is left "
            "without a stored session.",
        )
        def no_unstored_stable_match(
            context: dg.AssetCheckExecutionContext,
        ) -> dg.AssetCheckResult | None:
            return _evaluate(
                context, stored_sessions.key, "no_unstored_stable_match", unstored_result
            )

    return [no_drift, no_unstored_stable_match]


def _evaluate(
    context: dg.AssetCheckExecutionContext,
    asset_key: dg.AssetKey,
    check_name: str,
    evaluate: Callable[[str], dg.AssetCheckResult],
) -> dg.AssetCheckResult | None:
    """The player's result, or in a range run one evaluation logged per player."""
    if not is_range(context):
        return evaluate(context.partition_key)
    record_check_evaluations(context, asset_key, check_name, evaluate)
    return None
