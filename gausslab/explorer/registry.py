"""The page registry: what a page is, and the ordered list of pages the app serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dash import Dash
from dash.development.base_component import Component


@dataclass(frozen=True)
class Page:
    """One explorer page.

    ``path`` is relative (no leading slash) so that links work under any URL prefix;
    ``graph`` is the id of the page's main figure; ``layout`` builds the page's components
    and ``register`` adds its callbacks to an app.
    """

    path: str
    title: str
    summary: str
    graph: str
    layout: Callable[[], Component]
    register: Callable[[Dash], None]
