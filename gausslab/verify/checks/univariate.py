"""Univariate normal: normalization, log-density, cdf and standardization.

p(x) = exp(-(x - mu)^2 / (2 sigma^2)) / sqrt(2 pi sigma^2),   Z = (X - mu) / sigma ~ N(0, 1)
"""

from __future__ import annotations

import mpmath

from gausslab import functional
from gausslab.gaussian import Gaussian
from gausslab.verify.registry import (
    Context,
    Result,
    check,
    mean_result,
    reference_result,
    worst_reference,
)

PARAMETERS = ((0.0, 1.0), (2.0, 0.5), (-3.0, 4.0))
"""(mu, sigma) pairs the deterministic checks run over."""

Z_POINTS = (-30.0, -5.0, -1.0, 0.0, 0.7, 3.0, 8.0)
"""Standardized points z = (x - mu) / sigma, tails included."""

DIGITS = 50


@check("univariate.normalization", "integral of N(x; mu, sigma^2) dx = 1 (mpmath.quad)")
def normalization(ctx: Context) -> list[Result]:
    results = []
    for mu, sigma in PARAMETERS:
        g = Gaussian.univariate(ctx.tensor(mu), ctx.tensor(sigma))

        def density(x: mpmath.mpf, g: Gaussian = g) -> float:
            return float(g.prob(ctx.tensor(float(x))))

        nodes = [-mpmath.inf, mu - 3 * sigma, mu, mu + 3 * sigma, mpmath.inf]
        area = mpmath.quad(density, nodes)
        name = f"univariate.normalization[mu={mu:g},sigma={sigma:g}]"
        results.append(reference_result(name, area, 1.0, tolerance=1e-12))
    return results


@check("univariate.log_prob", "log p(x) = -log(2 pi sigma^2)/2 - (x - mu)^2/(2 sigma^2) vs mpmath")
def log_prob(ctx: Context) -> list[Result]:
    results = []
    with mpmath.workdps(DIGITS):
        for mu, sigma in PARAMETERS:
            g = Gaussian.univariate(ctx.tensor(mu), ctx.tensor(sigma))
            pairs = []
            for z in Z_POINTS:
                x = mu + z * sigma
                m = mpmath.mpf(x) - mu
                exact = -mpmath.log(2 * mpmath.pi * mpmath.mpf(sigma) ** 2) / 2 - m**2 / (
                    2 * mpmath.mpf(sigma) ** 2
                )
                pairs.append((float(g.log_prob(ctx.tensor(x))), exact))
            results.append(
                worst_reference(f"univariate.log_prob[mu={mu:g},sigma={sigma:g}]", pairs, 1e-13)
            )
    return results


@check("univariate.cdf", "Phi(z) and log Phi(z) far into both tails vs mpmath.ncdf")
def cdf(ctx: Context) -> list[Result]:
    with mpmath.workdps(DIGITS):
        z = ctx.tensor(Z_POINTS)
        references = [mpmath.ncdf(mpmath.mpf(v)) for v in Z_POINTS]
        cdf_pairs = list(zip(functional.normal_cdf(z).tolist(), references, strict=True))
        log_pairs = list(
            zip(functional.normal_log_cdf(z).tolist(), map(mpmath.log, references), strict=True)
        )
        return [
            worst_reference("univariate.cdf", cdf_pairs, 1e-12),
            worst_reference("univariate.log_cdf", log_pairs, 1e-12),
        ]


@check("univariate.standardization", "Z = (X - mu) / sigma ~ N(0, 1) for X ~ N(mu, sigma^2)")
def standardization(ctx: Context) -> list[Result]:
    mu, sigma = 2.0, 0.5
    x = Gaussian.univariate(ctx.tensor(mu), ctx.tensor(sigma)).sample((ctx.samples,))
    z = functional.standardize(x, mu, sigma)
    return [
        mean_result("univariate.standardization.E[Z]", z, 0.0),
        mean_result("univariate.standardization.E[Z^2]", z * z, 1.0),
        mean_result("univariate.standardization.P(Z<=1)", (z <= 1).double(), mpmath.ncdf(1)),
    ]
