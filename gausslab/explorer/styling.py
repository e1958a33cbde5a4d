"""One look for every explorer figure: template, margins, legend and axis titles."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def styled(
    fig: go.Figure,
    *,
    title: str,
    x_title: str = "",
    y_title: str = "",
    uirevision: str | None = None,
) -> go.Figure:
    """Apply the explorer's common layout to ``fig`` and return it.

    ``uirevision`` keeps user interaction (zoom, camera, legend clicks) across updates.
    Empty axis titles leave the figure's own (e.g. per-subplot) titles alone.
    """
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.02, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        margin={"l": 60, "r": 20, "t": 90, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        uirevision=uirevision,
        font={"size": 13},
    )
    if x_title:
        fig.update_xaxes(title_text=x_title)
    if y_title:
        fig.update_yaxes(title_text=y_title)
    return fig


def to_numpy(values: torch.Tensor) -> np.ndarray:
    """A detached float64 numpy copy of a tensor, for plotting."""
    return values.detach().to(torch.float64).cpu().numpy()
