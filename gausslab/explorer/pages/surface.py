"""Multivariate 3-D: the bivariate density as a surface you can rotate while you edit it."""

from __future__ import annotations

import math

from dash import Dash, Output, State, html

from gausslab.explorer import bivariate
from gausslab.explorer.callbacks import page_callback
from gausslab.explorer.controls import alert_area, graph, page_frame, readout
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import figure, packed

NAMES = ("mu1", "mu2", "var1", "var2", "rho")
EXTENT = (-4.0, 4.0)
GRID_POINTS = 41  # step 0.2: light enough to re-render in a few ms; the peak test uses even means


def layout() -> html.Div:
    """Five sliders, the surface and the density's peak value."""
    return page_frame(
        "Bivariate Gaussian in 3-D",
        r"$$p(\mathbf{x}) = \frac{1}{(2\pi)^{d/2}|\mathbf{\Sigma}|^{1/2}} \exp\left("
        r"-\frac{1}{2}(\mathbf{x} - \mathbf{\mu})^\top \mathbf{\Sigma}^{-1}"
        r"(\mathbf{x} - \mathbf{\mu})\right), \quad d = 2$$ Drag to rotate the view; the "
        r"camera stays where you put it while you change $\mathbf{\mu}$, the variances "
        r"and $\rho$.",
        [*bivariate.controls("surf", NAMES), alert_area("surf-alert")],
        [
            graph("surf-graph", height=520),
            html.Div(
                className="readouts",
                children=[
                    readout("surf-params", r"$\mathbf{\mu}$, $\mathbf{\Sigma}$:"),
                    readout(
                        "surf-peak",
                        r"Peak $p(\mathbf{\mu}) = 1/(2\pi|\mathbf{\Sigma}|^{1/2})$:",
                    ),
                ],
            ),
        ],
    )


def _camera(relayout: object) -> dict[str, dict[str, float]] | None:
    """The 3-D camera in a graph's last relayout event, if it holds a well-formed one.

    uirevision alone does not restore a dragged gl3d camera in plotly.js 4.1 (the drag is
    not recorded as a GUI edit), so the page passes the user's last camera back.
    """
    camera = relayout.get("scene.camera") if isinstance(relayout, dict) else None
    if not isinstance(camera, dict):
        return None
    result = {}
    for part in ("eye", "center", "up"):
        vector = camera.get(part)
        if isinstance(vector, dict):
            values = [vector.get(axis) for axis in "xyz"]
            if all(isinstance(v, int | float) and math.isfinite(v) for v in values):
                result[part] = dict(zip("xyz", values, strict=True))
    return result or None


def register(app: Dash) -> None:
    """The page's one callback: parameters -> surface and readouts."""

    @page_callback(
        app,
        [
            Output("surf-graph", "figure"),
            Output("surf-params", "children"),
            Output("surf-peak", "children"),
        ],
        [*bivariate.inputs("surf", NAMES), State("surf-graph", "relayoutData")],
        alert_id="surf-alert",
    )
    def update(*values: object) -> tuple:
        *params, view = values
        g = bivariate.from_values(NAMES, tuple(params))
        xs, ys, z = bivariate.density_grid(g, EXTENT, EXTENT, GRID_POINTS)
        surface = {
            "type": "surface",
            "x": packed(xs),
            "y": packed(ys),
            "z": packed(z),
            "colorscale": "Viridis",
            "name": "p(x₁, x₂)",
            "colorbar": {"title": {"text": "p"}, "len": 0.6},
        }
        scene = {
            "xaxis": {"title": {"text": "x₁"}},
            "yaxis": {"title": {"text": "x₂"}},
            "zaxis": {"title": {"text": "p(x₁, x₂)"}},
            "aspectmode": "manual",
            "aspectratio": {"x": 1, "y": 1, "z": 0.7},
            "uirevision": "surface",
        }
        camera = _camera(view)
        if camera is not None:
            scene["camera"] = camera
        fig = figure(
            [surface],
            title="Density surface",
            uirevision="surface",
            scene=scene,
            margin={"l": 0, "r": 0, "t": 40, "b": 0},
        )
        peak = float(g.log_prob(g.mean).exp())
        return fig, bivariate.parameters_text(g), f"{peak:.4f}"


PAGE = Page(
    path="surface",
    title="3-D density",
    summary="Rotate a bivariate density in 3-D and change both means, both variances and "
    "the correlation without losing your view.",
    graph="surf-graph",
    layout=layout,
    register=register,
)
