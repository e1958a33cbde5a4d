"""Screenshot mode: with GAUSSLAB_SCREENSHOTS=DIR set, save one small PNG per page to DIR.

    GAUSSLAB_SCREENSHOTS=docs/screenshots python -m pytest tests/browser/test_screenshots.py

Each PNG is the 1000x700 viewport, palette-quantized to stay well under 150 KB.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from gausslab.explorer.pages import PAGES

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.environ.get("GAUSSLAB_SCREENSHOTS"), reason="set GAUSSLAB_SCREENSHOTS=DIR"
    ),
]

MAX_BYTES = 150_000


def _save_small_png(png: bytes, path: Path) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


@pytest.mark.parametrize(
    "path", ["", *(p.path for p in PAGES)], ids=["landing", *(p.path for p in PAGES)]
)
def test_save_screenshot(tab, path):
    graph = next((p.graph for p in PAGES if p.path == path), None)
    tab.open(path, graph)
    tab.page.wait_for_timeout(500)  # let plotly finish its transitions
    out = Path(os.environ["GAUSSLAB_SCREENSHOTS"]) / f"{path or 'landing'}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    _save_small_png(tab.page.screenshot(), out)
    assert out.stat().st_size < MAX_BYTES
    assert tab.errors == []
