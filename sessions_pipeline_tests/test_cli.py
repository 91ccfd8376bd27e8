"""`sessions-pipeline`: backfill through the Dagster job, the demo, and show."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sessions_pipeline.entry_points.cli import main
from sessions_pipeline.entry_points.demo import DEMO_PLAYERS
from sessions_pipeline.levelup.app_root import HOME_ENV_VAR
from sessions_pipeline.levelup.store import read_timeline
from sessions_pipeline.rules.sessions import SessionParameters
from sessions_pipeline_tests.dashboard_server import (
    PROC_NET_TCP,
    answers,
    dashboard_server,
    free_port,
    listening_addresses,
    url_of,
)
from sessions_pipeline_tests.fresh_imports import libraries_loaded_by

GAMERTAGS = sorted(player.gamertag for player in DEMO_PLAYERS)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to a real DAGSTER_HOME; tables are wide enough not to wrap."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def stored_ids(root: Path, gamertag: str = "JGtm") -> set[object]:
    """The session ids stored in the player's file, whichever layout it has."""
    path = root / "data" / "players" / gamertag / "stats.duckdb"
    return set(read_timeline(path, SessionParameters()).frame["stored_session_id"].to_list())


def add_broken_players(root: Path) -> None:
    """A profile whose file is missing, and a DuckDB file that is not a LevelUp file."""
    profiles_file = root / "db_profiles.json"
    profiles = json.loads(profiles_file.read_text())
    profiles["profiles"]["Ghost"] = {"db_path": "data/players/Ghost/stats.duckdb"}
    profiles_file.write_text(json.dumps(profiles))
    broken = root / "data" / "players" / "Broken" / "stats.duckdb"
    broken.parent.mkdir()
    with duckdb.connect(str(broken)) as con:
        con.execute("CREATE TABLE notes (text VARCHAR)")


CONSOLE_SCRIPT = str(Path(sys.executable).with_name("sessions-pipeline"))
"""The installed command (`sessions_pipeline.entry_points.launch`), which starts the
workers' server early."""


def test_the_console_script_module_loads_no_heavy_library() -> None:
    """It starts the workers' fork server before anything slow is imported, so the
    server's import of Dagster runs beside this process's own, not after it."""
    heavy = {"dagster", "duckdb", "polars", "pyarrow", "rich"}
    assert libraries_loaded_by("sessions_pipeline.entry_points.launch", heavy) == []


