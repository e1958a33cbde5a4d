"""Drive the explorer in headless Chromium: shared by the browser tests, the latency
benchmark and the screenshot writer.

Needs the ``playwright`` Python package (a test dependency); the explorer itself does not.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from gausslab.explorer.controls import slider_id, text_id

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Playwright

CHROMIUM = os.environ.get("GAUSSLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
VIEWPORT = {"width": 1000, "height": 700}


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Chromium from the system install (no downloaded browser needed)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
    )


def _dash_id(component_id: dict[str, str]) -> str:
    """The DOM id Dash gives a dict id: JSON with sorted keys and no spaces."""
    return json.dumps(component_id, sort_keys=True, separators=(",", ":"))


def control_text(page: Page, ctl: str) -> Locator:
    """The text box of control ``ctl``."""
    return page.locator(f"[id='{_dash_id(text_id(ctl))}']")


def slider_thumb(page: Page, ctl: str) -> Locator:
    """The focusable thumb of control ``ctl``'s slider."""
    return page.locator(f"[id='{_dash_id(slider_id(ctl))}'] [role='slider']").first


_PLOT = "document.querySelector('#' + CSS.escape(id) + ' .js-plotly-plot')"


def _on_plot(body: str) -> str:
    """A JS function of a graph id, with ``plot`` bound to that graph's plotly div."""
    return f"(id) => {{ const plot = {_PLOT}; {body} }}"


def figure_data(page: Page, graph_id: str) -> list[dict[str, Any]]:
    """The traces plotly is currently showing in graph ``graph_id``, with plain lists.

    Reads plotly's processed traces (``_fullData``), where base64-encoded numpy arrays have
    been decoded into typed arrays.
    """
    return page.evaluate(
        _on_plot(
            "const plain = v => ArrayBuffer.isView(v) ? Array.from(v)"
            " : Array.isArray(v) ? v.map(plain) : v;"
            "return plot._fullData.map(t => ({name: t.name, type: t.type, x: plain(t.x),"
            " y: plain(t.y), z: plain(t.z)}));"
        ),
        graph_id,
    )


def figure_shapes(page: Page, graph_id: str) -> list[dict[str, Any]]:
    """The layout shapes (lines, rectangles) graph ``graph_id`` currently shows."""
    return page.evaluate(
        _on_plot("return JSON.parse(JSON.stringify(plot.layout.shapes || []));"), graph_id
    )


def typeset_formulas(page: Page) -> int:
    """How many formulas MathJax has typeset on the page (its ``mjx-container`` elements)."""
    return page.evaluate("() => document.querySelectorAll('mjx-container').length")


def scene_camera(page: Page, graph_id: str) -> dict[str, Any]:
    """The 3-D camera graph ``graph_id`` currently shows (after any user rotation)."""
    return page.evaluate(
        _on_plot("return JSON.parse(JSON.stringify(plot._fullLayout.scene.camera));"), graph_id
    )


def wait_for_graph(page: Page, graph_id: str, timeout: float = 30_000) -> None:
    """Wait until graph ``graph_id`` shows some data."""
    page.wait_for_function(
        _on_plot("return Boolean(plot && plot.data && plot.data.length > 0);"),
        arg=graph_id,
        timeout=timeout,
    )


def mark_figure(page: Page, graph_id: str) -> None:
    """Remember the data graph ``graph_id`` shows now, for ``wait_for_new_figure``."""
    page.evaluate(
        f"(id) => {{ window.__seen = window.__seen || {{}}; window.__seen[id] = {_PLOT}.data; }}",
        graph_id,
    )


def wait_for_new_figure(page: Page, graph_id: str, timeout: float = 30_000) -> None:
    """Wait until graph ``graph_id`` shows other data than at the last ``mark_figure``."""
    page.wait_for_function(
        _on_plot("return Boolean(plot && plot.data !== window.__seen[id]);"),
        arg=graph_id,
        timeout=timeout,
    )


def type_value(page: Page, ctl: str, text: str) -> None:
    """Type ``text`` into control ``ctl``'s box and commit it (Enter)."""
    box = control_text(page, ctl)
    box.fill(text)
    box.press("Enter")


def set_value(page: Page, ctl: str, text: str, graph_id: str) -> None:
    """Type a valid value into control ``ctl`` and wait for ``graph_id`` to redraw
    (returns at once if the control already holds ``text``)."""
    if control_text(page, ctl).input_value() == text:
        return
    mark_figure(page, graph_id)
    type_value(page, ctl, text)
    wait_for_new_figure(page, graph_id)
