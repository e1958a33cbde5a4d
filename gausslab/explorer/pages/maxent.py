"""Maximum entropy: at a fixed variance no law has more differential entropy than the Gaussian."""

from __future__ import annotations

import math

import torch
from dash import Dash, Output, html

from gausslab import maxent
from gausslab.explorer.callbacks import page_callback, parse_number
from gausslab.explorer.controls import (
    alert_area,
    graph,
    number_control,
    page_frame,
    readout,
    value_of,
)
from gausslab.explorer.formulas import equation
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import PALETTE, Figure, figure, line

DTYPE = torch.float64
GRID_POINTS = 401
HALF_WIDTH = 4.0  # densities are drawn over mean +- 4 sigma
SHAPED = {name: family.shape for name, family in maxent.FAMILIES.items() if family.shape}
"""The families with a shape parameter, each with its own slider."""

KL_IDENTITY = (
    r"\mathrm{KL}\big(p \,\|\, \mathcal N(\mu,\sigma^2)\big)"
    r" = H(\mathcal N) - H(p) \;\ge\; 0"
)


def _control(name: str) -> str:
    return f"maxent-{name}"


def layout() -> html.Div:
    """Variance and shape sliders, the entropy bars and the overlaid densities."""
    shape_controls = [
        number_control(
            _control(name),
            f"{maxent.FAMILIES[name].label}: {shape.label}",
            low=shape.slider_low,
            high=shape.slider_high,
            step=0.01,
            value=shape.default,
        )
        for name, shape in SHAPED.items()
    ]
    return page_frame(
        "Maximum entropy",
        r"Eight laws with mean $0$ and the same variance $\sigma^2$. Each bar is a differential "
        r"entropy $H(p) = -\int p \log p$. The Gaussian's, $\tfrac12\log(2\pi e\,\sigma^2)$, is "
        r"the tallest whatever the variance or the shapes: $\log \mathcal N(x; \mu, \sigma^2)$ is "
        r"a quadratic in $x$, so its average under any $p$ with that mean and variance is "
        r"$-H(\mathcal N)$, and each gap is a KL divergence:",
        [
            number_control("maxent-variance", "Variance σ²", low=0.1, high=4, step=0.05, value=1.0),
            *shape_controls,
            alert_area("maxent-alert"),
        ],
        [
            equation(KL_IDENTITY),
            graph("maxent-graph", height=380),
            html.Div(
                className="readouts",
                children=[
                    readout(
                        "maxent-gaussian",
                        r"$H(\mathcal N(0, \sigma^2)) = \tfrac12\log(2\pi e\,\sigma^2)$:",
                    ),
                    readout("maxent-closest", r"Closest law and its gap $H(\mathcal N) - H(p)$:"),
                ],
            ),
            graph("maxent-densities", height=380),
        ],
    )


def _bars(rows: list[maxent.EntropyRow], gaussian: float) -> Figure:
    labels = [row.label for row in rows]
    colors = [PALETTE[1] if row.family == "gaussian" else PALETTE[0] for row in rows]
    bars = {
        "type": "bar",
        "x": labels,
        "y": [row.entropy for row in rows],
        "name": "entropy H(p)",
        "marker": {"color": colors},
        "text": ["max" if row.family == "gaussian" else f"−{row.gap:.4f}" for row in rows],
        "textposition": "outside",
        "cliponaxis": False,
    }
    low = min(row.entropy for row in rows)
    span = max(gaussian - low, 0.05)
    return figure(
        [bars],
        title="Differential entropy at equal variance (nats); labels: gap to the Gaussian",
        x_title="",
        y_title="H(p)",
        uirevision="maxent",
        yaxis={"range": [low - 0.6 * span, gaussian + 0.3 * span]},
        shapes=[
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": gaussian,
                "y1": gaussian,
                "line": {"dash": "dash", "color": PALETTE[1]},
            }
        ],
    )


def _densities(rows: list[maxent.EntropyRow], variance: float) -> Figure:
    sigma = math.sqrt(variance)
    x = torch.linspace(-HALF_WIDTH * sigma, HALF_WIDTH * sigma, GRID_POINTS, dtype=DTYPE)
    traces = []
    for i, row in enumerate(rows):
        gaussian = row.family == "gaussian"
        style = {"color": PALETTE[i % len(PALETTE)], "width": 4 if gaussian else 2}
        if i >= len(PALETTE):
            style["dash"] = "dot"
        traces.append(line(x, maxent.density(row.law, x), row.label, line=style))
    return figure(
        traces,
        title=f"The densities, all with mean 0 and variance {variance:g}",
        x_title="x",
        y_title="density",
        uirevision="maxent-densities",
        xaxis={"range": [float(x[0]), float(x[-1])]},
    )


def register(app: Dash) -> None:
    """Variance and shapes -> bars, densities and readouts."""

    @page_callback(
        app,
        [
            Output("maxent-graph", "figure"),
            Output("maxent-densities", "figure"),
            Output("maxent-gaussian", "children"),
            Output("maxent-closest", "children"),
        ],
        [value_of("maxent-variance"), *(value_of(_control(name)) for name in SHAPED)],
        alert_id="maxent-alert",
    )
    def update(variance_text: object, *shape_texts: object) -> tuple:
        variance = parse_number(variance_text, "variance σ²")
        shapes = {
            name: parse_number(text, SHAPED[name].label)
            for name, text in zip(SHAPED, shape_texts, strict=True)
        }
        rows = maxent.entropy_table(variance, shapes)
        gaussian = float(maxent.gaussian_entropy(torch.tensor(variance, dtype=DTYPE)))
        closest = min((row for row in rows if row.family != "gaussian"), key=lambda r: r.gap)
        return (
            _bars(rows, gaussian),
            _densities(rows, variance),
            f"{gaussian:.5f}",
            f"{closest.label}, {closest.gap:.5f}",
        )


PAGE = Page(
    path="maxent",
    title="Maximum entropy",
    summary="Compare the entropies of eight laws with the same variance (uniform, Laplace, "
    "Student-t, a mixture, ...): the Gaussian's is always the largest, by a gap equal to a "
    "KL divergence.",
    graph="maxent-graph",
    layout=layout,
    register=register,
)
