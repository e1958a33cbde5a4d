"""The app shell: every page loads cleanly, the landing page links them relatively,
unknown paths and malformed callback posts are answered without a server error."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urljoin

import pytest

from gausslab.explorer.harness import typeset_formulas, wait_for_graph
from gausslab.explorer.pages import PAGES

pytestmark = pytest.mark.browser


_RAW_TEX_LEFT = """() => Array.from(document.querySelectorAll('.intro, .readout-label'))
    .filter(e => /[$]|\\[a-z]/.test(e.innerText)).length"""


@pytest.mark.parametrize("page", PAGES, ids=[p.path for p in PAGES])
def test_page_loads_with_typeset_formulas_and_without_console_errors(tab, page):
    """Every page loads without an alert or a console error, and MathJax has typeset its
    formulas: the intro holds typeset math and no raw TeX ($ or a backslash command) is
    left in the intro or the readout labels."""
    tab.open(page.path, page.graph)
    assert tab.page.locator("h2").first.inner_text() != "Page not found"
    tab.page.wait_for_function(f"() => ({_RAW_TEX_LEFT})() === 0")
    assert tab.page.locator(".intro mjx-container").count() >= 1
    assert typeset_formulas(tab.page) >= 2
    assert tab.page.locator(".alert").count() == 0
    assert tab.errors == []


def test_landing_links_every_page_with_a_relative_href_that_resolves(tab):
    tab.open("")
    links = tab.page.locator("#page-list a")
    links.first.wait_for()
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs == [page.path for page in PAGES]
    for href, page in zip(hrefs, PAGES, strict=True):
        assert not href.startswith("/") and "://" not in href, href
        tab.page.locator(f"#page-list a[href='{href}']").click()  # in-app navigation
        wait_for_graph(tab.page, page.graph)
        assert tab.page.url == urljoin(tab.base_url, href)
        tab.page.locator("header a.brand").click()  # back to the landing page, href "./"
        tab.page.locator("#page-list").wait_for()
    assert tab.page.url == tab.base_url
    assert tab.errors == []


def test_unknown_path_says_so_and_links_home(tab):
    tab.open("no-such-page")
    assert tab.page.locator("h2").first.inner_text() == "Page not found"
    assert tab.page.get_by_text("Back to the list of pages").get_attribute("href") == "./"


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url + "_dash-update-component", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",
        json.dumps({"output": "nope.children", "outputs": {}, "inputs": []}).encode(),
        json.dumps(
            {
                "output": "page-content.children",
                "outputs": {"id": "page-content", "property": "children"},
                "inputs": "zz",
            }
        ).encode(),
    ],
)
def test_malformed_callback_posts_get_a_client_error(explorer_url, body):
    assert _post(explorer_url, body) == 400


def test_router_survives_a_non_string_path(explorer_url):
    body = {
        "output": "page-content.children",
        "outputs": {"id": "page-content", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": {"not": "a path"}}],
        "changedPropIds": ["url.pathname"],
    }
    assert _post(explorer_url, json.dumps(body).encode()) == 200


@pytest.mark.parametrize("sigma", [{"a": 1}, [1, 2], None, True, "1e999"])
def test_garbage_values_in_a_well_formed_post_become_an_alert(explorer_url, sigma):
    outputs = [
        {"id": "uni-graph", "property": "figure"},
        *({"id": f"uni-{name}", "property": "children"} for name in ("area", "peak", "bands")),
        {"id": "uni-alert", "property": "children"},
    ]
    body = {
        "output": "..uni-graph.figure...uni-area.children...uni-peak.children"
        "...uni-bands.children...uni-alert.children..",
        "outputs": outputs,
        "inputs": [
            {"id": {"ctl": "uni-mu", "role": "text"}, "property": "value", "value": "0"},
            {"id": {"ctl": "uni-sigma", "role": "text"}, "property": "value", "value": sigma},
            {"id": "uni-view", "property": "value", "value": "density"},
        ],
        "changedPropIds": [],
    }
    request = urllib.request.Request(
        explorer_url + "_dash-update-component",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        reply = json.load(response)["response"]
    assert "σ must be" in reply["uni-alert"]["children"]["props"]["children"]
    assert "uni-graph" not in reply  # the last good figure stays
