"""Typeset formulas for explorer pages: TeX in the seed's notation, rendered by MathJax.

Every page writes its formulas with these helpers, so they look the same everywhere:

- ``prose(text)``: a paragraph of Markdown with inline ``$...$`` math (a page's intro);
- ``equation(tex)``: one display equation;
- ``inline(tex)``: inline math on its own (a label);
- ``controls.readout(component_id, label)`` builds on ``prose``: a label with inline math
  (``"$\\bar\\alpha_t$ ="``) and beside it a number that a callback fills in, so a formula
  and its current value sit side by side and the number updates live.

All are ``dcc.Markdown(..., mathjax=True)``: Dash ships MathJax with its components (served
locally, no network). Only the numbers change on an update; the formulas are typeset once.
TeX goes in raw strings: ``r"\\frac{1}{\\sigma\\sqrt{2\\pi}}"``.
"""

from __future__ import annotations

from dash import dcc


def prose(text: str, class_name: str = "intro") -> dcc.Markdown:
    """Markdown ``text`` with inline ``$...$`` and display ``$$...$$`` math typeset."""
    return dcc.Markdown(text, mathjax=True, className=class_name)


def equation(tex: str, class_name: str = "equation") -> dcc.Markdown:
    """The TeX ``tex`` as one display equation."""
    return dcc.Markdown(f"$$\n{tex}\n$$", mathjax=True, className=class_name)


def inline(tex: str, class_name: str = "math") -> dcc.Markdown:
    """The TeX ``tex`` as inline math (e.g. a label)."""
    return dcc.Markdown(f"${tex}$", mathjax=True, className=class_name)
