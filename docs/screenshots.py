"""Screenshots of the Dagster UI for the README, taken over the demo's instance.

Run after `sessions-pipeline demo` with `DAGSTER_HOME=dagster_home uv run dg dev --port 3309`
going; it drives Debian's Chromium (no browser download): `uv run python docs/screenshots.py`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
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
DOCS = Path(__file__).resolve().parent


def shoot(page: Page, url: str, wait_for: str, name: str) -> None:
    page.goto(url)
    page.get_by_text(wait_for).first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.body.innerText.includes('Loading')", timeout=60_000)
    # A fresh instance greets the first visit with a community sign-up dialog.
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.click()
        page.wait_for_timeout(500)
    page.screenshot(path=DOCS / name)
    print(DOCS / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ui", default="http://127.0.0.1:3309")
    parser.add_argument("--partition", default="JGtm")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 620})
        shoot(
            page,
            f"{args.ui}/locations/sessions_pipeline/asset-groups/sessions/lineage",
            "stored_sessions",
            "asset_graph.png",
        )
        page.set_viewport_size({"width": 1400, "height": 1040})
        shoot(
            page,
            f"{args.ui}/assets/stored_sessions?view=partitions&partition={args.partition}",
            "sessions_stored",
            "stored_sessions_run.png",
        )
        browser.close()


if __name__ == "__main__":
    main()
