"""The sessions dashboard, rendered by Streamlit's AppTest over real demo roots."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from sessions_pipeline import load_sessions
from sessions_pipeline.entry_points import dashboard
from sessions_pipeline.levelup.app_root import HOME_ENV_VAR, TITLE_ENV_VAR, AppRoot
from sessions_pipeline.levelup.friends import resolve_friends
from sessions_pipeline.levelup.store import store_sessions
from sessions_pipeline.rules.sessions import BreakReason, SessionParameters
from sessions_pipeline_tests.fresh_imports import libraries_loaded_by
from sessions_pipeline_tests.levelup_files import make_player_file, matches_at

PAGE = str(Path(dashboard.__file__))
GAMERTAGS = ["Chocoboflor", "JGtm", "Madina97294", "XxDaemonGamerxX"]


def store(root: Path, gamertag: str) -> None:
    """What a default run does: the player's friends, then a store of its stable matches."""
    app_root = AppRoot(root)
    player = app_root.player(gamertag)
    friends = resolve_friends(app_root, player)
    store_sessions(player.db_path, SessionParameters(friends_xuids=friends.xuids))


def page(root: Path, monkeypatch: pytest.MonkeyPatch, player: str | None = None) -> AppTest:
    monkeypatch.setenv(HOME_ENV_VAR, str(root))
    app = AppTest.from_file(PAGE, default_timeout=60)
    if player is not None:
        app.query_params["player"] = player
    return app.run()


def sessions_shown(app: AppTest) -> pl.DataFrame:
    """The sessions table as the page renders it."""
    [table] = [frame for frame in app.dataframe if "why it started" in frame.value.columns]
    return pl.from_pandas(table.value)


def expected_sessions(db_path: Path) -> pl.DataFrame:
    """One row per session of `load_sessions`, newest first, in the words `show` uses."""
    return (
        load_sessions(db_path)
        .group_by("session_id", maintain_order=True)
        .agg(
            pl.col("session_label").first(),
            pl.len().alias("matches"),
            pl.col("is_stored").all().alias("all"),
            pl.col("is_stored").any().alias("any"),
        )
        .sort("session_id", descending=True)
        .select(
            pl.col("session_id").alias("id"),
            pl.col("session_label").alias("label"),
            "matches",
            stored=pl.when("all")
            .then(pl.lit("yes"))
            .when("any")
            .then(pl.lit("partly"))
            .otherwise(pl.lit("recent")),
        )
    )


def snapshot(root: Path) -> dict[Path, bytes]:
    """Every file under the root and its bytes."""
    return {path: path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def messages(app: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*app.error, *app.warning, *app.info])


def assert_no_exception(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]


@pytest.mark.parametrize("gamertag", ["JGtm", "Chocoboflor"])
def test_rendered_sessions_equal_load_sessions(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch, gamertag: str
) -> None:
    store(demo_root, "JGtm")  # JGtm stored, Chocoboflor never: both views must be right
    db_path = AppRoot(demo_root).player(gamertag).db_path

    app = page(demo_root, monkeypatch, player=gamertag)

    assert_no_exception(app)
    shown = sessions_shown(app)
    expected = expected_sessions(db_path)
    assert shown.select("id", "label", "matches", "stored").to_dicts() == expected.to_dicts()
    assert set(shown["why it started"]) <= {*BreakReason} and "gap" in set(shown["why it started"])
    assert shown["why it started"][-1] == "first"
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Sessions"] == f"{len(expected):,}"
    stored = int(load_sessions(db_path)["is_stored"].sum())
    assert metrics["Matches stored"] == f"{stored:,}"


