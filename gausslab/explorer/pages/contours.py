"""2-D contours: elliptical level sets, their principal axes and samples, with presets."""

from __future__ import annotations

from dash import Dash, Input, Output, ctx, html, no_update

from gausslab import Gaussian
from gausslab.explorer import bivariate
from gausslab.explorer.callbacks import page_callback
from gausslab.explorer.controls import alert_area, graph, page_frame, readout, text_id
from gausslab.explorer.draws import fixed_samples
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import PALETTE, Figure, figure, line, markers, to_numpy

NAMES = ("var1", "var2", "rho")
EXTENT = (-5.0, 5.0)
GRID_POINTS = 80
SAMPLES = 300
PRESETS = {
    "iso": ("Isotropic (circles, as in diffusion)", {"var1": 1.0, "var2": 1.0, "rho": 0.0}),
    "diag": ("Diagonal (axis-aligned)", {"var1": 3.0, "var2": 0.5, "rho": 0.0}),
    "rot": ("Rotated (correlated)", {"var1": 2.0, "var2": 1.0, "rho": 0.7}),
}


def layout() -> html.Div:
    """Variance and correlation sliders, presets, and the contour plot."""
    return page_frame(
        "Contours and principal axes",
        r"Level sets of a 2-D Gaussian are ellipses $(\mathbf{x} - \mathbf{\mu})^\top "
        r"\mathbf{\Sigma}^{-1}(\mathbf{x} - \mathbf{\mu}) = r^2$. Their axes point "
        r"along the eigenvectors $\mathbf{u}_i$ of $\mathbf{\Sigma}$ with half-lengths "
        r"$r\sqrt{\lambda_i}$. With isotropic noise $\mathbf{\Sigma} = \sigma^2 I$, as in "
        r"diffusion models, they are circles.",
        [
            *bivariate.controls("cont", NAMES),
            html.Div(
                [
                    html.Button(label, id=f"cont-preset-{key}", className="preset")
                    for key, (label, _) in PRESETS.items()
                ],
                className="presets",
            ),
            alert_area("cont-alert"),
        ],
        [
            graph("cont-graph", height=520),
            html.Div(
                className="readouts",
                children=[readout("cont-axes", r"Principal axes $\lambda_i$, $\mathbf{u}_i$:")],
            ),
        ],
    )


def _figure(g: Gaussian) -> Figure:
    xs, ys, z = bivariate.density_grid(g, EXTENT, EXTENT, GRID_POINTS)
    samples = fixed_samples(g, SAMPLES)
    traces = [
        bivariate.contour_trace(xs, ys, z),
        markers(
            samples[:, 0],
            samples[:, 1],
            "samples",
            marker={"size": 4, "color": "rgba(40, 40, 40, 0.55)"},
        ),
        *bivariate.ring_traces(g, "Mahalanobis", PALETTE[2]),
    ]
    variances = to_numpy(g.principal_axes()[0])
    for i, segment in enumerate(bivariate.principal_segments(g)):
        traces.append(
            line(
                segment[:, 0],
                segment[:, 1],
                f"axis {i + 1}: √λ{i + 1} = {variances[i] ** 0.5:.3f}",
                mode="lines+markers",
                line={"color": PALETTE[1 + 2 * i], "width": 4},
                marker={"size": 6},
            )
        )
    return figure(
        traces,
        title="Contours of N(0, Σ)",
        x_title="x₁",
        y_title="x₂",
        uirevision="contours",
        **bivariate.square_axes(EXTENT),
    )


def register(app: Dash) -> None:
    """Parameters -> figure and readout; preset buttons -> control values."""

    @page_callback(
        app,
        [Output("cont-graph", "figure"), Output("cont-axes", "children")],
        bivariate.inputs("cont", NAMES),
        alert_id="cont-alert",
    )
    def update(*values: object) -> tuple:
        g = bivariate.from_values(NAMES, values)
        variances, directions = (to_numpy(t) for t in g.principal_axes())
        axes = "; ".join(
            f"λ{i + 1} = {variances[i]:.3f} along ({directions[0, i]:.3f}, {directions[1, i]:.3f})"
            for i in range(2)
        )
        return _figure(g), axes

    @app.callback(
        [Output(text_id(f"cont-{name}"), "value", allow_duplicate=True) for name in NAMES],
        [Input(f"cont-preset-{key}", "n_clicks") for key in PRESETS],
        prevent_initial_call=True,
    )
    def apply_preset(*_clicks: object) -> list[object]:
        key = str(ctx.triggered_id).removeprefix("cont-preset-")
        if key not in PRESETS:
            return [no_update] * len(NAMES)
        return [str(PRESETS[key][1][name]) for name in NAMES]


PAGE = Page(
    path="contours",
    title="2-D contours",
    summary="See elliptical contours, their eigenvector axes (length ∝ √λ) and samples; "
    "switch between isotropic, diagonal and rotated covariances.",
    graph="cont-graph",
    layout=layout,
    register=register,
)
