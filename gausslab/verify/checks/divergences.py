"""KL divergence between Gaussians, closed form against Monte Carlo (the seed's exercise 1).

KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2
                               = E_{x ~ p}[log p(x) - log q(x)]
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gausslab import functional
from gausslab.verify.registry import Context, Result, check, mean_result

PAIRS = ((0.0, 1.0, 1.0, 2.0), (2.0, 0.5, 0.0, 1.0), (1.0, 1.0, 1.3, 0.8))
"""(m1, s1, m2, s2) for KL(N(m1, s1^2) || N(m2, s2^2))."""


def _log_density(x: Tensor, mean: float, std: float) -> Tensor:
    """The seed's formula, written out: -log(2 pi s^2)/2 - (x - m)^2 / (2 s^2)."""
    return -0.5 * math.log(2 * math.pi * std**2) - (x - mean) ** 2 / (2 * std**2)


@check(
    "exercise1.kl_univariate",
    "KL(N(m1, s1^2) || N(m2, s2^2)) in closed form vs E_p[log p(X) - log q(X)]",
)
def kl_univariate(ctx: Context) -> list[Result]:
    results = []
    for m1, s1, m2, s2 in PAIRS:
        exact = functional.normal_kl(ctx.tensor(m1), ctx.tensor(s1), ctx.tensor(m2), ctx.tensor(s2))
        x = m1 + s1 * torch.randn(ctx.samples, dtype=ctx.dtype, device=ctx.device)
        draws = _log_density(x, m1, s1) - _log_density(x, m2, s2)
        label = f"N({m1:g},{s1:g}^2)||N({m2:g},{s2:g}^2)"
        results.append(mean_result(f"exercise1.kl_univariate[{label}]", draws, exact))
    return results
