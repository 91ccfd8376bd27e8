"""Every use of Dagster's private modules, in one place, each where 1.13 has no public way.

Checked on Dagster `CHECKED_ON`. Each use has a `test_pin_*` test in
`sessions_pipeline_tests` that fails on another Dagster minor, or when the use stops
working, naming it; then look for a public way first, and update `CHECKED_ON` once done.

- **refuse-before-run** (`shape_refusing`): Dagster checks a run config's types and keys
  before it creates a run, but a pydantic bound (`gap_minutes > 0`) only when the step
  starts, after the steps before it have run (dagster-io/dagster#12536: validators
  "surface on run start"). The public config types have no bounds and no hook, so this
  Shape overrides `ConfigType.post_process` and raises `PostProcessingError`, which
  Dagster reports as a config error when it resolves the run config: no run is created.
  Revisit: `dagster._config.config_type.ConfigType`, `dagster._config.errors
  .PostProcessingError`, and `Shape.__new__`'s memoising (bypassed below).
- **per-partition check evaluation** (`check_target`): in a run over several players an
  `AssetCheckResult` names no partition, so each player's result is logged as a public
  `AssetCheckEvaluation(partition=...)`, tied to the player's latest materialization as
  Dagster ties a single-partition result. That tie's type is not exported. Revisit:
  `dagster._core.definitions.asset_checks.asset_check_evaluation
  .AssetCheckEvaluationTargetMaterializationData`, or a partition on `AssetCheckResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
from dagster._config.config_type import ConfigType
from dagster._config.errors import PostProcessingError
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as CheckTarget,
)

CHECKED_ON = "1.13"
"""The Dagster minor version every use above was checked on."""


class _RefusingShape(dg.Shape):
    """A Shape whose post-processing refuses a value `problems` finds fault with.

    `Shape.__new__` memoises instances by field hash and always builds a plain Shape, which
    would drop the override below, so this class builds its own instance.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> _RefusingShape:
        instance = ConfigType.__new__(cls)
        instance._initialized = False
        return instance

    def __init__(
        self,
        fields: Mapping[str, dg.Field],
        description: str | None,
        problems: Callable[[Any], str | None],
    ) -> None:
        super().__init__(fields, description=description)
        self._problems = problems

    def post_process(self, value: Any) -> Any:
        problems = self._problems(value)
        if problems is not None:
            raise PostProcessingError(problems)
        return value


def shape_refusing(
    fields: Mapping[str, dg.Field],
    description: str | None,
    problems: Callable[[Any], str | None],
) -> dg.Shape:
    """A config Shape of `fields` that refuses, before any run, a value `problems` faults
    (it returns what is wrong, or None); Dagster reports it as an invalid run config."""
    return _RefusingShape(fields, description, problems)


def check_target(record: dg.EventLogRecord) -> CheckTarget:
    """What ties a check evaluation to the materialization `record`, as Dagster ties one."""
    return CheckTarget(
        run_id=record.event_log_entry.run_id,
        storage_id=record.storage_id,
        timestamp=record.timestamp,
    )
