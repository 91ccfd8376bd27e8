"""Where a run's session rules come from: flag or run config, else LevelUp's settings, else
the default; each value recorded with its source, shown by `show`, replayed by automation
only when a person chose it, and a bad value refused, named, before anything is written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from sessions_pipeline import load_sessions
from sessions_pipeline.entry_points.cli import main
from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.sql.player_db import PARAMETERS_TABLE, RecordedParameters
from sessions_pipeline.levelup.store import StoreOptions, read_recorded_parameters, store_sessions
from sessions_pipeline.orchestration.definitions import build_definitions, sessions_job_for_root
from sessions_pipeline.orchestration.run_config import replayed_rules, sessions_run_config
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.levelup_files import make_player_file, matches_at
from sessions_pipeline_tests.sessions_reference import NOW, T0, XUIDS, edit_by_hand, file_digest

GAMERTAG = "Gamer"
KEYS = {"gap_minutes": 120, "split_on_ranked_change": False, "team_change_mode": "friends"}
"""The three rules LevelUp's settings set, with DESIGN's defaults."""


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to a real DAGSTER_HOME; tables are wide enough not to wrap."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with one player, whose matches were played in February (long stable)."""
    root = tmp_path / "root"
    matches = matches_at(T0, [0, 30, 60, 300], signatures=[XUIDS[0], XUIDS[1], None, None])
    make_player_file(root / "data" / "players" / GAMERTAG / "stats.duckdb", matches)
    return root


def db_path(root: Path) -> Path:
    return root / "data" / "players" / GAMERTAG / "stats.duckdb"


def global_settings(root: Path) -> Path:
    return root / "app_settings.json"


def title_settings(root: Path) -> Path:
    return root / "data" / "titles" / "halo_infinite" / "settings.json"


def write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def backfill(root: Path, *flags: str) -> int:
    return main(["backfill", "--gamertag", GAMERTAG, "--root", str(root), *flags])


def recorded_rules(root: Path) -> dict[str, tuple[object, str]]:
    """Each settings-backed rule the last store used, with the source it recorded."""
    recorded = read_recorded_parameters(db_path(root))
    return {name: (getattr(recorded.params, name), recorded.sources[name]) for name in KEYS}


def materialize(root: Path, run_config: dict, **kwargs: object) -> dg.ExecuteInProcessResult:
    """The four assets and their checks for the player, as the job selects them."""
    defs = build_definitions(AppRoot(root))
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        partition_key=GAMERTAG,
        run_config=run_config,
        **kwargs,
    )


# ---------------------------------------------------------------- precedence

RUN_CONFIG, DEFAULT = "run config", "default"
SETTINGS = {
    "session_gap_minutes": 60,
    "session_split_on_ranked_change": True,
    "session_team_change_mode": "group",
}


@pytest.mark.parametrize(
    ("settings", "flags", "expected"),
    [
        (
            {"session_gap_minutes": 60, "session_split_on_ranked_change": True},
            ["--gap-minutes", "30"],
            {"gap_minutes": (30, RUN_CONFIG), "split_on_ranked_change": (True, "file")},
        ),
        (
            {"session_gap_minutes": 60, "session_team_change_mode": "ignore"},
            ["--team-change-mode", "group"],
            {"gap_minutes": (60, "file"), "team_change_mode": ("group", RUN_CONFIG)},
        ),
        (
            {"session_split_on_ranked_change": True, "session_team_change_mode": "ignore"},
            ["--no-split-on-ranked-change"],
            {"split_on_ranked_change": (False, RUN_CONFIG), "team_change_mode": ("ignore", "file")},
        ),
    ],
    ids=["gap-flag", "mode-flag", "no-split-flag"],
)
def test_each_rule_is_the_flag_else_the_settings_file_else_the_default(
    root: Path, settings: dict, flags: list[str], expected: dict
) -> None:
    """A flag beats app_settings.json (even --no-...), which beats DESIGN's default."""
    settings_file = write(global_settings(root), settings)

    assert backfill(root, *flags) == 0

    from_file = f"settings file {settings_file}"
    wanted = {name: (default, DEFAULT) for name, default in KEYS.items()}
    for name, (value, source) in expected.items():
        wanted[name] = (value, from_file if source == "file" else source)
    assert recorded_rules(root) == wanted


