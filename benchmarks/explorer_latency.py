"""Explorer latency: slider move -> updated figure, measured in headless Chromium.

For every page, focus one slider's thumb and press an arrow key 50 times (half one way,
then back). Each latency is measured inside the page, from the keydown event to the first
``plotly_afterplot`` that follows it, i.e. the figure redrawn with the new data; it
includes the clientside control sync, the callback round trip, the gausslab computation
and plotly's rendering. Prints p50/p95 per page.

    python benchmarks/explorer_latency.py [--moves 50] [--pages univariate clt]
"""

from __future__ import annotations

import argparse
import os
import statistics

from playwright.sync_api import Page, sync_playwright

from gausslab.explorer.harness import VIEWPORT, launch_chromium, slider_thumb, wait_for_graph
from gausslab.explorer.pages import PAGES
from gausslab.explorer.server import background_server

# page path -> (control whose slider is moved, first arrow key); chosen so that 25 steps
# in the first direction stay inside the slider's range.
MOVED = {
    "univariate": ("uni-mu", "ArrowRight"),
    "surface": ("surf-mu1", "ArrowRight"),
    "contours": ("cont-var1", "ArrowRight"),
    "divergences": ("div-p-mu1", "ArrowRight"),
    "conditioning": ("cond-x2", "ArrowLeft"),
    "clt": ("clt-n", "ArrowRight"),
    "diffusion": ("diff-t", "ArrowRight"),
}
OPPOSITE = {"ArrowRight": "ArrowLeft", "ArrowLeft": "ArrowRight"}

_INSTALL = """(id) => {
    const plot = document.querySelector('#' + CSS.escape(id) + ' .js-plotly-plot');
    window.__lat = {start: null, elapsed: null};
    document.addEventListener('keydown', () => {
        window.__lat.start = performance.now();
        window.__lat.elapsed = null;
    }, true);
    plot.on('plotly_afterplot', () => {
        if (window.__lat.start !== null && window.__lat.elapsed === null) {
            window.__lat.elapsed = performance.now() - window.__lat.start;
        }
    });
}"""


def measure_page(page: Page, base_url: str, path: str, moves: int) -> list[float]:
    """Latencies (ms) of ``moves`` slider steps on the page at ``path``."""
    ctl, key = MOVED[path]
    graph = next(p.graph for p in PAGES if p.path == path)
    page.goto(base_url + path)
    wait_for_graph(page, graph)
    page.wait_for_timeout(300)
    page.evaluate(_INSTALL, graph)
    thumb = slider_thumb(page, ctl)
    latencies = []
    for i in range(moves):
        thumb.press(key if i < moves // 2 else OPPOSITE[key])
        page.wait_for_function("() => window.__lat.elapsed !== null", timeout=30_000)
        latencies.append(page.evaluate("() => window.__lat.elapsed"))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=50, help="slider steps per page")
    parser.add_argument("--pages", nargs="*", help="page paths (default: all)")
    args = parser.parse_args()
    paths = args.pages or [p.path for p in PAGES if p.path in MOVED]

    print(f"{args.moves} slider moves per page, {os.cpu_count()} CPU cores")
    print(f"{'page':<14}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    with background_server() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        for path in paths:
            latencies = measure_page(page, url, path, args.moves)
            q = statistics.quantiles(latencies, n=100, method="inclusive")
            print(f"{path:<14}{q[49]:>9.0f}{q[94]:>9.0f}{max(latencies):>9.0f}", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
