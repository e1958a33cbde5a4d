"""The landing page at "/": every page with a relative link and one sentence."""

from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html

from gausslab.explorer.registry import Page


def layout(pages: Sequence[Page]) -> html.Div:
    """The list of ``pages``; hrefs are relative so the app works under any URL prefix."""
    return html.Div(
        className="page",
        children=[
            html.H2("Gaussian distributions, as diffusion models use them"),
            html.P(
                "Each page below turns one formula into a picture you can move. "
                "Every number is computed by gausslab itself.",
                className="intro",
            ),
            html.Ul(
                className="page-list",
                id="page-list",
                children=[
                    html.Li([dcc.Link(page.title, href=page.path), html.Div(page.summary)])
                    for page in pages
                ],
            ),
        ],
    )