@pytest.mark.dagster_cli
@pytest.mark.parametrize(
    ("command", "workers"),
    [([sys.executable, "-m", "sessions_pipeline.entry_points.cli"], "1"), ([CONSOLE_SCRIPT], "2")],
    ids=["one-process", "two-workers-from-the-console-script"],
)
def test_backfill_all_goes_on_past_broken_players_and_fails_at_the_end(
    demo_root: Path, command: list[str], workers: str
) -> None:
    add_broken_players(demo_root)
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    env.update({HOME_ENV_VAR: str(demo_root), "COLUMNS": "200"})

    done = subprocess.run(
        [*command, "backfill", "--all", "--workers", workers],
        cwd=demo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 1, done.stderr[-3000:]
    for gamertag in GAMERTAGS:
        assert None not in stored_ids(demo_root, gamertag)
        assert f"ok {gamertag}: " in done.stdout
    assert "Sessions stored: 4 ok, 2 failed" in done.stdout
    assert "Ghost: player 'Ghost'" in done.stderr
    assert "Broken: match_timeline: PlayerFileError: the file has no match_stats table" in (
        done.stderr
    )


def test_backfill_one_player_dry_run_writes_nothing(
    demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["backfill", "--gamertag", "jgtm", "--dry-run", "--root", str(demo_root)])

    out = capsys.readouterr().out
    assert status == 0
    assert "Dry run, nothing written: 1 ok, 0 failed" in out
    assert "ok JGtm: " in out and "would write" in out
    assert stored_ids(demo_root) == {None}


def test_backfill_runs_land_in_the_dagster_home_history(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    status = main(
        ["backfill", "--gamertag", "Chocoboflor", "--gap-minutes", "45", "--root", str(demo_root)]
    )

    assert status == 0
    assert None not in stored_ids(demo_root, "Chocoboflor")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
    assert run.job_name == "sessions_job"
    assert run.tags["dagster/partition"] == "Chocoboflor"
    assert run.run_config["ops"]["computed_sessions"]["config"] == {
        "gap_minutes": 45,
        "start_time_zone": None,
        "label_time_zone": None,
        "split_on_ranked_change": None,
        "team_change_mode": None,
    }
    assert run.status == dg.DagsterRunStatus.SUCCESS


def test_an_unknown_player_fails_clearly(
    demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["backfill", "--gamertag", "Nobody", "--root", str(demo_root)])

    assert status == 1
    assert "Nobody: player 'Nobody': no profile" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments",
    [
        ["backfill", "--all", "--gamertag", "JGtm"],
        ["backfill"],
        ["backfill", "--all", "--gap-minutes", "0"],
        ["backfill", "--all", "--gap-minutes", "ninety"],
        ["dashboard", "--address", ""],  # Streamlit would serve on every interface
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(
    demo_root: Path, arguments: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*arguments, "--root", str(demo_root)])
    assert exit_info.value.code == 2
    assert stored_ids(demo_root) == {None}


def test_demo_builds_a_root_and_stores_every_player(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["demo", "--root", str(tmp_path)])

    out = capsys.readouterr().out
    assert status == 0
    assert "Sessions stored: 4 ok, 0 failed" in out
    for gamertag in GAMERTAGS:
        assert f"ok {gamertag}: " in out
        assert len(stored_ids(tmp_path, gamertag) - {None}) > 10
    assert (tmp_path / ".streamlit" / "friends_defaults.json").is_file()
    assert f"Runs recorded in the Dagster instance at {tmp_path / 'dagster_home'}" in out
    assert "DAGSTER_HOME" not in os.environ


def recorded_in(home: Path) -> tuple[set[str], dict[str, set[str]], list[dg.DagsterRun]]:
    """What the UI over `home` shows: stored_sessions partitions materialized, the players
    each check evaluated (passing), and the runs."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        materialized = instance.get_materialized_partitions(dg.AssetKey("stored_sessions"))
        checks = {}
        for name in ("no_drift", "no_unstored_stable_match"):
            key = dg.AssetCheckKey(dg.AssetKey("stored_sessions"), name)
            history = instance.event_log_storage.get_asset_check_execution_history(key, limit=50)
            checks[name] = {
                record.event.asset_check_evaluation.partition
                for record in history
                if record.event and record.event.asset_check_evaluation.passed
            }
        return materialized, checks, list(instance.get_runs())


def test_demo_records_its_runs_where_the_readme_points_dagster_dev(tmp_path: Path) -> None:
    assert main(["demo", "--root", str(tmp_path)]) == 0

    materialized, checks, runs = recorded_in(tmp_path / "dagster_home")
    assert materialized == set(GAMERTAGS)
    assert checks == {"no_drift": set(GAMERTAGS), "no_unstored_stable_match": set(GAMERTAGS)}
    assert sorted(run.tags["dagster/partition"] for run in runs) == GAMERTAGS
    assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}


def test_demo_records_in_dagster_home_when_it_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, root = tmp_path / "elsewhere", tmp_path / "root"
    home.mkdir()
    root.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    assert main(["demo", "--root", str(root)]) == 0

    assert recorded_in(home)[0] == set(GAMERTAGS)
    assert not (root / "dagster_home").exists()


def test_show_lists_sessions_newest_first_with_why_each_started(
    demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backfill", "--gamertag", "JGtm", "--root", str(demo_root)]) == 0
    capsys.readouterr()

    status = main(["show", "--gamertag", "JGtm", "--limit", "30", "--root", str(demo_root)])

    out, stored_with = capsys.readouterr().out.split("Stored with")
    assert status == 0
    assert "JGtm: 30 sessions, newest first" in out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    ids = [int(row.split("│")[1]) for row in rows]
    assert len(rows) == 30
    assert ids == sorted(ids, reverse=True)
    reasons = {row.split("│")[4].strip() for row in rows}
    assert reasons <= {"first", "gap", "friend_joined", "went_solo", "teammates_changed"}
    assert "gap" in reasons
    assert "\N{EN DASH}" in rows[0]
    parameters = {
        cells[1].strip(): (cells[2].strip(), cells[3].strip())
        for cells in (line.split("│") for line in stored_with.splitlines() if line.startswith("│"))
    }
    assert parameters["gap_minutes"] == ("120", "default")
    assert parameters["start_time_zone"] == ("Europe/Paris", "default")
    assert parameters["team_change_mode"] == ("friends", "default")
    assert parameters["friends_xuids"] == ("3 friends", "friends_defaults.json")


linux_sockets = pytest.mark.skipif(
    not PROC_NET_TCP[0].exists(), reason="reads the listening sockets from Linux's /proc/net"
)


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@linux_sockets
def test_the_dashboard_listens_on_this_machine_only(demo_root: Path, tmp_path: Path) -> None:
    # A root's config cannot open it up: the command line's address wins.
    (demo_root / ".streamlit" / "config.toml").write_text('[server]\naddress = "0.0.0.0"\n')
    port = free_port()
    log = tmp_path / "dashboard.log"

    with dashboard_server(demo_root, log, port) as url:
        assert url == f"http://127.0.0.1:{port}"
        assert listening_addresses(port) == {"127.0.0.1"}
        # 127.0.0.2 is this machine too (all of 127/8 is): a socket on every interface
        # would answer there.
        assert not answers(url_of("127.0.0.2", port))

    out = log.read_text()
    assert f"Dashboard of {demo_root} on http://127.0.0.1:{port}\n" in out
    assert "no login" not in out


@linux_sockets
@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.2",
        pytest.param("::1", marks=pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6")),
    ],
)
def test_dashboard_address_serves_there_and_warns_that_the_page_has_no_login(
    demo_root: Path, tmp_path: Path, address: str
) -> None:
    port = free_port()
    log = tmp_path / "dashboard.log"

    with dashboard_server(demo_root, log, port, address) as url:
        assert listening_addresses(port) == {address}
        assert not answers(url_of("127.0.0.1", port))

    out = log.read_text()
    host = url.removeprefix("http://")
    assert f"Dashboard of {demo_root} on {url}\n" in out
    assert (
        f"warning: the dashboard has no login: anyone who can reach {host} sees every "
        "player's history. Leave out --address to serve on 127.0.0.1 (this machine only)."
    ) in out


def test_backfill_all_with_two_workers_on_a_fresh_dagster_home(
    demo_root: Path, tmp_path: Path
) -> None:
    """Two workers opening an empty DAGSTER_HOME at once collided creating its schema; the
    command now creates it before they start, and every player's run is recorded."""
    home = tmp_path / "fresh_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), HOME_ENV_VAR: str(demo_root)}
    done = subprocess.run(
        [CONSOLE_SCRIPT, "backfill", "--all", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.get_runs()) == 2
