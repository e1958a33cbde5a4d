"""Plotting glue for bivariate Gaussians: build one from slider values, evaluate its
density on a grid, and trace its contour ellipses and principal axes.

All the math goes through ``gausslab.Gaussian`` (log_prob, principal_axes, sample).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from dash import Input, html

from gausslab import Gaussian
from gausslab.explorer.callbacks import parse_number
from gausslab.explorer.controls import number_control, value_of
from gausslab.explorer.styling import Trace, line, packed, to_numpy

DTYPE = torch.float64

# name -> (label, low, high, step, default) of the slider controls for a bivariate Gaussian
PARAMETERS = {
    "mu1": ("Mean μ₁", -3.0, 3.0, 0.1, 0.0),
    "mu2": ("Mean μ₂", -3.0, 3.0, 0.1, 0.0),
    "var1": ("Variance σ₁²", 0.2, 4.0, 0.05, 1.0),
    "var2": ("Variance σ₂²", 0.2, 4.0, 0.05, 1.0),
    "rho": ("Correlation ρ", -0.95, 0.95, 0.05, 0.5),
}
DEFAULTS = {name: spec[-1] for name, spec in PARAMETERS.items()}


def controls(prefix: str, names: tuple[str, ...], **initial: float) -> list[html.Div]:
    """Slider controls ``{prefix}-{name}`` for the named parameters (see PARAMETERS)."""
    result = []
    for name in names:
        label, low, high, step, default = PARAMETERS[name]
        value = initial.get(name, default)
        result.append(
            number_control(f"{prefix}-{name}", label, low=low, high=high, step=step, value=value)
        )
    return result


def inputs(prefix: str, names: tuple[str, ...]) -> list[Input]:
    """The callback inputs of ``controls(prefix, names)``, in the same order."""
    return [value_of(f"{prefix}-{name}") for name in names]


def from_values(names: tuple[str, ...], values: tuple[object, ...]) -> Gaussian:
    """The bivariate Gaussian the controls describe; parameters not in ``names`` take
    their defaults."""
    params = DEFAULTS | {
        name: parse_number(value, PARAMETERS[name][0])
        for name, value in zip(names, values, strict=True)
    }
    return bivariate(params["mu1"], params["mu2"], params["var1"], params["var2"], params["rho"])


def bivariate(mu1: float, mu2: float, var1: float, var2: float, rho: float) -> Gaussian:
    """N(mu, Sigma) with Sigma = [[var1, rho s1 s2], [rho s1 s2, var2]].

    A non-positive variance or |rho| >= 1 is refused here, naming its control (Gaussian's
    own message would speak of the covariance matrix, not of the slider that broke it).
    """
    for name, variance in (("var1", var1), ("var2", var2)):
        if not variance > 0:
            raise ValueError(f"{PARAMETERS[name][0]} must be positive, got {variance:g}")
    if not -1 < rho < 1:
        raise ValueError(f"{PARAMETERS['rho'][0]} must lie strictly between -1 and 1, got {rho:g}")
    covariance = torch.tensor([[var1, 0.0], [0.0, var2]], dtype=DTYPE)
    cross = rho * torch.tensor(var1 * var2, dtype=DTYPE).sqrt()
    covariance[0, 1] = covariance[1, 0] = cross
    return Gaussian(torch.tensor([mu1, mu2], dtype=DTYPE), covariance_matrix=covariance)


def parameters_text(g: Gaussian) -> str:
    """mu and Sigma as one short line."""
    m, s = to_numpy(g.mean), to_numpy(g.covariance_matrix)
    return (
        f"mu = ({m[0]:.3g}, {m[1]:.3g}),  Sigma = [[{s[0, 0]:.3g}, {s[0, 1]:.3g}], "
        f"[{s[1, 0]:.3g}, {s[1, 1]:.3g}]]"
    )


def density_grid(
    g: Gaussian, x_range: tuple[float, float], y_range: tuple[float, float], points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, Z) with Z[i, j] = p(xs[j], ys[i]), plotly's orientation for z grids."""
    xs = torch.linspace(*x_range, points, dtype=DTYPE)
    ys = torch.linspace(*y_range, points, dtype=DTYPE)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    z = g.log_prob(torch.stack([grid_x, grid_y], dim=-1)).exp()
    return to_numpy(xs), to_numpy(ys), to_numpy(z)


def ellipse(g: Gaussian, radius: float, points: int = 121) -> np.ndarray:
    """Points (points, 2) of the contour at Mahalanobis distance ``radius``.

    x(theta) = mu + radius * sum_i sqrt(lambda_i) u_i (cos theta, sin theta)_i, with
    (lambda_i, u_i) from ``principal_axes()``.
    """
    variances, directions = g.principal_axes()
    theta = torch.linspace(0, 2 * math.pi, points, dtype=DTYPE)
    circle = torch.stack([theta.cos(), theta.sin()], dim=-1) * radius
    return to_numpy(g.mean + (circle * variances.sqrt()) @ directions.T)


def principal_segments(g: Gaussian) -> list[np.ndarray]:
    """For each principal axis, the segment mu +- sqrt(lambda_i) u_i as a (2, 2) array."""
    variances, directions = g.principal_axes()
    half = directions * variances.sqrt()  # column i is sqrt(lambda_i) u_i
    return [to_numpy(torch.stack([g.mean - half[:, i], g.mean + half[:, i]])) for i in range(2)]


def contour_trace(xs: np.ndarray, ys: np.ndarray, z: np.ndarray, name: str = "density") -> Trace:
    """Filled density contours on a grid from ``density_grid``."""
    return {
        "type": "contour",
        "x": packed(xs),
        "y": packed(ys),
        "z": packed(z),
        "name": name,
        "colorscale": "Blues",
        "showscale": False,
        "ncontours": 10,
        "hoverinfo": "skip",
        "opacity": 0.75,
    }


def ring_traces(g: Gaussian, label: str, color: str) -> list[Trace]:
    """The contour ellipses at Mahalanobis distance 1 (solid) and 2 (dashed)."""
    traces = []
    for radius, dash in ((1, "solid"), (2, "dash")):
        ring = ellipse(g, radius)
        traces.append(
            line(ring[:, 0], ring[:, 1], f"{label} {radius}", line={"color": color, "dash": dash})
        )
    return traces


def square_axes(extent: tuple[float, float]) -> dict[str, dict[str, object]]:
    """Layout keys for x and y axes over ``extent`` with equal scales (circles look round)."""
    return {
        "xaxis": {"range": list(extent), "constrain": "domain"},
        "yaxis": {"range": list(extent), "scaleanchor": "x", "scaleratio": 1},
    }
