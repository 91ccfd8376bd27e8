"""The run config of `sessions_job`: its types, its bounds, and refusing bad values early.

Dagster checks a run config's shape (types, unknown keys) before it creates a run, but a
pydantic bound such as `gap_minutes > 0` is only checked when the step starts, after the
steps before it have run. The config classes below are the one source of truth for the
fields and their bounds; `validated_config_schema` turns one into an op config schema
whose post-processing runs the pydantic model, so a bad value is refused when the run
config is resolved: no run is created. Dagster 1.13 has no public hook for that
(`dagster_internals.py` says what it uses instead).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field, ValidationError

from sessions_pipeline.dagster_internals import shape_refusing
from sessions_pipeline.rules import DEFAULT_GAP_MINUTES
from sessions_pipeline.sql.player_db import RecordedParameters


class ComputedSessionsConfig(dg.Config):
    """How matches are cut into sessions."""

    gap_minutes: int = Field(
        default=DEFAULT_GAP_MINUTES,
        gt=0,
        description="A match starts a new session when it starts more than this many minutes "
        "after the previous one.",
    )


class StoredSessionsConfig(dg.Config):
    """How the store may touch the player file (the plan's backfill flags)."""

    force: bool = Field(
        default=False,
        description="Recompute and rewrite every eligible row, not only the unstored ones.",
    )
    include_recent: bool = Field(
        default=False,
        description="Also store matches younger than the stability threshold (4 h).",
    )
    dry_run: bool = Field(
        default=False,
        description="Compute and report what would change; write nothing.",
    )


def validated_config_schema(config_class: type[dg.Config]) -> dg.Field:
    """An op config schema for `config_class` that refuses out-of-bounds values pre-run."""

    def problems(value: Any) -> str | None:
        try:
            config_class.model_validate(value)
        except ValidationError as error:
            return f"{config_class.__name__}: " + "; ".join(
                f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
                for problem in error.errors()
            )
        return None

    shape = shape_refusing(config_class.to_fields_dict(), config_class.__doc__, problems)
    return dg.Field(shape, default_value={}, is_required=False)


def sessions_run_config(
    *,
    gap_minutes: int = DEFAULT_GAP_MINUTES,
    force: bool = False,
    include_recent: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """The run config of `sessions_job`, in the shape the Launchpad and `-c run.yaml` use.

    Building the config classes validates the values here too, so a caller (the CLI, a
    sensor) fails with pydantic's message before it asks Dagster for anything.
    """
    computed = ComputedSessionsConfig(gap_minutes=gap_minutes)
    stored = StoredSessionsConfig(force=force, include_recent=include_recent, dry_run=dry_run)
    return {
        "ops": {
            "computed_sessions": {"config": computed.model_dump()},
            "stored_sessions": {"config": stored.model_dump()},
        }
    }


def replayed_gap(recorded: RecordedParameters | None) -> int:
    """The gap automation runs a player with: the one its file was last stored with.

    A gap a user chose (`backfill --force --gap-minutes 90`) then outlives the next sensor
    or schedule run; sending the default would recompute the whole file back to it.
    """
    return recorded.params.gap_minutes if recorded else DEFAULT_GAP_MINUTES
