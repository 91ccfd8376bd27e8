"""`sessions-pipeline dashboard` served for real and loaded in Debian's headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from sessions_pipeline import load_sessions
from sessions_pipeline.app_root import AppRoot
from sessions_pipeline.friends import resolve_friends
from sessions_pipeline.rules import SessionParameters
from sessions_pipeline.store import store_sessions
from sessions_pipeline_tests.dashboard_server import dashboard_server, free_port

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

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium); never downloaded",
)


@pytest.fixture
def served(demo_root: Path, tmp_path: Path) -> Iterator[str]:
    """The dashboard of a demo root (JGtm stored), started as a user starts it."""
    app_root = AppRoot(demo_root)
    jgtm = app_root.player("JGtm")
    friends = resolve_friends(app_root, jgtm).xuids
    store_sessions(jgtm.db_path, SessionParameters(friends_xuids=friends))
    with dashboard_server(demo_root, tmp_path / "dashboard.log", free_port()) as url:
        yield url


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
