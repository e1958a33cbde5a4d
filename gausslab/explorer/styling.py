"""One look for every explorer figure, built as plain plotly JSON.

Figures are dicts rather than ``plotly.graph_objects`` because building and validating
graph objects (and deep-copying a template) cost tens of milliseconds per update, more
than the math. Arrays travel as base64 typed arrays, as plotly.js reads them natively.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import plotly.io as pio
import torch

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
_TEMPLATE = {"layout": pio.templates["plotly_white"].to_plotly_json()["layout"]}

Figure = dict[str, Any]
Trace = dict[str, Any]


def to_numpy(values: torch.Tensor) -> np.ndarray:
    """A detached float64 numpy copy of a tensor, for plotting."""
    return values.detach().to(torch.float64).cpu().numpy()


def packed(values: torch.Tensor | np.ndarray, dtype: str = "f8") -> dict[str, str]:
    """A 1-D or 2-D array as plotly's base64 typed-array object: float64 ("f8"), or float32
    ("f4") for large grids whose colours or pixels do not need more digits."""
    array = to_numpy(values) if isinstance(values, torch.Tensor) else np.asarray(values)
    array = np.ascontiguousarray(array, dtype=f"<{dtype}")
    spec = {"dtype": dtype, "bdata": base64.b64encode(array.tobytes()).decode("ascii")}
    if array.ndim > 1:
        spec["shape"] = ", ".join(map(str, array.shape))
    return spec


def line(x: Any, y: Any, name: str, **style: Any) -> Trace:
    """A line trace."""
    return {
        "type": "scatter",
        "mode": "lines",
        "x": packed(x),
        "y": packed(y),
        "name": name,
        **style,
    }


def markers(x: Any, y: Any, name: str, **style: Any) -> Trace:
    """A marker (scatter points) trace."""
    return {
        "type": "scatter",
        "mode": "markers",
        "x": packed(x),
        "y": packed(y),
        "name": name,
        **style,
    }


def density_histogram(x: Any, name: str, **style: Any) -> Trace:
    """A histogram trace normalized as a probability density (to overlay exact densities);
    ``style`` overrides the defaults (60 bins, translucent blue)."""
    return {
        "type": "histogram",
        "x": packed(x),
        "histnorm": "probability density",
        "nbinsx": 60,
        "name": name,
        "marker": {"color": "rgba(31, 119, 180, 0.5)"},
        **style,
    }


def figure(
    traces: list[Trace],
    *,
    title: str,
    uirevision: str,
    x_title: str = "",
    y_title: str = "",
    **layout: Any,
) -> Figure:
    """The explorer's figure: white template, title top-left, legend above the plot.

    ``uirevision`` keeps user interaction (zoom, legend clicks) across updates; extra
    ``layout`` keys are merged in last (e.g. ``xaxis`` ranges, ``scene``).
    """
    base: dict[str, Any] = {
        "template": _TEMPLATE,
        "title": {"text": title, "x": 0.02, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        "margin": {"l": 60, "r": 20, "t": 90, "b": 50},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "font": {"size": 13},
        "uirevision": uirevision,
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
    }
    for key, value in layout.items():
        merged = base.get(key)
        base[key] = {**merged, **value} if isinstance(merged, dict) else value
    return {"data": traces, "layout": base}
