"""`sessions-pipeline dashboard` served for real and loaded in Debian's headless Chromium."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from sessions_pipeline import load_sessions
from sessions_pipeline.app_root import AppRoot
from sessions_pipeline.friends import resolve_friends
from sessions_pipeline.rules import SessionParameters
from sessions_pipeline.store import store_sessions

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_SECONDS = 90

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium); never downloaded",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(demo_root: Path, tmp_path: Path) -> Iterator[str]:
    """The dashboard of a demo root (JGtm stored), started as a user starts it."""
    app_root = AppRoot(demo_root)
    jgtm = app_root.player("JGtm")
    friends = resolve_friends(app_root, jgtm).xuids
    store_sessions(jgtm.db_path, SessionParameters(friends_xuids=friends))
    port = free_port()
    log = (tmp_path / "dashboard.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("sessions-pipeline")),
            "dashboard",
            "--root",
            str(demo_root),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"no dashboard: {(tmp_path / 'dashboard.log').read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_the_dashboard_shows_the_newest_session_and_the_chart_in_chromium(
    served: str, demo_root: Path
) -> None:
    from playwright.sync_api import sync_playwright

    sessions = load_sessions(AppRoot(demo_root).player("JGtm").db_path)
    newest = sessions.filter(pl.col("session_id") == sessions["session_id"].max())
    newest_label = newest["session_label"][0]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(f"{served}/?player=JGtm", timeout=60_000)
            # The sessions table is a canvas grid: its cells are in the DOM for screen
            # readers, not visible; the session picker shows the newest label, visibly.
            cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]')
            cells.filter(has_text=newest_label).first.wait_for(state="attached", timeout=60_000)
            picker = page.get_by_role("combobox", name="Session")
            picker.wait_for(timeout=60_000)
            assert picker.input_value() == newest_label
            chart = page.locator('[data-testid="stVegaLiteChart"]')
            points = chart.locator('[aria-roledescription="point"]')
            points.first.wait_for(timeout=60_000)
            assert page.title() == "Sessions · LevelUp"
            assert "Sessions over time" in chart.inner_html()
            # One point per session, plus a ring around each session not all stored.
            assert points.count() >= sessions["session_id"].n_unique()
            assert "player=JGtm" in page.url
        finally:
            browser.close()
