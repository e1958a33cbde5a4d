"""Diffusion: the exact law of x_t for 1-D mixture data, and reverse sampling with the
Bayes-optimal denoiser (DDPM / DDIM) against the true data density."""

from __future__ import annotations

import torch
from dash import Dash, Input, Output, html

from gausslab import GaussianMixture
from gausslab.diffusion import Diffusion, Schedule
from gausslab.explorer.callbacks import page_callback, parse_int, parse_numbers, shown
from gausslab.explorer.controls import (
    alert_area,
    choice,
    graph,
    number_control,
    page_frame,
    readout,
    slider_id,
    text_field,
    value_of,
)
from gausslab.explorer.draws import fixed_samples
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import PALETTE, Figure, Trace, figure, line, packed

DTYPE = torch.float64
SAMPLES = 2000
REVERSE_SAMPLES = 1000  # each reverse step evaluates the optimal denoiser on all of them
GRID_POINTS = 241
SCHEDULES = {
    "linear": "linear",
    "cosine": "cosine",
    "scaled_linear": "scaled linear",
    "sigmoid": "sigmoid",
}
# (beta_start, beta_end) of each beta schedule at T = 1000 (DDPM; Stable Diffusion)
BETA_RANGES = {
    "linear": (1e-4, 0.02),
    "scaled_linear": (0.00085, 0.012),
    "sigmoid": (1e-4, 0.02),
}
MAX_BETA = 0.999
MIN_T, MAX_T = 2, 2000
START_CHOICES = {"noise": "N(0, 1)", "exact": "exact q(x_T)"}
DATA_INPUTS = [
    Input("diff-weights", "value"),
    Input("diff-means", "value"),
    Input("diff-stds", "value"),
    Input("diff-schedule", "value"),
    value_of("diff-T"),
]


def layout() -> html.Div:
    """Mixture, schedule, T and t; the forward marginal and the reverse-sampling panel."""
    return page_frame(
        "Diffusion of a 1-D mixture",
        "q(x_t | x₀) = N(√ᾱ_t x₀, (1 − ᾱ_t)), so mixture data stays a mixture: each component "
        "N(μ, s²) becomes N(√ᾱ_t μ, ᾱ_t s² + 1 − ᾱ_t). Below, the exact Bayes-optimal denoiser "
        "drives DDPM or DDIM back from noise to data.",
        [
            text_field("diff-weights", "Mixture weights", "0.3, 0.7"),
            text_field("diff-means", "Component means", "-2, 1.5"),
            text_field("diff-stds", "Component standard deviations", "0.3, 0.5"),
            choice("diff-schedule", "Noise schedule", SCHEDULES, "linear"),
            number_control("diff-T", "Steps T", low=10, high=1000, step=10, value=200, live=False),
            number_control("diff-t", "Time t", low=0, high=200, step=1, value=20),
            alert_area("diff-alert"),
            html.H4("Reverse sampling", className="group-title"),
            choice("diff-sampler", "Sampler", {"ddpm": "DDPM", "ddim": "DDIM (η = 0)"}, "ddpm"),
            number_control(
                "diff-steps", "Sampling steps", low=1, high=1000, step=1, value=50, live=False
            ),
            choice(
                "diff-start",
                "x_T drawn from",
                START_CHOICES,
                "noise",
            ),
            alert_area("diff-reverse-alert"),
        ],
        [
            graph("diff-graph", height=380),
            html.Div(
                className="readouts",
                children=[
                    readout("diff-abar", "ᾱ_t ="),
                    readout("diff-snr", "SNR(t) = ᾱ_t / (1 − ᾱ_t) ="),
                    readout("diff-abar-T", "ᾱ_T ="),
                ],
            ),
            graph("diff-reverse-graph", height=340),
            html.Div(
                className="readouts",
                children=[
                    readout("diff-reverse-mean", "mean of samples / of data:"),
                    readout("diff-reverse-std", "std of samples / of data:"),
                ],
            ),
        ],
    )


def _process(
    weights: object, means: object, stds: object, schedule: object, steps_text: object
) -> tuple[GaussianMixture, Diffusion]:
    """The mixture data and the diffusion process the controls describe."""
    data = GaussianMixture.univariate(
        torch.tensor(parse_numbers(weights, "weights"), dtype=DTYPE),
        torch.tensor(parse_numbers(means, "means"), dtype=DTYPE),
        torch.tensor(parse_numbers(stds, "standard deviations"), dtype=DTYPE),
    )
    T = parse_int(steps_text, "T")
    return data, Diffusion(schedule_for(schedule, T))


def schedule_for(name: object, T: int) -> Schedule:
    """The named schedule with T steps. Beta ranges are rescaled by 1000 / T (as
    improved-diffusion does), so that every T ends near pure noise like T = 1000 does."""
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {shown(name)}")
    if not MIN_T <= T <= MAX_T:
        raise ValueError(f"T must be between {MIN_T} and {MAX_T}, got {T}")
    if name == "cosine":
        return Schedule.cosine(T)
    start, end = BETA_RANGES[str(name)]
    scale = 1000 / T
    return getattr(Schedule, str(name))(T, start * scale, min(end * scale, MAX_BETA))