def test_the_newest_session_lists_its_matches(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(demo_root, "JGtm")
    sessions = load_sessions(AppRoot(demo_root).player("JGtm").db_path)
    newest = sessions.filter(pl.col("session_id") == sessions["session_id"].max())

    app = page(demo_root, monkeypatch, player="JGtm")

    [matches] = [frame for frame in app.dataframe if "match_id" in frame.value.columns]
    assert matches.value["match_id"].tolist() == newest["match_id"].to_list()
    chosen = app.selectbox(key="session-JGtm")
    assert chosen.value == newest["session_id"][0]
    older = int(newest["session_id"][0]) - 3
    chosen.select(older).run()
    [matches] = [frame for frame in app.dataframe if "match_id" in frame.value.columns]
    assert matches.value["match_id"].tolist() == (
        sessions.filter(pl.col("session_id") == older)["match_id"].to_list()
    )


def test_switching_players_follows_the_picker_and_the_url(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = page(demo_root, monkeypatch)
    assert app.selectbox(key="player").options == GAMERTAGS
    assert app.selectbox(key="player").value == "Chocoboflor"
    assert app.query_params["player"] == "Chocoboflor"

    app.selectbox(key="player").select("Madina97294").run()

    assert_no_exception(app)
    assert app.query_params["player"] == "Madina97294"
    madina = AppRoot(demo_root).player("Madina97294").db_path
    shown = sessions_shown(app)
    assert shown.select("id", "label", "matches", "stored").to_dicts() == (
        expected_sessions(madina).to_dicts()
    )


def test_a_link_opens_its_player_whatever_the_case(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = page(demo_root, monkeypatch, player="jgtm")

    assert app.selectbox(key="player").value == "JGtm"
    assert not app.error


def test_a_store_is_visible_on_the_next_rerun(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = page(demo_root, monkeypatch, player="JGtm")
    db_path = AppRoot(demo_root).player("JGtm").db_path
    assert set(sessions_shown(app)["stored"]) == {"recent"}
    assert "backfill --gamertag JGtm" in messages(app)
    assert "never stored this file" in messages(app)

    store(demo_root, "JGtm")
    app.run()

    assert_no_exception(app)
    shown = sessions_shown(app)
    assert set(shown["stored"]) == {"yes"}
    assert shown.select("id", "label", "matches", "stored").to_dicts() == (
        expected_sessions(db_path).to_dicts()
    )
    assert "backfill" not in messages(app)
    parameters = {row[0]: row[1:] for row in app.table[0].value.itertuples(index=False)}
    assert parameters["gap_minutes"] == ("120", "the caller of store_sessions")
    assert parameters["start_time_zone"] == ("Europe/Paris", "the caller of store_sessions")
    assert "Madina97294 (2533274858283686)" in parameters["friends_xuids"][0]
    assert parameters["stability_hours"] == ("4 h", "file")


def test_a_rerun_of_an_unchanged_file_reads_nothing(demo_root: Path) -> None:
    db_path = AppRoot(demo_root).player("JGtm").db_path
    now = datetime.now(UTC)
    first = dashboard.read_player_file(db_path, now=now)
    # The same object: the rerun took the cached read, it did not read the file again.
    assert dashboard.read_player_file(db_path, now=now) is first
    store(demo_root, "JGtm")
    assert dashboard.read_player_file(db_path, now=now) is not first
    assert dashboard.read_player_file(db_path, now=now + timedelta(minutes=1)) is not first


def test_no_slider_no_friends_picker_and_nothing_written(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(demo_root, "JGtm")
    before = snapshot(demo_root)

    app = page(demo_root, monkeypatch, player="JGtm")
    app.selectbox(key="player").select("Madina97294").run()

    assert_no_exception(app)
    assert not app.slider
    assert not app.select_slider
    assert not app.multiselect
    assert not app.number_input
    assert [box.label for box in app.selectbox] == ["Player", "Session"]
    assert snapshot(demo_root) == before


def test_a_root_without_players_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = page(tmp_path, monkeypatch)

    assert_no_exception(app)
    assert f"No player in ` {tmp_path} `" in messages(app)


def test_the_page_serves_the_title_sessions_pipeline_title_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_player_file(tmp_path / "data" / "players" / "JGtm" / "stats.duckdb")
    mcc = tmp_path / "data" / "titles" / "halo_mcc" / "players" / "G" / "stats.duckdb"
    make_player_file(mcc, matches_at(datetime(2026, 1, 10, 20), [0, 10, 300]))
    monkeypatch.setenv(TITLE_ENV_VAR, "halo_mcc")

    app = page(tmp_path, monkeypatch)

    assert_no_exception(app)
    assert not app.error  # the friends of G are looked up in its own title too
    assert app.selectbox(key="player").options == ["G"]
    assert len(sessions_shown(app)) == 2


def test_a_profile_pointing_at_a_missing_file_is_a_message(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = json.loads((demo_root / "db_profiles.json").read_text())
    profiles["profiles"]["Ghost"] = {"db_path": "data/players/Ghost/stats.duckdb"}
    (demo_root / "db_profiles.json").write_text(json.dumps(profiles))

    app = page(demo_root, monkeypatch, player="Ghost")

    assert_no_exception(app)
    assert "Cannot read the sessions of ` Ghost `" in messages(app)
    assert "is missing" in messages(app)


def empty_duckdb_file(db_path: Path) -> None:
    duckdb.connect(str(db_path)).close()


def not_a_database(db_path: Path) -> None:
    db_path.write_bytes(b"not a database" * 1000)


def no_match_yet(db_path: Path) -> None:
    make_player_file(db_path)


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (not_a_database, "Cannot read the sessions of ` P `"),
        (empty_duckdb_file, "no match_stats table"),
        (no_match_yet, "holds no match with a start time yet: nothing to show"),
    ],
)
def test_a_player_file_that_cannot_show_sessions_is_a_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_file: Callable[[Path], None],
    message: str,
) -> None:
    db_path = tmp_path / "data" / "players" / "P" / "stats.duckdb"
    db_path.parent.mkdir(parents=True)
    make_file(db_path)

    app = page(tmp_path, monkeypatch)

    assert_no_exception(app)
    assert message in messages(app)


def test_a_broken_friends_file_is_a_message_and_the_sessions_still_show(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(demo_root, "JGtm")
    (demo_root / ".streamlit" / "friends_defaults.json").write_text('{"2533274823110022": [')

    app = page(demo_root, monkeypatch, player="JGtm")

    assert_no_exception(app)
    assert "friends_defaults.json: invalid JSON at line 1" in messages(app)
    db_path = AppRoot(demo_root).player("JGtm").db_path
    assert len(sessions_shown(app)) == len(expected_sessions(db_path))


def test_friends_changed_since_the_store_is_said(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(demo_root, "JGtm")
    (demo_root / ".streamlit" / "friends_defaults.json").write_text(
        json.dumps({"2533274823110022": ["Madina97294", "NobodyKnown"]})
    )

    app = page(demo_root, monkeypatch, player="JGtm")

    assert "differ from those the file was stored with" in messages(app)
    assert "NobodyKnown" in "\n".join(str(caption.value) for caption in app.caption)


def test_an_unknown_player_in_the_url_is_a_message(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = page(demo_root, monkeypatch, player="NoSuchPlayer")

    assert_no_exception(app)
    assert "NoSuchPlayer" in messages(app)
    assert "not in" in messages(app)
    assert app.selectbox(key="player").value == "Chocoboflor"
    assert len(sessions_shown(app)) > 0


# URL values that are no player of the root, and how the message must show each: in a
# code span, as text, cut after 60 characters, invisible characters as escapes.
NOT_A_PLAYER = {
    "parent": ("../x", "` ../x `"),
    "dot-dot": ("..", "` .. `"),
    "absolute": ("/etc/passwd", "` /etc/passwd `"),
    "climbing": ("a/../../b", "` a/../../b `"),
    "backslashes": ("..\\..\\x", "` ..\\..\\x `"),
    "drive": ("C:x", "` C:x `"),
    "10-kb": ("a" * 10_240, f"` {'a' * dashboard.URL_VALUE_SHOWN}… `"),
    "script": ("<script>alert(1)</script>", "` <script>alert(1)</script> `"),
    "bold": ("<b>x</b>", "` <b>x</b> `"),
    "backticks": ("`` <b>x</b>", "``` `` <b>x</b> ```"),
    "blank-line-then-markdown": (
        "x\n\n[a](http://x.invalid) ![i](http://x.invalid/i.png)",
        "` x\\n\\n[a](http://x.invalid) ![i](http://x.invalid/i.png) `",
    ),
    "control": ("\x00\x1b[31m\u202eA\u2028", "` \\x00\\x1b[31m\\u202eA\\u2028 `"),
    "empty": ("", "The link leaves ` player= ` blank."),
    "spaces": ("   ", "The link leaves ` player= ` blank."),
    "another-title": ("Master Chief", "` Master Chief `"),
}


@pytest.mark.parametrize(("value", "shown"), NOT_A_PLAYER.values(), ids=NOT_A_PLAYER.keys())
def test_a_link_to_no_player_is_a_message_that_shows_the_value_as_text(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch, value: str, shown: str
) -> None:
    app = page(demo_root, monkeypatch, player=value)

    assert_no_exception(app)
    [error] = app.error
    message = str(error.value)
    assert shown in message
    assert message.startswith("The link ")
    assert message.endswith("Showing ` Chocoboflor `; pick another player below.")
    # Bounded whatever the link holds, and nothing invisible or line-breaking in it.
    assert len(message) < 200 + len(str(demo_root))
    assert all(character.isprintable() for character in message)
    assert app.selectbox(key="player").value == "Chocoboflor"
    assert app.query_params["player"] == "Chocoboflor"
    assert len(sessions_shown(app)) > 0


def file_times(path: Path) -> tuple[int, int]:
    """Modification and access times: a read moves the access time (on relatime, Linux's
    default, as soon as it is older than the modification time)."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_atime_ns


@pytest.mark.parametrize(
    "trick",
    ["../../../outside", "JGtm/../../../../outside", "{outside}"],
)
def test_a_link_never_opens_a_player_file_outside_the_root(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trick: str
) -> None:
    # A real player file where data/players/<trick>/stats.duckdb would land, if joined.
    outside = tmp_path / "outside" / "stats.duckdb"
    outside.parent.mkdir()
    content = AppRoot(demo_root).player("JGtm").db_path.read_bytes()
    outside.write_bytes(content)
    modified = outside.stat().st_mtime_ns
    os.utime(outside, ns=(modified - 3_600 * 10**9, modified))
    before = file_times(outside)
    trick = trick.format(outside=outside.parent)
    assert (AppRoot(demo_root).players_dir / trick / "stats.duckdb").resolve() == outside

    app = page(demo_root, monkeypatch, player=trick)

    assert_no_exception(app)
    assert "who is not in" in messages(app)
    assert app.selectbox(key="player").value == "Chocoboflor"
    assert file_times(outside) == before  # before reading it here, which moves them
    assert outside.read_bytes() == content


def test_a_broken_profiles_file_is_a_message(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (demo_root / "db_profiles.json").write_text('{"profiles": []}')

    app = page(demo_root, monkeypatch)

    assert_no_exception(app)
    assert "Cannot list the players" in messages(app)
    assert "'profiles' must be an object" in messages(app)


def test_the_page_never_imports_dagster() -> None:
    """The dashboard runs beside LevelUp, which has no reason to install or load Dagster."""
    assert (
        libraries_loaded_by(
            "sessions_pipeline.entry_points.dashboard", {"dagster", "dagster_duckdb"}
        )
        == []
    )