def test_the_title_settings_overlay_the_global_ones_key_by_key(root: Path) -> None:
    """data/titles/halo_infinite/settings.json wins where it sets a key, LevelUp's way."""
    write(global_settings(root), {"session_gap_minutes": 60, "session_team_change_mode": "group"})
    write(title_settings(root), {"session_gap_minutes": 45, "theme": "dark"})

    result = materialize(root, sessions_run_config())

    assert result.success
    assert recorded_rules(root) == {
        "gap_minutes": (45, f"settings file {title_settings(root)}"),
        "split_on_ranked_change": (False, DEFAULT),
        "team_change_mode": ("group", f"settings file {global_settings(root)}"),
    }


def test_the_overlay_is_the_served_titles(tmp_path: Path) -> None:
    """A multi-title root: `--title halo_mcc` reads data/titles/halo_mcc/settings.json,
    not another title's overlay."""
    root = tmp_path / "root"
    mcc = root / "data" / "titles" / "halo_mcc" / "players" / GAMERTAG / "stats.duckdb"
    make_player_file(mcc, matches_at(T0, [0, 30, 60]))
    write(root / "data" / "titles" / "halo_infinite" / "settings.json", {"session_gap_minutes": 45})
    overlay = write(
        root / "data" / "titles" / "halo_mcc" / "settings.json", {"session_gap_minutes": 20}
    )

    assert (
        main(["backfill", "--gamertag", GAMERTAG, "--title", "halo_mcc", "--root", str(root)]) == 0
    )

    recorded = read_recorded_parameters(mcc)
    assert recorded.params.gap_minutes == 20
    assert recorded.sources["gap_minutes"] == f"settings file {overlay}"


def test_a_never_stored_file_is_read_with_its_roots_settings(root: Path) -> None:
    """load_sessions, show and the page cut a file no store has touched as a store would."""
    write(global_settings(root), {"session_gap_minutes": 20, "session_team_change_mode": "ignore"})

    loaded = load_sessions(db_path(root), now=NOW)

    assert loaded.equals(
        load_sessions(db_path(root), gap_minutes=20, team_change_mode="ignore", now=NOW)
    )
    assert (
        loaded["session_id"].max()
        > load_sessions(db_path(root), gap_minutes=120, now=NOW)["session_id"].max()
    )


def test_the_run_config_beats_the_settings_in_a_dagster_run(root: Path) -> None:
    """What the Launchpad sends wins; what it leaves out resolves from the settings."""
    write(global_settings(root), SETTINGS)
    rules = {
        "split_on_ranked_change": False,
        "team_change_mode": "ignore",
        "start_time_zone": "UTC",
        "label_time_zone": "UTC",
    }

    result = materialize(root, sessions_run_config(rules=rules))

    assert result.success
    recorded = read_recorded_parameters(db_path(root))
    assert recorded.params.start_time_zone == recorded.params.label_time_zone == "UTC"
    assert recorded.sources["start_time_zone"] == recorded.sources["label_time_zone"] == RUN_CONFIG
    assert recorded_rules(root) == {
        "gap_minutes": (60, f"settings file {global_settings(root)}"),
        "split_on_ranked_change": (False, RUN_CONFIG),
        "team_change_mode": ("ignore", RUN_CONFIG),
    }


def parameter_lines(out: str) -> dict[str, str]:
    """The `Stored with` table of `show`: each parameter's row, by parameter name."""
    rows = [line for line in out.splitlines() if line.startswith("│")]
    return {row.split("│")[1].strip(): row for row in rows if row.split("│")[1].strip()}


