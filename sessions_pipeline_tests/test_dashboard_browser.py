"""`sessions-pipeline dashboard` served for real and loaded in Debian's headless Chromium."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest

from sessions_pipeline import load_sessions
from sessions_pipeline.levelup.app_root import AppRoot
from sessions_pipeline.levelup.friends import resolve_friends
from sessions_pipeline.levelup.store import store_sessions
from sessions_pipeline.rules.sessions import SessionParameters
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
# Where the browser tests leave what Chromium showed, to look at after a run.
SCREENSHOTS = Path(tempfile.gettempdir())

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


def test_a_link_with_html_and_a_path_trick_shows_the_message_as_text_in_chromium(
    served: str,
) -> None:
    from playwright.sync_api import sync_playwright

    # A path out of the root, HTML, and a blank line that would end the message's code
    # span and let a Markdown link render, if it were not escaped.
    value = "../<b>x</b><script>alert(1)</script>\n\n[a](http://x.invalid)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(f"{served}/?player={quote(value, safe='')}", timeout=60_000)
            alert = page.locator('[data-testid="stAlert"]').filter(has_text="The link asks for")
            alert.wait_for(timeout=60_000)
            page.get_by_role("combobox", name="Session").wait_for(timeout=60_000)
            page.screenshot(path=str(SCREENSHOTS / "dashboard-link-to-no-player.png"))
            assert r"../<b>x</b><script>alert(1)</script>\n\n[a](http://x.invalid)" in (
                alert.inner_text()
            )
            assert alert.locator("b, script, a, img").count() == 0
            assert page.locator("script", has_text="alert(1)").count() == 0
            assert dialogs == []
            assert page.url.endswith("?player=Chocoboflor")
        finally:
            browser.close()
