"""KL and W2: two user-set 2-D Gaussians P and Q, their contours and the distances."""

from __future__ import annotations

from dash import Dash, Output, html

from gausslab import Gaussian, kl_divergence, wasserstein2
from gausslab.explorer import bivariate
from gausslab.explorer.callbacks import page_callback
from gausslab.explorer.controls import alert_area, graph, page_frame, readout
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import PALETTE, Figure, figure, markers, to_numpy

NAMES = ("mu1", "mu2", "var1", "var2", "rho")
EXTENT = (-5.0, 5.0)
Q_INITIAL = {"mu1": 1.0, "mu2": -0.5, "var1": 2.0, "var2": 0.5, "rho": -0.3}


def layout() -> html.Div:
    """Two sets of sliders (P and Q), both contour pictures and the three numbers."""
    return page_frame(
        "KL divergence and Wasserstein-2",
        r"$$\mathrm{KL}(P \,\|\, Q) = \tfrac{1}{2}\left[\mathrm{tr}(\Sigma_Q^{-1}\Sigma_P) + "
        r"(\mu_Q - \mu_P)^\top \Sigma_Q^{-1} (\mu_Q - \mu_P) - d + \ln\frac{|\Sigma_Q|}"
        r"{|\Sigma_P|}\right]$$ is not symmetric; "
        r"$$W_2^2(P, Q) = \|\mu_P - \mu_Q\|^2 + \mathrm{tr}\left(\Sigma_P + \Sigma_Q - "
        r"2\,(\Sigma_P^{1/2}\Sigma_Q\Sigma_P^{1/2})^{1/2}\right)$$ is a distance. Diffusion "
        r"losses are sums of such KL terms between Gaussians.",
        [
            html.H4("P", className="group-title"),
            *bivariate.controls("div-p", NAMES),
            html.H4("Q", className="group-title"),
            *bivariate.controls("div-q", NAMES, **Q_INITIAL),
            alert_area("div-alert"),
        ],
        [
            graph("div-graph", height=520),
            html.Div(
                className="readouts",
                children=[
                    readout("div-kl-pq", r"$\mathrm{KL}(P \,\|\, Q)$ ="),
                    readout("div-kl-qp", r"$\mathrm{KL}(Q \,\|\, P)$ ="),
                    readout("div-w2", r"$W_2(P, Q)$ ="),
                ],
            ),
        ],
    )


def _figure(p: Gaussian, q: Gaussian) -> Figure:
    traces = []
    for name, g, color in (("P", p, PALETTE[0]), ("Q", q, PALETTE[1])):
        mean = to_numpy(g.mean)
        traces.append(
            markers(mean[:1], mean[1:], f"mean of {name}", marker={"color": color, "size": 10})
        )
        traces += bivariate.ring_traces(g, f"{name}: Mahalanobis", color)
    return figure(
        traces,
        title="Contours of P and Q",
        x_title="x₁",
        y_title="x₂",
        uirevision="divergences",
        **bivariate.square_axes(EXTENT),
    )


def register(app: Dash) -> None:
    """The page's one callback: both parameter sets -> figure and distances."""

    @page_callback(
        app,
        [
            Output("div-graph", "figure"),
            Output("div-kl-pq", "children"),
            Output("div-kl-qp", "children"),
            Output("div-w2", "children"),
        ],
        [*bivariate.inputs("div-p", NAMES), *bivariate.inputs("div-q", NAMES)],
        alert_id="div-alert",
    )
    def update(*values: object) -> tuple:
        p = bivariate.from_values(NAMES, values[: len(NAMES)])
        q = bivariate.from_values(NAMES, values[len(NAMES) :])
        return (
            _figure(p, q),
            f"{float(kl_divergence(p, q)):.6g}",
            f"{float(kl_divergence(q, p)):.6g}",
            f"{float(wasserstein2(p, q)):.6g}",
        )


PAGE = Page(
    path="divergences",
    title="KL and W₂",
    summary="Set two 2-D Gaussians and compare KL(P‖Q), KL(Q‖P) and the Wasserstein-2 "
    "distance between them.",
    graph="div-graph",
    layout=layout,
    register=register,
)