def test_show_prints_each_parameter_with_where_it_came_from(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`show` lists each rule the file was stored with, and which of them a person chose."""
    write(global_settings(root), {"session_split_on_ranked_change": True})
    assert backfill(root, "--gap-minutes", "30", "--label-time-zone", "UTC") == 0
    capsys.readouterr()

    assert main(["show", "--gamertag", GAMERTAG, "--root", str(root)]) == 0

    lines = parameter_lines(capsys.readouterr().out)
    wanted = {
        "gap_minutes": ("30", RUN_CONFIG),
        "label_time_zone": ("UTC", RUN_CONFIG),
        "split_on_ranked_change": ("true", f"settings file {global_settings(root)}"),
        "team_change_mode": ("friends", DEFAULT),
        "start_time_zone": ("Europe/Paris", DEFAULT),
    }
    for name, (value, source) in wanted.items():
        cells = [cell.strip() for cell in lines[name].split("│")]
        assert cells[2:4] == [value, source], lines[name]
    friends = [cell.strip() for cell in lines["friends_xuids"].split("│")]
    assert friends[2] == "0 friends"
    assert friends[3] not in ("", "?")


def test_show_says_which_values_an_older_store_left_unrecorded(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file stored before sources were recorded still shows, and says so."""
    store_sessions(db_path(root), SessionParameters(start_time_zone="UTC"), StoreOptions(now=NOW))
    for column in ("start_time_zone", "split_on_ranked_change", "team_change_mode", "sources"):
        edit_by_hand(db_path(root), f"ALTER TABLE {PARAMETERS_TABLE} DROP COLUMN {column}")

    assert main(["show", "--gamertag", GAMERTAG, "--root", str(root)]) == 0

    lines = parameter_lines(capsys.readouterr().out)
    assert [cell.strip() for cell in lines["start_time_zone"].split("│")][2] == "UTC"
    assert "older version" in lines["start_time_zone"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("where", "document", "named"),
    [
        (global_settings, "{not json", ["invalid JSON"]),
        (global_settings, [1, 2], ["expected an object", "a list"]),
        (global_settings, {"session_gap_minutes": "90"}, ["session_gap_minutes", "'90'"]),
        (global_settings, {"session_gap_minutes": 0}, ["session_gap_minutes", "got a number 0"]),
        (global_settings, {"session_gap_minutes": True}, ["session_gap_minutes", "a boolean"]),
        (global_settings, {"session_split_on_ranked_change": "yes"}, ["ranked", "'yes'"]),
        (title_settings, {"session_team_change_mode": "random"}, ["team_change_mode", "'random'"]),
    ],
    ids=["not-json", "not-an-object", "gap-text", "gap-0", "gap-true", "split-yes", "mode-random"],
)
def test_a_bad_settings_file_is_named_and_nothing_is_written(
    root: Path, capsys: pytest.CaptureFixture[str], where, document: object, named: list[str]
) -> None:
    """LevelUp would fall back silently; a store would then freeze rules nobody chose."""
    settings_file = write(where(root), document)
    digest = file_digest(db_path(root))

    assert backfill(root) == 1

    error = capsys.readouterr().err
    assert str(settings_file) in error
    for words in named:
        assert words in error
    assert file_digest(db_path(root)) == digest
    failed = materialize(root, sessions_run_config(), raise_on_error=False)
    assert not failed.success
    assert file_digest(db_path(root)) == digest


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--start-time-zone", "Mars/Olympus"], "'Mars/Olympus'"),
        (["--label-time-zone", "Paris"], "'Paris'"),
        (["--team-change-mode", "random"], "'random'"),
        (["--gap-minutes", "0"], "0"),
    ],
)
def test_bad_flags_exit_2_naming_the_value(
    root: Path, capsys: pytest.CaptureFixture[str], flags: list[str], named: str
) -> None:
    """argparse refuses an unknown zone or mode at once, quoting what was typed."""
    digest = file_digest(db_path(root))
    with pytest.raises(SystemExit) as exit_info:
        backfill(root, *flags)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert file_digest(db_path(root)) == digest


