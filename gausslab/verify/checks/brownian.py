"""Brownian motion: positions after time t are N(x_0, sigma^2 t), and the diffusion forward
process is Brownian motion, rescaled.

For ``random_walk`` with steps sigma sqrt(dt) xi (E[xi] = 0, Var[xi] = 1):

    E[X(t)^2] = sigma^2 t                   variance linear in t, for any step law (uniform here)
    E[X(s) X(t)] = sigma^2 min(s, t)        independent increments
    X(t) ~ N(0, sigma^2 t)                  KS at the run's Bonferroni level (Gaussian steps, for
                                            which this holds exactly at every t; other step laws
                                            reach it only as dt -> 0, see tests/test_brownian.py)

and for the exercise-4 mixture data x_0, Brownian motion from x_0 run to time sigma_t^2 =
(1 - abar_t) / abar_t and scaled by sqrt(abar_t) has the law q(x_t) of the variance-preserving
forward process: its CDF is sum_k w_k Phi((c - sqrt(abar_t) m_k) / sqrt(abar_t s_k^2 + 1 - abar_t))
(mpmath), and ``variance_exploding_marginal(data, schedule, t).affine(sqrt(abar_t))`` equals
``Diffusion.marginal(data, t)``.
"""

from __future__ import annotations

import math

from gausslab.brownian import random_walk, variance_exploding_marginal
from gausslab.clt import ks_distance
from gausslab.diffusion import Diffusion
from gausslab.verify.checks.diffusion import SNAPSHOTS, exercise4_schedule, mp_mixture_cdf
from gausslab.verify.checks.mixture import seed_mixture
from gausslab.verify.registry import (
    Context,
    Result,
    check,
    ks_result,
    mean_result,
    worst_reference,
)

SIGMA = 1.5
DURATION = 2.0
STEPS = 16
RECORD_EVERY = 4
"""A walk of 16 steps over t in [0, 2], recorded at t = 0.5, 1, 1.5, 2."""


def _walk(ctx: Context, steps: str):
    return random_walk(
        ctx.samples,
        STEPS,
        duration=DURATION,
        sigma=SIGMA,
        steps=steps,
        record_every=RECORD_EVERY,
        dtype=ctx.dtype,
        device=ctx.device,
    )


@check(
    "brownian.variance_linear",
    "a random walk with uniform steps of variance sigma^2 dt: E[X(t)^2] = sigma^2 t and "
    "E[X(s) X(t)] = sigma^2 min(s, t)",
)
def variance_linear(ctx: Context) -> list[Result]:
    walk = _walk(ctx, "uniform")
    times, x = walk.times.tolist(), walk.positions
    results = [
        mean_result(f"brownian.variance_linear[t={t:g}].E[X^2]", x[i] ** 2, SIGMA**2 * t)
        for i, t in enumerate(times)
        if i > 0
    ]
    last = len(times) - 1
    for i in (1, 2):
        name = f"brownian.variance_linear.E[X({times[i]:g}) X({times[last]:g})]"
        results.append(mean_result(name, x[i] * x[last], SIGMA**2 * times[i]))
    return results


@check(
    "brownian.gaussian_marginals",
    "a random walk with Gaussian steps: X(t) / (sigma sqrt(t)) is N(0, 1) at every t (KS)",
)
def gaussian_marginals(ctx: Context) -> list[Result]:
    walk = _walk(ctx, "gaussian")
    return [
        ks_result(
            f"brownian.gaussian_marginals[t={t:g}].KS",
            ks_distance(walk.positions[i] / (SIGMA * math.sqrt(t))),
            ctx.samples,
        )
        for i, t in enumerate(walk.times.tolist())
        if i > 0
    ]


@check(
    "brownian.variance_preserving_rescaling",
    "sqrt(abar_t) times Brownian motion from mixture data x_0 at time sigma_t^2 = (1 - abar_t) / "
    "abar_t has the forward marginal q(x_t) (mpmath CDF); the exploding law scaled by "
    "sqrt(abar_t) is Diffusion.marginal",
)
def variance_preserving_rescaling(ctx: Context) -> list[Result]:
    schedule = exercise4_schedule()
    diffusion = Diffusion(schedule)
    data = seed_mixture(ctx)
    x0 = data.sample((ctx.samples,))
    results = []
    for t in SNAPSHOTS:
        abar = schedule.alphas_cumprod[t].item()
        walk = random_walk(
            ctx.samples,
            4,
            duration=schedule.sigmas[t].item() ** 2,
            start=x0,
            dtype=ctx.dtype,
            device=ctx.device,
        )
        x_t = math.sqrt(abar) * walk.positions[-1]
        name = f"brownian.variance_preserving_rescaling[t={t}]"
        for c in (-1.0, 0.0, 1.0):
            draws = (x_t <= c).to(ctx.dtype)
            results.append(mean_result(f"{name}.P(x_t<={c:g})", draws, mp_mixture_cdf(c, abar)))
        rescaled = variance_exploding_marginal(data, schedule, t).affine(math.sqrt(abar))
        exact = diffusion.marginal(data, t).components
        pairs = [
            *zip(rescaled.components.mean.tolist(), exact.mean.tolist(), strict=True),
            *zip(rescaled.components.stddev.tolist(), exact.stddev.tolist(), strict=True),
        ]
        results.append(worst_reference(f"{name}.law", pairs, rtol=1e-12, floor=1.0))
    return results
