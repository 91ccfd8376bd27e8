"""`sessions-pipeline`: the plan's backfill script, the demo, and a look at a player's sessions.

`backfill` and `demo` launch the Dagster job (one run per player), so with DAGSTER_HOME
set their runs are in the UI's history like any other. Without it, `backfill` runs on a
throwaway instance and `demo` records in the root's `dagster_home/`. `show` only reads,
as the dashboard does.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, get_args

import dagster as dg
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from sessions_pipeline.entry_points.demo import DemoLayout, build_demo_root
from sessions_pipeline.entry_points.environment import environment_variable
from sessions_pipeline.entry_points.workers import worker_context
from sessions_pipeline.errors import SessionsPipelineError
from sessions_pipeline.levelup.app_root import (
    DEFAULT_TITLE,
    HOME_ENV_VAR,
    TITLE_ENV_VAR,
    AppRoot,
    title_from_env,
)
from sessions_pipeline.levelup.overview import read_overview
from sessions_pipeline.levelup.settings import read_levelup_settings
from sessions_pipeline.orchestration.definitions import sessions_job_for_root
from sessions_pipeline.orchestration.player_ranges import (
    PLAYERS_PER_RUN,
    RANGE_END_TAG,
    RANGE_START_TAG,
)
from sessions_pipeline.orchestration.run_config import sessions_run_config
from sessions_pipeline.rules.sessions import (
    DEFAULT_GAP_MINUTES,
    DEFAULT_LABEL_TIME_ZONE,
    DEFAULT_START_TIME_ZONE,
    TeamChangeMode,
    check_time_zone,
    describe_parameters,
)

# Runs report through this summary; Dagster's per-event console log would drown it.
_QUIET_LOGGERS = {"console": {"config": {"log_level": "CRITICAL"}}}
_THROWAWAY_INSTANCE = {"python_logs": {"python_log_level": "WARNING"}}
# The stored_sessions metadata counts the summary table shows, with their headers.
_COUNTS = {
    "sessions_stored": "sessions",
    "written": "written",
    "repaired": "repaired",
    "unchanged": "unchanged",
    "left_recent": "recent",
}

_STORED = dg.AssetKey("stored_sessions")
# Below this many players, starting worker processes costs more than it saves.
PARALLEL_FROM_PLAYERS = 8
# The dashboard has no login: it is served on this machine unless --address says otherwise.
LOCAL_ADDRESS = "127.0.0.1"

console = Console()
errors = Console(stderr=True)


@dataclass(frozen=True)
class PlayerOutcome:
    """How one player's run went, for the progress line and the final summary."""

    gamertag: str
    ok: bool
    detail: str
    counts: dict[str, int] = field(default_factory=dict)
    failed_checks: tuple[str, ...] = ()
    warnings: str | None = None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sessions-pipeline` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        root = _root(args.root, args.title)
        return args.command(root, args)
    except SessionsPipelineError as error:
        errors.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
        return 1


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        type=Path,
        help=f"the LevelUp app root (default: ${HOME_ENV_VAR}, else the current directory)",
    )
    common.add_argument(
        "--title",
        metavar="SLUG",
        help=f"the title served, from data/titles/SLUG/ in a multi-title root (default: "
        f"${TITLE_ENV_VAR}, else {DEFAULT_TITLE})",
    )
    parser = argparse.ArgumentParser(
        prog="sessions-pipeline",
        description="Freeze gaming sessions into LevelUp's per-player DuckDB files.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    backfill = commands.add_parser(
        "backfill",
        parents=[common],
        help="store sessions by running sessions_job for one or every player",
        description="Run sessions_job for a player (or all), as the UI would launch it.",
    )
    who = backfill.add_mutually_exclusive_group(required=True)
    who.add_argument("--gamertag", help="the player to process")
    who.add_argument("--all", action="store_true", help="every player of the root")
    backfill.add_argument("--force", action="store_true", help="recompute already-stored rows")
    backfill.add_argument(
        "--include-recent", action="store_true", help="also store matches younger than 4 h"
    )
    backfill.add_argument("--dry-run", action="store_true", help="report changes, write nothing")
    backfill.add_argument(
        "--gap-minutes",
        type=_positive_int,
        metavar="N",
        help="minutes between matches that start a new session (default: the root's LevelUp "
        f"settings, else {DEFAULT_GAP_MINUTES})",
    )
    backfill.add_argument(
        "--start-time-zone",
        type=_zone("start_time_zone"),
        metavar="ZONE",
        help="IANA zone whose wall clock the files' naive start times hold (default: "
        f"{DEFAULT_START_TIME_ZONE}, as LevelUp's sync on a machine in France writes them)",
    )
    backfill.add_argument(
        "--label-time-zone",
        type=_zone("label_time_zone"),
        metavar="ZONE",
        help=f"IANA zone the labels are written in (default: {DEFAULT_LABEL_TIME_ZONE})",
    )
    backfill.add_argument(
        "--split-on-ranked-change",
        action=argparse.BooleanOptionalAction,
        help="a change between ranked and social play starts a session (default: the root's "
        "LevelUp settings, else no)",
    )
    backfill.add_argument(
        "--team-change-mode",
        choices=[mode.value for mode in TeamChangeMode],
        help="friends: a friend joining or going solo cuts; group: any teammate change cuts; "
        "ignore: teammates never cut (default: the root's LevelUp settings, else friends)",
    )
    backfill.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="players run side by side in N processes, each player in one run (default: "
        f"one per CPU from {PARALLEL_FROM_PLAYERS} players on, else 1)",
    )
    backfill.set_defaults(command=_backfill)

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="build a demo root (four players, two years of play) and store its sessions",
    )
    demo.add_argument(
        "--layout",
        choices=get_args(DemoLayout),
        default="v6",
        help="LevelUp's files to write: v6 (a shared warehouse), v4 (matches in each player's "
        "file) or v7 (v6 with UTC start times) (default: %(default)s)",
    )
    demo.set_defaults(command=_demo)

    show = commands.add_parser(
        "show",
        parents=[common],
        help="a player's sessions, newest first, and why each one started",
    )
    show.add_argument("--gamertag", required=True, help="the player to show")
    show.add_argument(
        "--limit", type=_positive_int, help="show only the N newest sessions", metavar="N"
    )
    show.set_defaults(command=_show)

    dashboard = commands.add_parser(
        "dashboard",
        parents=[common],
        help="serve the sessions dashboard (a Streamlit page; read-only)",
    )
    dashboard.add_argument(
        "--port", type=_positive_int, default=8501, metavar="N", help="port (default: %(default)s)"
    )
    dashboard.add_argument(
        "--address",
        type=_address,
        default=LOCAL_ADDRESS,
        metavar="ADDR",
        help="address to serve on (default: %(default)s, this machine only: the page has no login)",
    )
    dashboard.set_defaults(command=_dashboard)
    return parser


def _zone(field: str) -> Callable[[str], str]:
    def zone(text: str) -> str:
        try:
            return check_time_zone(text, field)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return zone


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return value


def _address(text: str) -> str:
    # Streamlit reads an empty server.address as every interface: never by accident.
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; say 0.0.0.0 to serve on every interface")
    return text.strip()


def _root(option: Path | None, title: str | None) -> AppRoot:
    if option is None:
        return AppRoot.from_env(title)
    if not option.is_dir():
        raise SessionsPipelineError(f"--root {option}: not a directory")
    return AppRoot(option.absolute(), title or title_from_env()).require_title()


def _backfill(root: AppRoot, args: argparse.Namespace) -> int:
    rules = {
        "gap_minutes": args.gap_minutes,
        "start_time_zone": args.start_time_zone,
        "label_time_zone": args.label_time_zone,
        "split_on_ranked_change": args.split_on_ranked_change,
        "team_change_mode": args.team_change_mode,
    }
    # The root's settings are read before any run: a broken file is one error, not one per
    # player (each run reads them again, with the same answer).
    read_levelup_settings(root)
    run_config = sessions_run_config(
        rules=rules,
        force=args.force,
        include_recent=args.include_recent,
        dry_run=args.dry_run,
    )
    gamertags = root.gamertags() if args.all else [args.gamertag]
    if not gamertags:
        errors.print(f"[red]error:[/red] no player in {escape(str(root.path))}", soft_wrap=True)
        return 1
    outcomes = _run_players(root, gamertags, run_config, workers=args.workers)
    _print_summary(outcomes, dry_run=args.dry_run)
    return 0 if all(outcome.ok for outcome in outcomes) else 1


def _demo(root: AppRoot, args: argparse.Namespace) -> int:
    gamertags = build_demo_root(root.path, layout=args.layout)
    console.print(f"Demo root written to {escape(str(root.path))}: {', '.join(gamertags)}")
    home = _demo_dagster_home(root)
    with _dagster_home(home):
        # One run per player, so the UI's Runs page lists each player's run by name.
        outcomes = _run_players(root, gamertags, sessions_run_config(), players_per_run=1)
    _print_summary(outcomes, dry_run=False)
    exports = {"DAGSTER_HOME": home}
    if root.path != Path.cwd():
        exports[HOME_ENV_VAR] = root.path
    console.print(
        f"Runs recorded in the Dagster instance at {escape(str(home))}. Next: "
        "[bold]sessions-pipeline show --gamertag JGtm[/bold], or the UI, from the checkout:",
        soft_wrap=True,
    )
    for name, path in exports.items():
        console.print(f"  export {name}={escape(shlex.quote(str(path)))}", soft_wrap=True)
    console.print("  uv run dg dev")
    return 0 if all(outcome.ok for outcome in outcomes) else 1


def _demo_dagster_home(root: AppRoot) -> Path:
    """Where the demo records its runs: DAGSTER_HOME if set, else the root's dagster_home.

    In the checkout that is the committed `dagster_home/` the README points `dagster dev`
    at, so the UI opens on the demo's runs and materialized partitions, not on nothing.
    """
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    return root.path / "dagster_home"


def _show(root: AppRoot, args: argparse.Namespace) -> int:
    player = root.player(args.gamertag)
    overview = read_overview(player.db_path, player=player)
    summary = overview.summary
    if args.limit:
        summary = summary.head(args.limit)
    table = Table(title=f"{escape(player.gamertag)}: {len(summary)} sessions, newest first")
    table.add_column("id", justify="right")
    table.add_column("label")
    table.add_column("matches", justify="right")
    table.add_column("why it started")
    table.add_column("stored")
    for row in summary.iter_rows(named=True):
        table.add_row(
            str(row["session_id"]),
            row["session_label"],
            str(row["matches"]),
            row["break_reason"] or "?",
            row["stored"],
        )
    console.print(table)
    stored_with = Table(title="Stored with" if overview.recorded else "Computed with")
    for column in ("parameter", "value", "from"):
        stored_with.add_column(column)
    for row in describe_parameters(overview.params, overview.sources).iter_rows():
        stored_with.add_row(*(escape(cell) for cell in row))
    console.print(stored_with)
    return 0


def _dashboard(root: AppRoot, args: argparse.Namespace) -> NoReturn:
    """Become `streamlit run` on the page, so Ctrl-C and a kill reach the server itself.

    It runs in the root, whose .streamlit/config.toml (if any) gives the theme; headless
    and no usage statistics are set here too, for roots without one. The address is always
    given on the command line, which wins over a config file or STREAMLIT_SERVER_ADDRESS:
    the page has no login, so only `--address` may serve it beyond this machine.
    """
    address = args.address
    page = Path(__file__).with_name("dashboard.py")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(page),
        "--server.address",
        address,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    host = f"[{address}]" if ":" in address else address  # an IPv6 address in a URL
    console.print(f"Dashboard of {escape(str(root.path))} on http://{escape(host)}:{args.port}")
    if address != LOCAL_ADDRESS:
        errors.print(
            f"[yellow]warning:[/yellow] the dashboard has no login: anyone who can reach "
            f"{escape(host)}:{args.port} sees every player's history. Leave out --address "
            f"to serve on {LOCAL_ADDRESS} (this machine only).",
            soft_wrap=True,
        )
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(root.path)
    environment = {**os.environ, HOME_ENV_VAR: str(root.path), TITLE_ENV_VAR: root.title}
    os.execve(sys.executable, command, environment)


@contextmanager
def command_instance() -> Iterator[dg.DagsterInstance]:
    """The DAGSTER_HOME instance when one is set (runs land in the UI), else a throwaway one."""
    if os.environ.get("DAGSTER_HOME"):
        with dg.DagsterInstance.get() as instance:
            yield instance
    else:
        # Nobody reads a throwaway instance's log lines (they go with it): only warnings
        # and errors are kept. The events this command reads are Dagster's own, kept all.
        with dg.DagsterInstance.ephemeral(settings=_THROWAWAY_INSTANCE) as instance:
            yield instance


@contextmanager
def _dagster_home(home: Path) -> Iterator[None]:
    """DAGSTER_HOME set to `home` meanwhile, so `command_instance` (and workers) open it."""
    home.mkdir(parents=True, exist_ok=True)
    with environment_variable("DAGSTER_HOME", str(home.absolute())):
        yield


def _run_players(
    root: AppRoot,
    gamertags: Sequence[str],
    run_config: dict,
    *,
    workers: int | None = None,
    players_per_run: int = PLAYERS_PER_RUN,
) -> list[PlayerOutcome]:
    """Every player's outcome, in the order given; runs cover up to `players_per_run`.

    A player that is not there (no profile, a missing file) is reported without a run;
    the others go in runs over ranges of consecutive partitions, one range per worker
    when that is fewer, so Dagster's per-run cost is paid once per range, not per player.
    """
    gamertags = list(dict.fromkeys(gamertags))
    outcomes: list[PlayerOutcome] = []
    present: list[str] = []
    for gamertag in gamertags:
        try:
            present.append(root.player(gamertag).gamertag)
        except SessionsPipelineError as error:
            outcomes.append(PlayerOutcome(gamertag, ok=False, detail=str(error)))
    if workers is None:
        workers = (os.cpu_count() or 1) if len(present) >= PARALLEL_FROM_PLAYERS else 1
    slices = _slices(present, root, min(players_per_run, math.ceil(len(present) / workers) or 1))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=len(gamertags) < 2,
    ) as progress:
        task = progress.add_task("storing players", total=len(gamertags))
        for outcome in outcomes:
            _print_outcome(progress, outcome)
            progress.advance(task)
        for slice_outcomes in _slice_outcomes(root, slices, run_config, min(workers, len(slices))):
            for outcome in slice_outcomes:
                _print_outcome(progress, outcome)
                outcomes.append(outcome)
                progress.advance(task)
    order = {gamertag: position for position, gamertag in enumerate(gamertags)}
    return sorted(outcomes, key=lambda outcome: order.get(outcome.gamertag, len(order)))


def _print_outcome(progress: Progress, outcome: PlayerOutcome) -> None:
    mark = "[green]ok[/green]" if outcome.ok else "[red]failed[/red]"
    progress.console.print(
        f"{mark} {escape(outcome.gamertag)}: {escape(outcome.detail)}", soft_wrap=True
    )
    if outcome.warnings:
        progress.console.print(
            f"  [yellow]warning[/yellow]: {escape(outcome.warnings)}", soft_wrap=True
        )


def _slices(gamertags: Sequence[str], root: AppRoot, size: int) -> list[list[str]]:
    """The players cut into runs of at most `size` consecutive partitions.

    A range run covers every partition from its first key to its last, in the partitions'
    order, so a slice never spans a partition left out (a player reported without a run,
    or not asked for): it would run that player too.
    """
    if len(gamertags) <= 1:  # no range to cut: the root's list is not needed (nor read)
        return [list(gamertags)] if gamertags else []
    position = {gamertag: index for index, gamertag in enumerate(root.gamertags())}
    slices: list[list[str]] = []
    for gamertag in sorted(gamertags, key=lambda gamertag: position.get(gamertag, -1)):
        index, last = position.get(gamertag), slices[-1] if slices else []
        if last and index is not None and position.get(last[-1]) == index - 1 and len(last) < size:
            last.append(gamertag)
        else:
            slices.append([gamertag])
    return slices


def _slice_outcomes(
    root: AppRoot, slices: Sequence[Sequence[str]], run_config: dict, workers: int
) -> Iterator[list[PlayerOutcome]]:
    """Each slice's run, as they finish; with workers, slices run side by side.

    Each player is in one slice, so no two of these runs ever hold one file. Workers come
    from a fork server that imported this module once, so each starts in milliseconds
    rather than re-importing Dagster; each opens its own instance (DAGSTER_HOME's, or
    throwaway).
    """
    if workers <= 1:
        with command_instance() as instance:
            for players in slices:
                yield run_slice(root, instance, players, run_config)
        return
    # A DAGSTER_HOME no instance has opened yet gets its SQLite schema here, once: two
    # workers creating it at the same time collide ("table ... already exists").
    with command_instance():
        pass
    with ProcessPoolExecutor(max_workers=workers, mp_context=worker_context()) as pool:
        futures = [
            pool.submit(_run_slice_in_worker, root, players, run_config) for players in slices
        ]
        for future in as_completed(futures):
            yield future.result()


def _run_slice_in_worker(
    root: AppRoot, gamertags: Sequence[str], run_config: dict
) -> list[PlayerOutcome]:
    with command_instance() as instance:
        return run_slice(root, instance, gamertags, run_config)


def run_slice(
    root: AppRoot, instance: dg.DagsterInstance, gamertags: Sequence[str], run_config: dict
) -> list[PlayerOutcome]:
    """One run of sessions_job over consecutive players: one partition, or a range.

    A single player runs tagged `dagster/partition`, as the UI launches it; several run as
    a partition range. Each player's outcome comes from its own events in the run (the
    stored_sessions materialization or dry-run observation, the check evaluations), and a
    player that failed inside a range is named in the run's failure, with its error.
    """
    if len(gamertags) == 1:
        tags = {"dagster/partition": gamertags[0]}
    else:
        tags = {RANGE_START_TAG: gamertags[0], RANGE_END_TAG: gamertags[-1]}
    with dg.execute_job(
        dg.build_reconstructable_job(
            sessions_job_for_root.__module__,
            sessions_job_for_root.__name__,
            reconstructable_args=(str(root.path), root.title),
        ),
        instance=instance,
        run_config={**run_config, "loggers": _QUIET_LOGGERS},
        tags=tags,
    ) as result:
        stored, failed_checks = _player_events(instance, result.run_id)
        failures = _player_failures(result)
        outcomes = []
        for gamertag in gamertags:
            if gamertag in failures:
                outcomes.append(PlayerOutcome(gamertag, ok=False, detail=failures[gamertag]))
            elif gamertag not in stored or not (result.success or failures):
                outcomes.append(PlayerOutcome(gamertag, ok=False, detail=_failure(result)))
            else:
                metadata = stored[gamertag]
                checks = tuple(failed_checks.get(gamertag, ()))
                outcomes.append(
                    PlayerOutcome(
                        gamertag,
                        ok=not checks,
                        detail=str(metadata["summary"].value),
                        counts={name: int(metadata[name].value) for name in _COUNTS},
                        failed_checks=checks,
                        warnings=str(metadata["warnings"].value)
                        if "warnings" in metadata
                        else None,
                    )
                )
        return outcomes


def _player_events(
    instance: dg.DagsterInstance, run_id: str
) -> tuple[dict[str, Mapping[str, dg.MetadataValue]], dict[str, list[str]]]:
    """Per player of the run: its stored_sessions metadata, and the checks it failed.

    Read from the instance's event log: a materialization logged by a step that then
    failed (a range with a broken player) is recorded there, not in the run's result.
    """
    stored: dict[str, Mapping[str, dg.MetadataValue]] = {}
    failed_checks: dict[str, list[str]] = {}
    kinds = {
        dg.DagsterEventType.ASSET_MATERIALIZATION,
        dg.DagsterEventType.ASSET_OBSERVATION,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                failed_checks.setdefault(evaluation.partition or "", []).append(
                    evaluation.check_name
                )
            continue
        record = (
            event.step_materialization_data.materialization
            if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
            else event.asset_observation_data.asset_observation
        )
        if record.asset_key == _STORED and record.partition is not None:
            stored[record.partition] = record.metadata
    return stored, failed_checks


def _player_failures(result: dg.JobExecutionResult) -> dict[str, str]:
    """The players a range run's stored_sessions step names as failed, with their errors."""
    for failure in result.get_step_failure_events():
        data = failure.step_failure_data.user_failure_data
        if failure.step_key == _STORED.path[-1] and data is not None:
            return {player: str(value.value) for player, value in data.metadata.items()}
    return {}


def _our_error_names(cls: type[Exception] = SessionsPipelineError) -> set[str]:
    return {cls.__name__}.union(*(_our_error_names(sub) for sub in cls.__subclasses__()))


def _failure(result: dg.JobExecutionResult) -> str:
    """The error a person can act on: ours if the chain holds one (it names the file),
    else the innermost cause of the first failed step."""
    failures = result.get_step_failure_events()
    if not failures:
        return f"run {result.run_id} failed"
    chain = [failures[0].step_failure_data.error]
    while chain[-1].cause is not None:
        chain.append(chain[-1].cause)
    ours = _our_error_names()
    error = next((link for link in chain if link.cls_name in ours), chain[-1])
    message = error.message.strip().splitlines()[0]
    # Dagster writes "module.Class: message"; the class name alone reads better.
    message = message.split(f".{error.cls_name}: ", 1)[-1]
    if not message.startswith(f"{error.cls_name}: "):
        message = f"{error.cls_name}: {message}"
    return f"{failures[0].step_key}: {message}"


def _print_summary(outcomes: Sequence[PlayerOutcome], *, dry_run: bool) -> None:
    failed = [outcome for outcome in outcomes if not outcome.ok]
    title = "Dry run, nothing written" if dry_run else "Sessions stored"
    table = Table(
        title=f"{title}: {len(outcomes) - len(failed)} ok, {len(failed)} failed",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("player", no_wrap=True)
    table.add_column("result")
    for header in _COUNTS.values():
        table.add_column(header, justify="right", min_width=len(header))
    for outcome in outcomes:
        table.add_row(
            escape(outcome.gamertag),
            "[green]ok[/green]" if outcome.ok else "[red]failed[/red]",
            *(str(outcome.counts.get(name, "")) for name in _COUNTS),
        )
    console.print(table)
    for outcome in failed:
        problem = (
            f"checks failed: {', '.join(outcome.failed_checks)}"
            if outcome.failed_checks
            else outcome.detail
        )
        errors.print(f"[red]{escape(outcome.gamertag)}[/red]: {escape(problem)}", soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