BAD_RULES = [
    ({"start_time_zone": "Mars/Olympus"}, "Mars/Olympus"),
    ({"label_time_zone": "Paris"}, "Paris"),
    ({"team_change_mode": "random"}, "random"),
    ({"split_on_ranked_change": "yes"}, "split_on_ranked_change"),
    ({"gap_minutes": 0}, "greater than 0"),
]


@pytest.mark.parametrize(("rules", "named"), BAD_RULES)
@pytest.mark.parametrize("launch", ["materialize", "execute_job"])
def test_a_bad_run_config_is_refused_before_a_run_is_created(
    root: Path, rules: dict, named: str, launch: str
) -> None:
    """An unknown zone or mode in the Launchpad's config never becomes a run."""
    digest = file_digest(db_path(root))
    run_config = {"ops": {"computed_sessions": {"config": rules}}}
    with dg.DagsterInstance.ephemeral() as instance:
        with pytest.raises(dg.DagsterInvalidConfigError, match=named):
            if launch == "materialize":
                materialize(root, run_config, instance=instance)
            else:
                job = dg.build_reconstructable_job(
                    sessions_job_for_root.__module__,
                    sessions_job_for_root.__name__,
                    reconstructable_args=(str(root),),
                )
                dg.execute_job(
                    job,
                    instance=instance,
                    run_config=run_config,
                    tags={"dagster/partition": GAMERTAG},
                )
        assert instance.get_runs() == []
    assert file_digest(db_path(root)) == digest


# ---------------------------------------------------------------- automation's replay


def daily_tick_config(root: Path) -> dict:
    """The run config the daily schedule requests for the player."""
    defs = build_definitions(AppRoot(root))
    (schedule,) = defs.schedules
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 12, 6, 4, 0, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    return request.run_config


def test_replayed_rules_are_only_those_the_run_config_gave() -> None:
    """Sensors and the schedule resend what a person chose, never a resolved setting."""
    params = SessionParameters(
        gap_minutes=90, start_time_zone="UTC", team_change_mode="group", split_on_ranked_change=True
    )
    sources = {
        "gap_minutes": RUN_CONFIG,
        "start_time_zone": RUN_CONFIG,
        "team_change_mode": RUN_CONFIG,
        "split_on_ranked_change": "settings file /r/app_settings.json",
        "label_time_zone": DEFAULT,
        "friends_xuids": "friends config",
    }
    recorded = RecordedParameters(params, 4.0, NOW, sources)

    assert replayed_rules(recorded) == {
        "gap_minutes": 90,
        "start_time_zone": "UTC",
        "team_change_mode": "group",
    }
    legacy = RecordedParameters(SessionParameters(gap_minutes=75, start_time_zone="UTC"), 4.0, NOW)
    assert replayed_rules(legacy) == {"gap_minutes": 75}
    assert replayed_rules(None) == {}


def test_a_gap_given_by_flag_outlives_the_next_automated_run(root: Path) -> None:
    """`backfill --gap-minutes 90` is not undone by the next daily run."""
    write(global_settings(root), {"session_gap_minutes": 60})
    assert backfill(root, "--gap-minutes", "90", "--start-time-zone", "UTC") == 0

    rules = {"gap_minutes": 90, "start_time_zone": "UTC"}
    assert replayed_rules(read_recorded_parameters(db_path(root))) == rules
    assert daily_tick_config(root) == sessions_run_config(rules=rules)


def test_an_edit_of_app_settings_reaches_the_next_automated_run(root: Path) -> None:
    """A gap from app_settings.json is resolved again: LevelUp's new value is applied."""
    settings_file = write(global_settings(root), {"session_gap_minutes": 60})
    assert backfill(root) == 0
    assert replayed_rules(read_recorded_parameters(db_path(root))) == {}

    write(settings_file, {"session_gap_minutes": 45})
    result = materialize(root, daily_tick_config(root))

    assert result.success
    assert recorded_rules(root)["gap_minutes"] == (45, f"settings file {settings_file}")