def _grid(data: GaussianMixture) -> torch.Tensor:
    """x values covering the data and N(0, 1), for every t."""
    means, stds = data.components.mean, data.components.stddev
    low = min(-4.0, float((means - 4 * stds).min()))
    high = max(4.0, float((means + 4 * stds).max()))
    return torch.linspace(low, high, GRID_POINTS, dtype=DTYPE)


def _density(dist: GaussianMixture, x: torch.Tensor, name: str, **style: object) -> Trace:
    return line(x, dist.log_prob(x).exp(), name, **style)


def _histogram(samples: object, name: str) -> Trace:
    return {
        "type": "histogram",
        "x": packed(samples),
        "histnorm": "probability density",
        "nbinsx": 80,
        "name": name,
        "marker": {"color": "rgba(31, 119, 180, 0.45)"},
    }


def _data_line(data: GaussianMixture, x: torch.Tensor) -> Trace:
    return _density(data, x, "data density p₀", line={"color": "#555", "dash": "dash"})


def _forward_figure(data: GaussianMixture, marginal: GaussianMixture, t: int) -> Figure:
    x = _grid(data)
    traces = [
        _histogram(fixed_samples(marginal, SAMPLES), f"samples of x_{t}"),
        _data_line(data, x),
        _density(marginal, x, f"exact density of x_{t}", line={"color": PALETTE[1], "width": 3}),
    ]
    return figure(
        traces,
        title=f"Forward process: the law of x_t at t = {t}",
        x_title="x",
        y_title="density",
        uirevision="diffusion",
        xaxis={"range": [float(x[0]), float(x[-1])]},
    )


def register(app: Dash) -> None:
    """Forward callback (data, schedule, T, t) and reverse callback (+ sampler, steps)."""
    app.clientside_callback(
        """function (T) {
            const n = Number(T);
            return Number.isInteger(n) && n >= 1 ? n : window.dash_clientside.no_update;
        }""",
        Output(slider_id("diff-t"), "max"),
        value_of("diff-T"),
    )

    @page_callback(
        app,
        [
            Output("diff-graph", "figure"),
            Output("diff-abar", "children"),
            Output("diff-snr", "children"),
            Output("diff-abar-T", "children"),
        ],
        [*DATA_INPUTS, value_of("diff-t")],
        alert_id="diff-alert",
    )
    def forward(*values: object) -> tuple:
        data, diffusion = _process(*values[:-1])
        t = parse_int(values[-1], "t")
        marginal = diffusion.marginal(data, t)
        tables = diffusion.schedule
        return (
            _forward_figure(data, marginal, t),
            f"{float(tables.alphas_cumprod[t]):.5f}",
            f"{float(tables.snr[t]):.5g}",
            f"{float(tables.alphas_cumprod[-1]):.3g}",
        )

    @page_callback(
        app,
        [
            Output("diff-reverse-graph", "figure"),
            Output("diff-reverse-mean", "children"),
            Output("diff-reverse-std", "children"),
        ],
        [
            *DATA_INPUTS,
            Input("diff-sampler", "value"),
            value_of("diff-steps"),
            Input("diff-start", "value"),
        ],
        alert_id="diff-reverse-alert",
    )
    def reverse(*values: object) -> tuple:
        data, diffusion = _process(*values[:5])
        sampler, steps_text, start = values[5:]
        steps = parse_int(steps_text, "sampling steps")
        T = diffusion.schedule.T
        if start not in START_CHOICES:
            raise ValueError(f"x_T must be drawn from one of {list(START_CHOICES)}, got {start!r}")
        if start == "exact":
            x_T = torch.as_tensor(
                fixed_samples(diffusion.marginal(data, T), REVERSE_SAMPLES, seed=1)
            )
        else:
            x_T = torch.randn(
                REVERSE_SAMPLES, generator=torch.Generator().manual_seed(1), dtype=DTYPE
            )
        x0 = diffusion.sample(
            diffusion.optimal_model(data),
            (REVERSE_SAMPLES,),
            sampler=str(sampler),
            steps=steps,
            x_T=x_T,
            generator=torch.Generator().manual_seed(2),
        )
        x = _grid(data)
        fig = figure(
            [_histogram(x0, f"{str(sampler).upper()} samples, {steps} steps"), _data_line(data, x)],
            title="Reverse process with the exact optimal denoiser",
            x_title="x₀",
            y_title="density",
            uirevision="diffusion-reverse",
            xaxis={"range": [float(x[0]), float(x[-1])]},
        )
        return (
            fig,
            f"{float(x0.mean()):.3f} / {float(data.mean):.3f}",
            f"{float(x0.std()):.3f} / {float(data.stddev):.3f}",
        )


PAGE = Page(
    path="diffusion",
    title="Diffusion",
    summary="Edit a 1-D mixture, pick a noise schedule and watch the exact law of x_t flow "
    "to N(0, 1); then sample back with DDPM or DDIM using the exact optimal denoiser.",
    graph="diff-graph",
    layout=layout,
    register=register,
)
