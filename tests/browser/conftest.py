"""Fixtures for the explorer's browser tests: one server and one Chromium per session.

Without /usr/bin/chromium the tests are skipped, unless GAUSSLAB_REQUIRE_BROWSER=1 (as in
CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from gausslab.explorer.harness import CHROMIUM, VIEWPORT, launch_chromium, wait_for_graph
from gausslab.explorer.server import background_server

playwright_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Tab:
    """A browser page on the explorer, with the console errors it has logged."""

    page: playwright_api.Page
    base_url: str
    errors: list[str] = field(default_factory=list)

    def open(self, path: str, graph_id: str | None = None) -> None:
        """Go to ``path`` (relative to the app) and wait for ``graph_id`` to draw."""
        self.page.goto(self.base_url + path)
        if graph_id is not None:
            wait_for_graph(self.page, graph_id)


@pytest.fixture(scope="session")
def explorer_url() -> Iterator[str]:
    """Base URL of one explorer served in a background thread for the whole session."""
    with background_server() as url:
        yield url


@pytest.fixture(scope="session")
def chromium() -> Iterator[playwright_api.Browser]:
    """One headless Chromium for the whole session."""
    if not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM}"
        if os.environ.get("GAUSSLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{message}, and GAUSSLAB_REQUIRE_BROWSER=1 requires the browser tests")
        pytest.skip(message)
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser_context(chromium: playwright_api.Browser) -> Iterator[playwright_api.BrowserContext]:
    """One context for the session, so the app's scripts are fetched once and then cached."""
    context = chromium.new_context(viewport=VIEWPORT)
    yield context
    context.close()


@pytest.fixture
def tab(browser_context: playwright_api.BrowserContext, explorer_url: str) -> Iterator[Tab]:
    """A fresh page that records console errors and uncaught page errors."""
    page = browser_context.new_page()
    page.set_default_timeout(15_000)
    result = Tab(page=page, base_url=explorer_url)
    page.on("console", lambda m: result.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: result.errors.append(str(exc)))
    yield result
    page.close()
