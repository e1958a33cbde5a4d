"""Gaussian mixtures: density, score and moments.

p(x) = sum_k w_k N(x; mu_k, s_k^2),   score(x) = d/dx log p(x)
E[x] = sum_k w_k mu_k,   Var[x] = sum_k w_k (s_k^2 + mu_k^2) - E[x]^2
"""

from __future__ import annotations

import mpmath

from gausslab.mixture import GaussianMixture
from gausslab.verify.registry import (
    Context,
    Result,
    check,
    mean_result,
    moment_results,
    worst_reference,
)

WEIGHTS = (0.3, 0.7)
MEANS = (-2.0, 1.5)
STDS = (0.3, 0.5)
"""The 1-D mixture of the seed's exercise 4, also used by the figures."""

POINTS = (-6.0, -2.0, -0.3, 0.0, 1.5, 4.0)


def seed_mixture(ctx: Context) -> GaussianMixture:
    """0.3 N(-2, 0.3^2) + 0.7 N(1.5, 0.5^2)."""
    return GaussianMixture.univariate(ctx.tensor(WEIGHTS), ctx.tensor(MEANS), ctx.tensor(STDS))


def mp_density(x: object, weights=WEIGHTS, means=MEANS, variances=None) -> mpmath.mpf:
    """sum_k w_k N(x; m_k, v_k) in mpmath (v_k = STDS_k^2 unless given)."""
    variances = [s**2 for s in STDS] if variances is None else variances
    x = mpmath.mpf(x)
    return sum(
        w * mpmath.exp(-((x - m) ** 2) / (2 * v)) / mpmath.sqrt(2 * mpmath.pi * v)
        for w, m, v in zip(weights, means, variances, strict=True)
    )


@check("mixture.log_prob", "log sum_k w_k N(x; mu_k, s_k^2) vs mpmath, tails included")
def log_prob(ctx: Context) -> list[Result]:
    values = seed_mixture(ctx).log_prob(ctx.tensor(POINTS)).tolist()
    with mpmath.workdps(50):
        pairs = [(v, mpmath.log(mp_density(x))) for v, x in zip(values, POINTS, strict=True)]
        return [worst_reference("mixture.log_prob", pairs, rtol=1e-12, floor=1.0)]


@check("mixture.score", "score(x) = d/dx log p(x) vs mpmath numerical differentiation")
def score(ctx: Context) -> list[Result]:
    values = seed_mixture(ctx).score(ctx.tensor(POINTS)).tolist()
    with mpmath.workdps(50):
        pairs = [
            (v, mpmath.diff(lambda y: mpmath.log(mp_density(y)), x))
            for v, x in zip(values, POINTS, strict=True)
        ]
        return [worst_reference("mixture.score", pairs, rtol=1e-12, floor=1.0)]


@check(
    "mixture.moments", "samples of a 1-D and a 2-D mixture have its closed-form mean and covariance"
)
def moments(ctx: Context) -> list[Result]:
    mixture = seed_mixture(ctx)
    x = mixture.sample((ctx.samples,))
    results = [
        mean_result("mixture.moments[1-D].mean", x, mixture.mean),
        mean_result("mixture.moments[1-D].variance", (x - mixture.mean) ** 2, mixture.variance),
    ]
    planar = GaussianMixture.isotropic(
        means=ctx.tensor([[0.0, 2.0], [1.5, -1.0], [-2.0, 0.5]]),
        stds=ctx.tensor([0.5, 0.8, 0.3]),
        logits=ctx.tensor([0.0, 1.0, -1.0]),
    )
    y = planar.sample((ctx.samples,))
    results += moment_results("mixture.moments[2-D]", y, planar.mean, planar.covariance_matrix)
    return results
