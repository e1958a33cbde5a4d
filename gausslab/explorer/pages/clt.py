"""CLT: standardized sums of n i.i.d. draws from a chosen start distribution vs N(0, 1)."""

from __future__ import annotations

import math

import torch
from dash import Dash, Input, Output, html

from gausslab import Gaussian, clt
from gausslab.explorer.callbacks import page_callback, parse_int
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
from gausslab.explorer.styling import PALETTE, Figure, figure, line, packed

SAMPLES = 5000
# The text box takes any n; SAMPLES * MAX_TERMS = 5e7 draws keep one update near a second
# (n = 1e6 took 84 s and n = 1e9 would never finish, holding a server thread).
MAX_TERMS = 10_000
SEED = 0
Z_RANGE = (-4.5, 4.5)
STARTS = {
    "uniform": "Uniform(0, 1)",
    "exponential": "Exponential(1)",
    "bernoulli": "Bernoulli(0.5)",
    "poisson": "Poisson(1)",
    "gamma": "Gamma(2, 1)",
    "beta": "Beta(2, 2)",
}


def layout() -> html.Div:
    """Start distribution, n, the histogram against N(0, 1) and the distances."""
    return page_frame(
        "Central limit theorem",
        r"$$Z = \frac{\bar{X}_n - \mu}{\sigma/\sqrt{n}} \xrightarrow{d} \mathcal{N}(0, 1)$$ "
        r"for i.i.d. $X_1, \ldots, X_n$ from the start distribution, with mean $\mu$ and "
        r"variance $\sigma^2$. However skewed or discrete the start, the histogram of $Z$ "
        r"approaches the $\mathcal{N}(0, 1)$ density as $n$ grows. "
        f"{SAMPLES} draws of $Z$, fixed seed.",
        [
            choice("clt-start", "Start distribution", STARTS, "exponential"),
            number_control("clt-n", "Number of terms n", low=1, high=200, step=1, value=1),
            alert_area("clt-alert"),
        ],
        [
            graph("clt-graph"),
            html.Div(
                className="readouts",
                children=[
                    readout("clt-ks", r"KS distance $\sup_z |\hat{F}_N(z) - \Phi(z)|$:"),
                    readout("clt-critical", r"95% KS critical value $1.358/\sqrt{N}$:"),
                    readout("clt-be", r"Berry–Esseen bound on $\sup_z |F_n(z) - \Phi(z)|$:"),
                ],
            ),
        ],
    )


def _figure(z: torch.Tensor, title: str) -> Figure:
    grid = torch.linspace(*Z_RANGE, 201, dtype=torch.float64)
    normal = Gaussian.univariate(torch.tensor(0.0, dtype=torch.float64), 1.0)
    histogram = {
        "type": "histogram",
        "x": packed(z),
        "histnorm": "probability density",
        "xbins": {"start": Z_RANGE[0], "end": Z_RANGE[1], "size": 0.15},
        "name": "standardized sums Z",
        "marker": {"color": "rgba(31, 119, 180, 0.55)"},
    }
    density = line(
        grid, normal.log_prob(grid).exp(), "N(0, 1) density", line={"color": PALETTE[1], "width": 3}
    )
    return figure(
        [histogram, density],
        title=title,
        x_title="z",
        y_title="density",
        uirevision="clt",
        xaxis={"range": list(Z_RANGE)},
    )


def register(app: Dash) -> None:
    """The page's one callback: start distribution and n -> histogram and distances."""

    @page_callback(
        app,
        [
            Output("clt-graph", "figure"),
            Output("clt-ks", "children"),
            Output("clt-critical", "children"),
            Output("clt-be", "children"),
        ],
        [Input("clt-start", "value"), value_of("clt-n")],
        alert_id="clt-alert",
    )
    def update(start: object, n_text: object) -> tuple:
        n = parse_int(n_text, "n")
        if n > MAX_TERMS:
            raise ValueError(f"n must be at most {MAX_TERMS} on this page, got {n}")
        dist = clt.start_distribution(str(start))
        generator = torch.Generator().manual_seed(SEED)
        z = clt.standardized_sums(dist, n, SAMPLES, generator=generator)
        bound = clt.berry_esseen_bound(dist, n)
        title = f"Sums of n = {n} draws from {STARTS.get(str(start), start)}, standardized"
        return (
            _figure(z, title),
            f"{clt.ks_distance(z):.4f}",
            f"{clt.KS_CRITICAL_95 / math.sqrt(SAMPLES):.4f}",
            "no closed form for this start" if bound is None else f"{bound:.4f}",
        )


PAGE = Page(
    path="clt",
    title="Central limit theorem",
    summary="Pick a start distribution and n, and watch the histogram of standardized sums "
    "approach the N(0, 1) density, with the KS distance.",
    graph="clt-graph",
    layout=layout,
    register=register,
)
