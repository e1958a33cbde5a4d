"""mkdocs hooks: the home page is README.md, and every public module gets an API page.

- ``index.md`` is generated from README.md, its links rewritten for the site (``docs/X``
  becomes ``X``; links that leave the repository become plain text).
- ``api/<module>.md`` is generated for every public module of gausslab (no part of its
  dotted name starts with "_"): a title and a mkdocstrings ``::: module`` block, so a new
  module is documented without touching this site's configuration.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File, Files
from mkdocs.structure.nav import Navigation, Section

ROOT = Path(__file__).resolve().parent.parent
API_DIR = "api"
API_TITLE = "API reference"
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def public_modules() -> list[str]:
    """Dotted names of gausslab and its public submodules, sorted, read from the source
    tree (nothing is imported)."""
    names = []
    for path in (ROOT / "gausslab").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(part.startswith("_") for part in parts):
            names.append(".".join(parts))
    return sorted(names)


def _site_link(match: re.Match[str]) -> str:
    text, target = match.groups()
    if target.startswith(("http://", "https://", "#")):
        return match.group(0)
    if target.startswith("docs/"):
        return f"[{text}]({target.removeprefix('docs/')})"
    return text  # a file outside the site (the seed, the design notes)


def readme_page() -> str:
    """README.md with its links rewritten for the site's home page."""
    return _LINK.sub(_site_link, (ROOT / "README.md").read_text(encoding="utf-8"))


def api_page(module: str) -> str:
    return f"# {module}\n\n::: {module}\n    options:\n      show_root_heading: false\n"


def on_files(files: Files, config: dict) -> Files:
    files.append(File.generated(config, "index.md", content=readme_page()))
    for module in public_modules():
        files.append(File.generated(config, f"{API_DIR}/{module}.md", content=api_page(module)))
    return files


def on_nav(nav: Navigation, config: dict, files: Files) -> Navigation:
    for item in nav.items:
        if isinstance(item, Section) and item.title.lower() == API_DIR:
            item.title = API_TITLE
    return nav
