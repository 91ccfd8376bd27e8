"""The periodic backfill: every player, every day, without `force`.

Sensors react to changes; the schedule is the safety net that stores whatever they
missed (a sensor that was off, a run that failed), as the plan's periodic backfill did.
"""

from collections.abc import Collection

import dagster as dg

from sessions_pipeline.errors import FILE_ERRORS
from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.store import read_recorded_parameters
from sessions_pipeline.orchestration.run_config import replayed_rules, sessions_run_config
from sessions_pipeline.orchestration.sensors import SENSOR_LOCK_TIMEOUT_SECONDS
from sessions_pipeline.rules.sessions import DEFAULT_LABEL_TIME_ZONE

DAILY_BACKFILL_CRON = "0 5 * * *"


def build_daily_backfill_schedule(
    root: AppRoot, job_name: str, partition_keys: Collection[str]
) -> dg.ScheduleDefinition:
    """A schedule requesting one default run per player at 05:00, Paris time (nobody plays).

    The players are those of the loaded definitions whose file exists at tick time; the
    run key holds the day, so a tick evaluated twice launches nothing twice.
    """
    loaded = frozenset(partition_keys)

    @dg.schedule(
        name="daily_sessions_backfill",
        cron_schedule=DAILY_BACKFILL_CRON,
        execution_timezone=DEFAULT_LABEL_TIME_ZONE,
        job_name=job_name,
        description="Stores every player's stable matches once a day (no force).",
    )
    def daily_sessions_backfill(
        context: dg.ScheduleEvaluationContext,
    ) -> list[dg.RunRequest] | dg.SkipReason:
        try:
            players = [p for p in root.players() if p.gamertag in loaded]
        except FILE_ERRORS as error:
            return dg.SkipReason(str(error))
        if not players:
            return dg.SkipReason(f"no player file in {root.path} among the loaded partitions")
        day = context.scheduled_execution_time.date().isoformat()
        requests = []
        for player in players:
            try:
                recorded = read_recorded_parameters(
                    player.db_path, lock_timeout_seconds=SENSOR_LOCK_TIMEOUT_SECONDS
                )
            except FILE_ERRORS as error:
                context.log.warning(f"{player.gamertag}: {error}; left for tomorrow")
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"daily:{player.gamertag}:{day}",
                    partition_key=player.gamertag,
                    run_config=sessions_run_config(rules=replayed_rules(recorded)),
                )
            )
        return requests

    return daily_sessions_backfill
