"""The central limit theorem, checked against the exact law of a standardized sum.

For X_i ~ Exponential(1) the sum S_n ~ Gamma(n, 1) exactly, so the standardized sum
Z_n = (S_n - n) / sqrt(n) has P(Z_n <= c) = P(n, n + c sqrt(n)) (the regularized lower
incomplete gamma function, from mpmath). These probabilities approach Phi(c) as n grows; the
Monte Carlo frequencies from ``gausslab.clt.standardized_sums`` must match them at every n.
"""

from __future__ import annotations

import math

import mpmath
import torch
from torch.distributions import Exponential

from gausslab.clt import standardized_sums
from gausslab.verify.registry import Context, Result, check, mean_result

SIZES = (1, 8, 64)
LEVELS = (-0.5, 1.0)


@check(
    "clt.exponential_sums",
    "Z_n = (S_n - n) / sqrt(n), X_i ~ Exp(1): P(Z_n <= c) = gammainc(n, n + c sqrt(n)) -> Phi(c); "
    "E[Z_n] = 0, E[Z_n^2] = 1",
)
def exponential_sums(ctx: Context) -> list[Result]:
    rate = torch.ones((), dtype=ctx.dtype, device=ctx.device)
    generator = torch.Generator(ctx.device).manual_seed(torch.initial_seed())
    results = []
    for n in SIZES:
        z = standardized_sums(Exponential(rate), n, ctx.samples, generator=generator)
        for c in LEVELS:
            exact = mpmath.gammainc(n, 0, n + c * math.sqrt(n), regularized=True)
            draws = (z <= c).double()
            results.append(mean_result(f"clt.exponential_sums[n={n}].P(Z<={c:g})", draws, exact))
        results.append(mean_result(f"clt.exponential_sums[n={n}].E[Z^2]", z * z, 1.0))
    return results
