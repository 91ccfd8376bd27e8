"""Asset checks on `stored_sessions`: what is in the file is what the rules say.

Both read the player file, not the run's outputs, so they can also be executed on their
own from the UI (e.g. after someone edited a file by hand). A dry run materializes
nothing, so the checks do not run after one: there is nothing new to check. They are one
op with two checks: a run reads each player's file once for both (a DuckDB open alone is
about 15 ms), and either can still be executed alone.
"""

import warnings
from collections.abc import Callable, Iterator

import dagster as dg
import polars as pl

from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.store import StoredRead, drift_of, read_stored, unstored_stable_of
from sessions_pipeline.orchestration.assets import markdown_table
from sessions_pipeline.orchestration.player_ranges import is_range, record_check_evaluations

ROWS_SHOWN = 20
NO_DRIFT, NO_UNSTORED_STABLE_MATCH = "no_drift", "no_unstored_stable_match"


def build_session_checks(
    root: AppRoot, stored_sessions: dg.AssetsDefinition, partitions_def: dg.PartitionsDefinition
) -> list[dg.AssetChecksDefinition]:
    """The drift and completeness checks, one evaluation per player (partition).

    Partitioned checks are a preview feature in Dagster 1.13; they are what makes a
    player's check status its own in the UI, so the preview warning is silenced here only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)

        @dg.multi_asset_check(
            name="stored_sessions_checks",
            specs=[
                dg.AssetCheckSpec(
                    NO_DRIFT,
                    asset=stored_sessions,
                    partitions_def=partitions_def,
                    description="Stored values of closed sessions equal a recompute with the "
                    "parameters recorded in the file.",
                ),
                dg.AssetCheckSpec(
                    NO_UNSTORED_STABLE_MATCH,
                    asset=stored_sessions,
                    partitions_def=partitions_def,
                    description="No stable match (older than the stability threshold) is "
                    "left without a stored session.",
                ),
            ],
            can_subset=True,
        )
        def stored_sessions_checks(
            context: dg.AssetCheckExecutionContext,
        ) -> Iterator[dg.AssetCheckResult | dg.Output]:
            selected = [
                name
                for name in _EVALUATORS
                if dg.AssetCheckKey(stored_sessions.key, name) in context.selected_asset_check_keys
            ]

            def results(gamertag: str) -> list[dg.AssetCheckResult]:
                player = root.player(gamertag)
                stored = read_stored(player.db_path, player=player)
                return [_EVALUATORS[name](stored, name) for name in selected]

            if is_range(context):
                yield from record_check_evaluations(context, stored_sessions.key, results)
                return
            yield from results(context.partition_key)

    return [stored_sessions_checks]


def _drift_result(stored: StoredRead, check_name: str) -> dg.AssetCheckResult:
    return _rows_result(check_name, drift_of(stored), "drifted_rows")


def _unstored_result(stored: StoredRead, check_name: str) -> dg.AssetCheckResult:
    return _rows_result(check_name, unstored_stable_of(stored), "unstored_stable_rows")


def _rows_result(check_name: str, rows: pl.DataFrame, count_name: str) -> dg.AssetCheckResult:
    """Passed when no row is found; the rows found (the first ones) shown beside their count."""
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=rows.is_empty(),
        metadata={
            count_name: dg.MetadataValue.int(len(rows)),
            "rows": dg.MetadataValue.md(markdown_table(rows, limit=ROWS_SHOWN)),
        },
    )


_EVALUATORS: dict[str, Callable[[StoredRead, str], dg.AssetCheckResult]] = {
    NO_DRIFT: _drift_result,
    NO_UNSTORED_STABLE_MATCH: _unstored_result,
}
