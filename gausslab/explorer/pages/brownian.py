"""Brownian motion: many small independent steps give Gaussian positions, and the diffusion
forward process is this motion (variance exploding) or its rescaling (variance preserving)."""

from __future__ import annotations

import functools
import math

import torch
from dash import Dash, Input, Output, html

from gausslab import Gaussian, GaussianMixture
from gausslab.brownian import STEP_LAWS, Walk, brownian_marginal, random_walk
from gausslab.brownian import variance_exploding_marginal as exploding_law
from gausslab.clt import KS_CRITICAL_95, ks_distance
from gausslab.diffusion import Diffusion
from gausslab.explorer.callbacks import page_callback, parse_int, parse_number, shown
from gausslab.explorer.controls import (
    alert_area,
    choice,
    graph,
    number_control,
    page_frame,
    readout,
    value_of,
)
from gausslab.explorer.formulas import equation, prose
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import PALETTE, Figure, density_histogram, figure, line
from gausslab.verify.checks.diffusion import exercise4_schedule
from gausslab.verify.checks.mixture import seed_mixture
from gausslab.verify.registry import Context

DTYPE = torch.float64
PARTICLES = 2000
PATHS = 25
MAX_STEPS = 500
SEED = 0
STEP_CHOICES = {"gaussian": "Gaussian", "uniform": "uniform", "coin": "coin flip ±1"}
SCHEDULE = exercise4_schedule()
GRID_POINTS = 301
FORWARD_PANELS = (
    ("exploding", "x₀ + σ_t ε", {}, "rgba(31, 119, 180, 0.5)"),
    (
        "preserving",
        "√ᾱ_t x₀ + √(1−ᾱ_t) ε",
        {"xaxis": "x2", "yaxis": "y2"},
        "rgba(44, 160, 44, 0.5)",
    ),
)
"""(kind, formula, plotly axes, histogram colour) of the two forward-process panels."""

WALK = r"X(t) = \sigma\sqrt{\Delta t}\,(\xi_1 + \dots + \xi_k),\quad t = k\,\Delta t"
FORWARD = (
    r"x_t^{\mathrm{VE}} = x_0 + \sigma_t\,\varepsilon, \qquad "
    r"x_t^{\mathrm{VP}} = \sqrt{\bar\alpha_t}\,x_t^{\mathrm{VE}}"
    r" = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon"
)


def layout() -> html.Div:
    """Step law, sigma, number of steps and time; paths, positions, and VE vs VP."""
    return page_frame(
        "Brownian motion",
        f"{PARTICLES} particles, each taking many small independent steps "
        r"$\sigma\sqrt{\Delta t}\,\xi_i$ with $\mathbb E\,\xi = 0$, $\operatorname{Var}\xi = 1$. "
        r"Variances of independent steps add, so $\operatorname{Var} X(t) = \sigma^2 t$, and "
        r"whatever the law of one step the positions approach $\mathcal N(0, \sigma^2 t)$: the "
        r"physics that gave diffusion models their name.",
        [
            choice("brown-steps", "Law of one step", STEP_CHOICES, "uniform"),
            number_control(
                "brown-sigma", "Diffusion coefficient σ", low=0.2, high=3, step=0.05, value=1.0
            ),
            number_control(
                "brown-n", "Steps over [0, 1]", low=1, high=MAX_STEPS, step=1, value=100
            ),
            number_control("brown-t", "Time t", low=0.01, high=1, step=0.01, value=0.5),
            alert_area("brown-alert"),
            html.H4("Forward process", className="group-title"),
            number_control(
                "brown-diffusion-t", "Diffusion step t", low=1, high=SCHEDULE.T, step=1, value=20
            ),
            alert_area("brown-forward-alert"),
        ],
        [
            equation(WALK),
            graph("brown-paths", height=330),
            graph("brown-graph", height=330),
            html.Div(
                className="readouts",
                children=[
                    readout("brown-variance", r"Sample variance / $\sigma^2 t$:"),
                    readout("brown-ks", r"KS distance to $\mathcal N(0, \sigma^2 t)$:"),
                    readout("brown-critical", r"95% KS critical value $1.358/\sqrt{N}$:"),
                ],
            ),
            prose(
                r"The forward process is this motion started at the data, run to time "
                r"$\sigma_t^2 = (1-\bar\alpha_t)/\bar\alpha_t$ (variance exploding), or the same "
                r"motion scaled by $\sqrt{\bar\alpha_t}$ (variance preserving):",
                class_name="formulas",
            ),
            equation(FORWARD),
            graph("brown-forward", height=360),
            html.Div(
                className="readouts",
                children=[
                    readout("brown-sigma-t", r"$\sigma_t = \sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$:"),
                    readout(
                        "brown-var-ve",
                        r"$\operatorname{Var} x_t^{\mathrm{VE}}"
                        r" = \operatorname{Var} x_0 + \sigma_t^2$:",
                    ),
                    readout(
                        "brown-var-vp",
                        r"$\operatorname{Var} x_t^{\mathrm{VP}}"
                        r" = \bar\alpha_t \operatorname{Var} x_0 + 1 - \bar\alpha_t$:",
                    ),
                ],
            ),
        ],
    )


