"""The documentation site builds with ``mkdocs build --strict`` (every warning an error:
broken links, unresolved cross-references, docstrings griffe cannot parse), and its API
reference documents every public name, each with a docstring.

CI runs this test with the rest of the suite, so `.ci/run` stays the README's test command.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_PACKAGES = ("gausslab", "gausslab.diffusion")


def _inventory(site: Path) -> set[str]:
    """The object names in the site's Sphinx-style objects.inv (written by mkdocstrings)."""
    raw = (site / "objects.inv").read_bytes()
    body = raw.split(b"\n", 4)[4]  # four header lines, then zlib-compressed entries
    return {line.split(" ", 1)[0] for line in zlib.decompress(body).decode().splitlines()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_every_public_name_is_in_the_api_reference_with_a_docstring(site: Path):
    documented = _inventory(site)
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if name.startswith("__") or not callable(obj):
                continue  # __version__, SAMPLERS: data, listed by their module's page
            assert f"{package}.{name}" in documented, f"{package}.{name} is not in the API"
            assert inspect.getdoc(obj), f"{package}.{name} has no docstring"


def test_home_page_is_the_readme_tour_and_the_gallery_is_a_page(site: Path):
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "A short tour" in home and "Two commands" in home
    assert 'href="explorer/"' in home  # README's docs/explorer.md link, rewritten
    gallery = (site / "explorer" / "index.html").read_text(encoding="utf-8")
    assert "screenshots/diffusion.png" in gallery


def test_every_docs_page_is_built(site: Path):
    pages = [p for p in (ROOT / "docs").rglob("*.md")]
    assert pages
    for page in pages:
        stem = page.relative_to(ROOT / "docs").with_suffix("")
        assert (site / stem / "index.html").exists(), f"{page} was not built"


def test_index_chains_in_docstrings_stay_text_and_code_stays_verbatim():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from griffe_plain_formulas import escape_index_chains
    finally:
        sys.path.remove(str(ROOT / "docs"))
    text = "row i holds c[j][i]; ``S[i][:, i]`` stays\n    p[a][b] = code\nand `x[0][1]`"
    assert escape_index_chains(text) == (
        "row i holds c[j]\\[i]; ``S[i][:, i]`` stays\n    p[a][b] = code\nand `x[0][1]`"
    )
