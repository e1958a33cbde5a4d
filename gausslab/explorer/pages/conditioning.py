"""Conditioning: slice a correlated 2-D Gaussian at x₂ = value; the slice is N(μ₁|₂, σ²₁|₂)."""

from __future__ import annotations

import torch
from dash import Dash, Output, html

from gausslab import Gaussian
from gausslab.explorer import bivariate
from gausslab.explorer.callbacks import page_callback, parse_number
from gausslab.explorer.controls import (
    alert_area,
    graph,
    number_control,
    page_frame,
    readout,
    value_of,
)
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import PALETTE, Figure, figure, line, markers

EXTENT = (-4.0, 4.0)
GRID_POINTS = 80
CURVE_POINTS = 201


def layout() -> html.Div:
    """Sliders for ρ and the observed x₂, the joint with its slice, and the conditional."""
    return page_frame(
        "Conditioning a joint Gaussian",
        r"For $(x_1, x_2) \sim \mathcal{N}\left(\mathbf{0}, \begin{pmatrix} 1 & \rho \\ \rho "
        r"& 1 \end{pmatrix}\right)$, observing $x_2$ leaves $x_1 \mid x_2 \sim \mathcal{N}"
        r"(\mu_{1|2}, \Sigma_{1|2})$ with $$\mu_{1|2} = \mu_1 + \Sigma_{12}\Sigma_{22}^{-1}"
        r"(x_2 - \mu_2) = \rho\, x_2, \qquad \Sigma_{1|2} = \Sigma_{11} - \Sigma_{12}"
        r"\Sigma_{22}^{-1}\Sigma_{21} = 1 - \rho^2.$$ The same computation gives the reverse "
        r"posterior $q(x_{t-1} \mid x_t, x_0)$ in diffusion.",
        [
            number_control("cond-rho", "Correlation ρ", low=-0.95, high=0.95, step=0.05, value=0.7),
            number_control("cond-x2", "Observed x₂", low=-3, high=3, step=0.1, value=1.5),
            alert_area("cond-alert"),
        ],
        [
            graph("cond-graph", height=470),
            html.Div(
                className="readouts",
                children=[
                    readout("cond-law", r"$x_1 \mid x_2 \sim$"),
                    readout("cond-mean", r"$\mu_{1|2} = \rho\, x_2$ ="),
                    readout("cond-var", r"$\Sigma_{1|2} = 1 - \rho^2$ ="),
                ],
            ),
        ],
    )


def _subplot_title(text: str, x: float) -> dict[str, object]:
    return {
        "text": text,
        "x": x,
        "y": 1.0,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 14},
    }


def _figure(joint: Gaussian, conditional: Gaussian, x2: float) -> Figure:
    xs, ys, z = bivariate.density_grid(joint, EXTENT, EXTENT, GRID_POINTS)
    mean = float(conditional.mean[0])
    left = [
        bivariate.contour_trace(xs, ys, z, "joint p(x₁, x₂)"),
        line(EXTENT, (x2, x2), "slice x₂ = value", line={"color": PALETTE[1], "width": 3}),
        markers(
            [mean],
            [x2],
            "μ₁|₂ on the slice",
            marker={"color": PALETTE[1], "size": 11, "symbol": "x"},
        ),
    ]
    x1 = torch.linspace(*EXTENT, CURVE_POINTS, dtype=bivariate.DTYPE)
    points = torch.stack([x1, torch.full_like(x1, x2)], dim=-1)[::8]
    observed = torch.tensor([x2], dtype=bivariate.DTYPE)
    ratio = joint.log_prob(points) - joint.marginal([1]).log_prob(observed)
    right = [
        line(
            x1,
            conditional.log_prob(x1[:, None]).exp(),
            "p(x₁ | x₂) = N(μ₁|₂, σ²₁|₂)",
            line={"color": PALETTE[1], "width": 3},
        ),
        markers(
            points[:, 0],
            ratio.exp(),
            "slice p(x₁, x₂) / p(x₂)",
            marker={"color": "#222", "size": 6},
        ),
        line(
            x1,
            joint.marginal([0]).log_prob(x1[:, None]).exp(),
            "marginal p(x₁)",
            line={"color": "#888", "dash": "dash"},
        ),
    ]
    for trace in right:
        trace.update(xaxis="x2", yaxis="y2")
    return figure(
        left + right,
        title="",
        uirevision="conditioning",
        x_title="x₁",
        y_title="x₂",
        xaxis={"domain": [0, 0.45], "range": list(EXTENT)},
        yaxis={"range": list(EXTENT), "scaleanchor": "x"},
        xaxis2={
            "domain": [0.55, 1],
            "anchor": "y2",
            "range": list(EXTENT),
            "title": {"text": "x₁"},
        },
        yaxis2={"anchor": "x2", "title": {"text": "density"}},
        annotations=[
            _subplot_title("Joint density and the slice x₂ = value", 0.225),
            _subplot_title("Conditional density of x₁", 0.775),
        ],
        legend={"y": -0.16, "yanchor": "top"},
        margin={"t": 40, "b": 20},
    )


def register(app: Dash) -> None:
    """The page's one callback: ρ and x₂ -> figure and the conditional's parameters."""

    @page_callback(
        app,
        [
            Output("cond-graph", "figure"),
            Output("cond-law", "children"),
            Output("cond-mean", "children"),
            Output("cond-var", "children"),
        ],
        [value_of("cond-rho"), value_of("cond-x2")],
        alert_id="cond-alert",
    )
    def update(rho_text: object, x2_text: object) -> tuple:
        rho, x2 = parse_number(rho_text, "ρ"), parse_number(x2_text, "x₂")
        joint = bivariate.bivariate(0.0, 0.0, 1.0, 1.0, rho)
        conditional = joint.condition([1], torch.tensor([x2], dtype=bivariate.DTYPE))
        mean, var = float(conditional.mean[0]), float(conditional.covariance_matrix[0, 0])
        return (
            _figure(joint, conditional, x2),
            f"N({mean:.4g}, {var:.4g})",
            f"{rho:g} × {x2:g} = {mean:.4g}",
            f"1 − {rho:g}² = {var:.4g}",
        )


PAGE = Page(
    path="conditioning",
    title="Conditioning",
    summary="Observe x₂ in a correlated 2-D Gaussian and read off the conditional "
    "N(ρ x₂, 1 − ρ²) of x₁, drawn as a slice of the joint.",
    graph="cond-graph",
    layout=layout,
    register=register,
)