@functools.lru_cache(maxsize=8)
def unit_walk(steps: str, num_steps: int) -> Walk:
    """The page's walk with sigma = 1 over [0, 1] (positions scale with sigma), cached."""
    generator = torch.Generator().manual_seed(SEED)
    return random_walk(PARTICLES, num_steps, steps=steps, generator=generator)


def _check_steps(steps: object) -> str:
    if not isinstance(steps, str) or steps not in STEP_LAWS:
        raise ValueError(f"the step law must be one of {list(STEP_CHOICES)}, got {shown(steps)}")
    return str(steps)


def _walk_inputs(steps: object, sigma_text: object, n_text: object) -> tuple[Walk, float]:
    steps = _check_steps(steps)
    sigma = parse_number(sigma_text, "σ")
    if not sigma > 0:
        raise ValueError(f"σ must be positive, got {sigma:g}")
    n = parse_int(n_text, "steps")
    if not 1 <= n <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}, got {n}")
    return unit_walk(steps, n), sigma


def _lattice_bins(x: torch.Tensor, spacing: float, width: float) -> dict[str, float]:
    """Histogram bins for positions on a lattice of the given spacing: each bin holds the
    same number of lattice points (a whole multiple of the spacing at least width / 60 wide)
    and is centred on one, so no bin is empty for want of a lattice point."""
    size = spacing * max(1, math.ceil(width / 60 / spacing))
    anchor = float(x[0])
    start = anchor - size / 2 - size * math.ceil(width / size)
    return {"start": start, "end": start + size * (2 * math.ceil(width / size) + 2), "size": size}


def _paths_figure(walk: Walk, sigma: float, index: int) -> Figure:
    times = walk.times
    traces = [
        line(
            times,
            sigma * walk.positions[:, i],
            f"particle {i + 1}",
            showlegend=False,
            line={"width": 1, "color": "rgba(60, 60, 60, 0.45)"},
            hoverinfo="skip",
        )
        for i in range(PATHS)
    ]
    envelope = 2 * sigma * times.sqrt()
    traces += [
        line(times, envelope, "±2σ√t", line={"color": PALETTE[1], "dash": "dash", "width": 2}),
        line(
            times,
            -envelope,
            "−2σ√t",
            showlegend=False,
            line={"color": PALETTE[1], "dash": "dash", "width": 2},
        ),
    ]
    t = float(times[index])
    return figure(
        traces,
        title=f"{PATHS} of {PARTICLES} paths; the dashed envelope ±2σ√t holds 95% of them",
        x_title="time t",
        y_title="position X(t)",
        uirevision="brownian-paths",
        shapes=[
            {
                "type": "line",
                "x0": t,
                "x1": t,
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": PALETTE[2], "width": 2},
            }
        ],
    )


def _positions_figure(x: torch.Tensor, law: Gaussian, t: float, lattice: float | None) -> Figure:
    std = float(law.stddev)
    grid = torch.linspace(-4.5 * std, 4.5 * std, GRID_POINTS, dtype=DTYPE)
    bins = {} if lattice is None else {"xbins": _lattice_bins(x, lattice, 9 * std)}
    traces = [
        density_histogram(x, f"positions at t = {t:g}", **bins),
        line(
            grid,
            law.log_prob(grid).exp(),
            "N(0, σ²t) density",
            line={"color": PALETTE[1], "width": 3},
        ),
    ]
    return figure(
        traces,
        title=f"Positions of all {PARTICLES} particles at t = {t:g} against N(0, σ²t)",
        x_title="position",
        y_title="density",
        uirevision="brownian-positions",
        xaxis={"range": [float(grid[0]), float(grid[-1])]},
    )


@functools.lru_cache(maxsize=1)
def _data() -> tuple[GaussianMixture, torch.Tensor]:
    """The exercise-4 mixture and the particles' starting points drawn from it."""
    data = seed_mixture(Context(samples=PARTICLES, device=torch.device("cpu")))
    generator = torch.Generator().manual_seed(SEED + 1)
    return data, data.sample((PARTICLES,), generator=generator)


