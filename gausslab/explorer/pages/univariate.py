"""Univariate PDF: how mu and sigma move and stretch N(mu, sigma^2), whose area stays 1."""

from __future__ import annotations

import math

import torch
from dash import Dash, Input, Output, html

from gausslab import Gaussian
from gausslab.explorer.callbacks import page_callback, parse_number
from gausslab.explorer.controls import (
    alert_area,
    choice,
    graph,
    number_control,
    page_frame,
    readout,
    value_of,
)
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import PALETTE, Figure, figure, line, to_numpy

GRID_POINTS = 201  # odd, so that x = mu is a grid point and the plotted peak is exact
HALF_WIDTH = 6.0  # the grid spans mu +- 6 sigma: the mass outside is 2e-9
BANDS = (3, 2, 1)
VIEW_RANGE = 10.0


def layout() -> html.Div:
    """Sliders for mu and sigma, a density/log-density switch, the plot and its numbers."""
    return page_frame(
        "Univariate Gaussian",
        r"$$p(x) = \frac{1}{\sqrt{2\pi\sigma^2}} \exp\left(-\frac{(x - \mu)^2}{2\sigma^2}"
        r"\right)$$ Moving $\mu$ shifts the curve, $\sigma$ stretches it, and the area under "
        r"it stays 1. The log view shows the parabola $\log p(x) = -\frac{1}{2}\log(2\pi"
        r"\sigma^2) - \frac{(x - \mu)^2}{2\sigma^2}$ behind the squared-error loss.",
        [
            number_control("uni-mu", "Mean μ", low=-5, high=5, step=0.1, value=0.0),
            number_control(
                "uni-sigma", "Standard deviation σ", low=0.2, high=4, step=0.05, value=1.0
            ),
            choice("uni-view", "View", {"density": "density p(x)", "log": "log p(x)"}, "density"),
            alert_area("uni-alert"),
        ],
        [
            graph("uni-graph"),
            html.Div(
                className="readouts",
                children=[
                    readout("uni-area", r"Area $\int p(x)\,dx$ under the plotted curve:"),
                    readout("uni-peak", r"Peak height $p(\mu) = 1/(\sigma\sqrt{2\pi})$:"),
                    readout("uni-bands", r"$P(|x - \mu| < k\sigma)$, $k = 1, 2, 3$:"),
                ],
            ),
        ],
    )


def _figure(x: torch.Tensor, log_p: torch.Tensor, mu: float, sigma: float, view: str) -> Figure:
    x_range = [min(-VIEW_RANGE, mu - 4 * sigma), max(VIEW_RANGE, mu + 4 * sigma)]
    title = f"N({mu:g}, {sigma:g}²)"
    if view == "log":
        bands = [
            {
                "type": "line",
                "x0": mu + side * k * sigma,
                "x1": mu + side * k * sigma,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"dash": "dot", "color": "#999"},
            }
            for k in BANDS
            for side in (-1, 1)
        ]
        curve = line(x, log_p, "log p(x)", line={"color": PALETTE[0], "width": 3})
        return figure(
            [curve],
            title=title,
            x_title="x",
            y_title="log density log p(x)",
            uirevision="univariate",
            xaxis={"range": x_range},
            shapes=bands,
        )
    xs, ps = to_numpy(x), to_numpy(log_p.exp())
    traces = []
    for k, alpha in zip((None, *BANDS), (0.10, 0.18, 0.28, 0.40), strict=True):
        inside = slice(None) if k is None else abs(xs - mu) <= k * sigma + 1e-12
        traces.append(
            line(
                xs[inside],
                ps[inside],
                "area = 1" if k is None else f"μ ± {k}σ",
                mode="none",
                fill="tozeroy",
                fillcolor=f"rgba(31, 119, 180, {alpha})",
            )
        )
    traces.append(line(xs, ps, "p(x)", line={"color": PALETTE[0], "width": 3}))
    return figure(
        traces,
        title=title,
        x_title="x",
        y_title="density p(x)",
        uirevision="univariate",
        xaxis={"range": x_range},
    )


def register(app: Dash) -> None:
    """The page's one callback: parameters -> figure and readouts."""

    @page_callback(
        app,
        [
            Output("uni-graph", "figure"),
            Output("uni-area", "children"),
            Output("uni-peak", "children"),
            Output("uni-bands", "children"),
        ],
        [value_of("uni-mu"), value_of("uni-sigma"), Input("uni-view", "value")],
        alert_id="uni-alert",
    )
    def update(mu_text: object, sigma_text: object, view: object) -> tuple:
        mu, sigma = parse_number(mu_text, "μ"), parse_number(sigma_text, "σ")
        if view not in ("density", "log"):
            raise ValueError(f"view must be 'density' or 'log', got {view!r}")
        g = Gaussian.univariate(torch.tensor(mu, dtype=torch.float64), sigma)
        low, high = mu - HALF_WIDTH * sigma, mu + HALF_WIDTH * sigma
        peak_formula = 1 / (sigma * math.sqrt(2 * math.pi))
        if not all(math.isfinite(v) for v in (low, high, peak_formula)) or low == high:
            raise ValueError(
                f"σ = {sigma:g} with μ = {mu:g} cannot be drawn in double precision: "
                "choose σ between 1e-100 and 1e100"
            )
        x = torch.linspace(low, high, GRID_POINTS, dtype=torch.float64)
        log_p = g.log_prob(x)
        area = float(torch.trapezoid(log_p.exp(), x))
        peak = float(log_p.max().exp())
        inside = [float(g.cdf(mu + k * sigma) - g.cdf(mu - k * sigma)) for k in BANDS[::-1]]
        return (
            _figure(x, log_p, mu, sigma, str(view)),
            f"{area:.4f}",
            f"{peak:.4f} (formula: {peak_formula:.4f})",
            ", ".join(f"{p:.2%}" for p in inside),
        )


PAGE = Page(
    path="univariate",
    title="Univariate PDF",
    summary="Move μ and σ and watch the bell curve shift and stretch while its area "
    "stays exactly 1.",
    graph="uni-graph",
    layout=layout,
    register=register,
)
