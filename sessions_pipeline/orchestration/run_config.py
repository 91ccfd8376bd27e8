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

from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from sessions_pipeline.levelup.sql.player_db import RecordedParameters
from sessions_pipeline.orchestration.dagster_internals import shape_refusing
from sessions_pipeline.rules.sessions import (
    DEFAULT_GAP_MINUTES,
    DEFAULT_LABEL_TIME_ZONE,
    DEFAULT_START_TIME_ZONE,
    check_team_change_mode,
    check_time_zone,
)

RUN_CONFIG = "run config"
"""The source of a value a run's config (a flag of the command, a replayed one) gave."""


class ComputedSessionsConfig(dg.Config):
    """How matches are cut into sessions. A value left out (null) is the root's LevelUp
    setting (`app_settings.json`) where it has one, else the default."""

    gap_minutes: int | None = Field(
        default=None,
        gt=0,
        description="A match starts a new session when it starts more than this many minutes "
        f"after the previous one (default {DEFAULT_GAP_MINUTES}).",
    )
    start_time_zone: str | None = Field(
        default=None,
        description="IANA zone whose wall clock naive start times hold (LevelUp's sync "
        f"writes the machine's; default {DEFAULT_START_TIME_ZONE}).",
    )
    label_time_zone: str | None = Field(
        default=None,
        description=f"IANA zone the labels are written in (default {DEFAULT_LABEL_TIME_ZONE}).",
    )
    split_on_ranked_change: bool | None = Field(
        default=None,
        description="A change between ranked and social play starts a new session (default false).",
    )
    team_change_mode: str | None = Field(
        default=None,
        description="friends: a friend joining or the player going solo cuts (default); "
        "group: any change of teammates cuts; ignore: teammates never cut.",
    )

    @field_validator("start_time_zone", "label_time_zone")
    @classmethod
    def _known_zone(cls, value: str | None, info: ValidationInfo) -> str | None:
        return value if value is None else check_time_zone(value, info.field_name)

    @field_validator("team_change_mode")
    @classmethod
    def _known_mode(cls, value: str | None) -> str | None:
        # A plain string for Dagster (its Enum config takes member names, not LevelUp's words).
        return value if value is None else check_team_change_mode(value).value

    def given(self) -> dict[str, object | None]:
        """The rules this config sets (None: not set here)."""
        return self.model_dump()


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
    rules: Mapping[str, object | None] | None = None,
    force: bool = False,
    include_recent: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """The run config of `sessions_job`, in the shape the Launchpad and `-c run.yaml` use.

    `rules` are `ComputedSessionsConfig`'s fields; each one not given is null, which the
    run resolves (the root's settings file, else the default): the Launchpad opens on every
    field, and a null says "not chosen here". Building the
    config classes validates the values here too, so a caller (the CLI, a sensor) fails
    with pydantic's message before it asks Dagster for anything.
    """
    computed = ComputedSessionsConfig(**(rules or {}))
    stored = StoredSessionsConfig(force=force, include_recent=include_recent, dry_run=dry_run)
    return {
        "ops": {
            "computed_sessions": {"config": computed.model_dump()},
            "stored_sessions": {"config": stored.model_dump()},
        }
    }


def replayed_rules(recorded: RecordedParameters | None) -> dict[str, object]:
    """The rules automation runs a player with: those its last store was *given*.

    A gap a user chose (`backfill --force --gap-minutes 90`) then outlives the next sensor
    or schedule run; sending the default would recompute the whole file back to it. A
    value that came from the settings file or the defaults is not replayed: it resolves
    again, so a change of LevelUp's settings reaches the file. A store by older code
    recorded no sources: its gap was the run's, the rest is what that code implied (a start
    zone of UTC), which the next run corrects rather than replays.
    """
    if recorded is None:
        return {}
    params = recorded.params
    if recorded.sources is None:
        return {"gap_minutes": params.gap_minutes}
    chosen = [name for name, source in recorded.sources.items() if source == RUN_CONFIG]
    return {
        name: getattr(params, name).value if name == "team_change_mode" else getattr(params, name)
        for name in chosen
        if name != "friends_xuids"
    }