def _forward_figure(x_ve: torch.Tensor, x_vp: torch.Tensor, t: int) -> Figure:
    data, _ = _data()
    ve_law = exploding_law(data, SCHEDULE, t)
    vp_law = Diffusion(SCHEDULE).marginal(data, t)
    traces = []
    for (kind, formula, axes, color), samples, law in zip(
        FORWARD_PANELS, (x_ve, x_vp), (ve_law, vp_law), strict=True
    ):
        spread, center = 4.5 * float(law.stddev), float(law.mean)
        grid = torch.linspace(center - spread, center + spread, GRID_POINTS, dtype=DTYPE)
        name = f"particles, {kind} {formula}"
        traces.append(density_histogram(samples, name, marker={"color": color}, **axes))
        density = law.log_prob(grid).exp()
        style = {"color": PALETTE[1], "width": 2}
        traces.append(line(grid, density, f"exact law, {kind}", line=style, **axes))
    return figure(
        traces,
        title=f"Step t = {t}: Brownian particles from the data (left) and rescaled by √ᾱ_t (right)",
        x_title="x_t, variance exploding",
        y_title="density",
        uirevision="brownian-forward",
        xaxis={"domain": [0, 0.47]},
        xaxis2={"domain": [0.53, 1], "anchor": "y2", "title": {"text": "x_t, variance preserving"}},
        yaxis2={"anchor": "x2"},
    )


def register(app: Dash) -> None:
    """Walk controls -> paths, positions, distances; diffusion step -> VE vs VP panel."""

    @page_callback(
        app,
        [
            Output("brown-paths", "figure"),
            Output("brown-graph", "figure"),
            Output("brown-variance", "children"),
            Output("brown-ks", "children"),
            Output("brown-critical", "children"),
        ],
        [
            Input("brown-steps", "value"),
            value_of("brown-sigma"),
            value_of("brown-n"),
            value_of("brown-t"),
        ],
        alert_id="brown-alert",
    )
    def update(steps: object, sigma_text: object, n_text: object, t_text: object) -> tuple:
        walk, sigma = _walk_inputs(steps, sigma_text, n_text)
        t = parse_number(t_text, "t")
        if not 0 < t <= 1:
            raise ValueError(f"t must lie in (0, 1], got {t:g}")
        n = len(walk.times) - 1
        index = max(1, round(t * n))
        t = float(walk.times[index])
        x = sigma * walk.positions[index]
        law = brownian_marginal(walk.times[index], sigma)
        ks = ks_distance(x / law.stddev)
        variance = float((x**2).mean())
        # coin-flip positions lie on a lattice of spacing 2 sigma sqrt(dt)
        lattice = 2 * sigma / math.sqrt(n) if steps == "coin" else None
        return (
            _paths_figure(walk, sigma, index),
            _positions_figure(x, law, t, lattice),
            f"{variance:.4f} / {float(law.variance):.4f}",
            f"{ks:.4f}",
            f"{KS_CRITICAL_95 / math.sqrt(PARTICLES):.4f}",
        )

    @page_callback(
        app,
        [
            Output("brown-forward", "figure"),
            Output("brown-sigma-t", "children"),
            Output("brown-var-ve", "children"),
            Output("brown-var-vp", "children"),
        ],
        [Input("brown-steps", "value"), value_of("brown-diffusion-t")],
        alert_id="brown-forward-alert",
    )
    def forward(steps: object, t_text: object) -> tuple:
        steps = _check_steps(steps)
        t = parse_int(t_text, "diffusion step t")
        if not 1 <= t <= SCHEDULE.T:
            raise ValueError(f"diffusion step t must be between 1 and {SCHEDULE.T}, got {t}")
        data, x0 = _data()
        sigma_t = float(SCHEDULE.sigmas[t])
        abar = float(SCHEDULE.alphas_cumprod[t])
        # Brownian motion from x0 to time sigma_t^2: x0 + sigma_t W(1), W the unit walk.
        x_ve = x0 + sigma_t * unit_walk(steps, 100).positions[-1]
        x_vp = math.sqrt(abar) * x_ve
        var0 = float(data.variance)
        return (
            _forward_figure(x_ve, x_vp, t),
            f"{sigma_t:.4g}",
            f"{var0 + sigma_t**2:.4g}",
            f"{abar * var0 + 1 - abar:.4g}",
        )


PAGE = Page(
    path="brownian",
    title="Brownian motion",
    summary="Watch particles take small random steps: positions spread like σ²t and become "
    "Gaussian whatever one step looks like; the forward process is this motion, exploding or "
    "rescaled.",
    graph="brown-graph",
    layout=layout,
    register=register,
)
