"""Memorization: the exact optimal denoiser of a finite training set only reproduces it.

N training points in 2-D form the empirical law p_N = (1/N) sum_i N(y_i, s^2 I)
(``GaussianMixture.empirical``; s = 0 gives point masses). Sampling with its exact optimal
model puts every sample on a training point when s = 0 (the memorizing denoiser); a
smoothing s > 0 spreads the samples between the points, i.e. the closed-form smoothed
denoiser generalizes. The nearest-neighbour distance of the samples to the training set
says which regime a setting is in.
"""

from __future__ import annotations

import functools
import math

import torch
from dash import Dash, Output, html

from gausslab import GaussianMixture
from gausslab.diffusion import Diffusion, Schedule
from gausslab.explorer.callbacks import page_callback, parse_int, parse_number
from gausslab.explorer.controls import (
    alert_area,
    graph,
    number_control,
    page_frame,
    readout,
    value_of,
)
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import PALETTE, Figure, figure, markers

DTYPE = torch.float64
MAX_POINTS = 200
SAMPLES = 300
SAMPLER, STEPS = "ddim", 25  # deterministic, so samples glide as the controls move
RING_RADIUS, RING_MODES, RING_STD = 2.0, 8, 0.35  # where the training points come from
EXTENT = (-3.5, 3.5)
DIFFUSION = Diffusion(Schedule.cosine(1000))


def layout() -> html.Div:
    """N and the smoothing s; training points and samples; nearest-neighbour distances."""
    return page_frame(
        "Memorization and generalization",
        r"$N$ training points $y_1, \ldots, y_N$ (drawn from a ring of eight Gaussians) define "
        r"the empirical law $$p_N(x) = \frac{1}{N}\sum_{i=1}^{N} \mathcal{N}(x; y_i, s^2 I).$$ "
        r"Its exact optimal denoiser $D(x, \sigma) = \sum_i \mathrm{softmax}_i\left(-\frac{"
        r"\|x - y_i\|^2}{2(\sigma^2 + s^2)}\right) \frac{s^2 x + \sigma^2 y_i}{s^2 + \sigma^2}$ "
        r"drives DDIM back from noise. With $s = 0$ every sample lands on a training point: "
        r"the ideal model memorizes. A smoothing $s > 0$ lets samples fall between the points.",
        [
            number_control("mem-n", "Training points N", low=2, high=60, step=1, value=12),
            number_control("mem-std", "Smoothing s", low=0.0, high=1.0, step=0.02, value=0.0),
            alert_area("mem-alert"),
        ],
        [
            graph("mem-graph", height=520),
            html.Div(
                className="readouts",
                children=[
                    readout("mem-nn", r"median $\min_i \|x - y_i\|$ of the samples ="),
                    readout("mem-nn-fresh", r"of fresh ring draws (no memorization) ="),
                    readout("mem-copies", r"samples within $10^{-2}$ of a training point:"),
                ],
            ),
        ],
    )


def _ring(count: int, seed: int) -> torch.Tensor:
    """``count`` draws from the ring of RING_MODES Gaussians, fixed seed."""
    generator = torch.Generator().manual_seed(seed)
    angle = 2 * math.pi * torch.randint(RING_MODES, (count,), generator=generator) / RING_MODES
    centers = RING_RADIUS * torch.stack([angle.cos(), angle.sin()], dim=1).to(DTYPE)
    return centers + RING_STD * torch.randn(count, 2, generator=generator, dtype=DTYPE)


@functools.lru_cache(maxsize=64)
def training_points(count: int) -> torch.Tensor:
    """The first ``count`` training points (the same prefix for every N)."""
    return _ring(MAX_POINTS, seed=0)[:count]


def nearest_distances(x: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """min_i |x_j - y_i| for each row x_j."""
    return torch.cdist(x, points).min(dim=1).values


@functools.lru_cache(maxsize=64)
def memorization_run(count: int, std: float) -> torch.Tensor:
    """SAMPLES samples of DDIM with the exact optimal model of the empirical law."""
    data = GaussianMixture.empirical(training_points(count), std)
    x_T = torch.randn(SAMPLES, 2, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    return DIFFUSION.sample(
        DIFFUSION.optimal_model(data), (SAMPLES, 2), sampler=SAMPLER, steps=STEPS, x_T=x_T
    )


def _figure(points: torch.Tensor, samples: torch.Tensor, std: float) -> Figure:
    traces = [
        markers(
            samples[:, 0],
            samples[:, 1],
            f"samples (DDIM, {STEPS} steps)",
            marker={"size": 5, "color": "rgba(31, 119, 180, 0.55)"},
        ),
        markers(
            points[:, 0],
            points[:, 1],
            "training points",
            marker={"size": 11, "color": PALETTE[1], "symbol": "x"},
        ),
    ]
    return figure(
        traces,
        title=f"Samples of the exact optimal denoiser, s = {std:g}",
        x_title="x₁",
        y_title="x₂",
        uirevision="memorization",
        xaxis={"range": list(EXTENT), "constrain": "domain"},
        yaxis={"range": list(EXTENT), "scaleanchor": "x", "scaleratio": 1},
    )


def register(app: Dash) -> None:
    """The page's one callback: N and s -> samples and their nearest-neighbour distances."""

    @page_callback(
        app,
        [
            Output("mem-graph", "figure"),
            Output("mem-nn", "children"),
            Output("mem-nn-fresh", "children"),
            Output("mem-copies", "children"),
        ],
        [value_of("mem-n"), value_of("mem-std")],
        alert_id="mem-alert",
    )
    def update(n_text: object, std_text: object) -> tuple:
        count = parse_int(n_text, "N")
        if not 1 <= count <= MAX_POINTS:
            raise ValueError(f"N must be between 1 and {MAX_POINTS}, got {count}")
        std = parse_number(std_text, "s")
        if std < 0:
            raise ValueError(f"s must be >= 0, got {std:g}")
        points = training_points(count)
        samples = memorization_run(count, std)
        distances = nearest_distances(samples, points)
        fresh = nearest_distances(_ring(SAMPLES, seed=2), points)
        copies = int((distances < 1e-2).sum())
        return (
            _figure(points, samples, std),
            f"{float(distances.quantile(0.5)):.4f}",
            f"{float(fresh.quantile(0.5)):.4f}",
            f"{copies} of {SAMPLES}",
        )


PAGE = Page(
    path="memorization",
    title="Memorization",
    summary="Sample with the exact optimal denoiser of N training points: with no smoothing "
    "every sample lands on a training point; smoothing the empirical law makes it generalize.",
    graph="mem-graph",
    layout=layout,
    register=register,
)
