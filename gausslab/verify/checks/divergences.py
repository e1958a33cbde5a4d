"""KL divergence between Gaussians, closed form against Monte Carlo (the seed's exercise 1).

KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2
                               = E_{x ~ p}[log p(x) - log q(x)]
"""

from __future__ import annotations

import math

import mpmath
import torch
from torch import Tensor

import gausslab
from gausslab.gaussian import Gaussian
from gausslab.verify.checks.multivariate import dense
from gausslab.verify.registry import Context, Result, check, mean_result, reference_result

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
        p = Gaussian.univariate(ctx.tensor(m1), ctx.tensor(s1))
        exact = gausslab.kl_divergence(p, Gaussian.univariate(ctx.tensor(m2), ctx.tensor(s2)))
        x = m1 + s1 * torch.randn(ctx.samples, dtype=ctx.dtype, device=ctx.device)
        draws = _log_density(x, m1, s1) - _log_density(x, m2, s2)
        label = f"N({m1:g},{s1:g}^2)||N({m2:g},{s2:g}^2)"
        results.append(mean_result(f"exercise1.kl_univariate[{label}]", draws, exact))
    return results


def _others(ctx: Context) -> dict[str, Gaussian]:
    """Gaussians to compare with the dense N(LOC, COVARIANCE), one per structure."""
    return {
        "isotropic": Gaussian.isotropic(ctx.tensor([0.0, -0.5, 1.5]), 1.2),
        "diagonal": Gaussian.diagonal(ctx.tensor([1.0, 0.0, 2.5]), ctx.tensor([1.5, 0.8, 0.6])),
        "dense": Gaussian(
            ctx.tensor([0.0, -1.0, 1.0]),
            ctx.tensor([[1.0, -0.3, 0.2], [-0.3, 2.0, 0.5], [0.2, 0.5, 1.2]]),
        ),
    }


@check("divergences.kl_multivariate", "KL(p || q) for 3-D Gaussians vs E_p[log p(X) - log q(X)]")
def kl_multivariate(ctx: Context) -> list[Result]:
    p = dense(ctx)
    x = p.sample((ctx.samples,))
    return [
        mean_result(
            f"divergences.kl_multivariate[dense||{kind}]",
            p.log_prob(x) - q.log_prob(x),
            gausslab.kl_divergence(p, q),
        )
        for kind, q in _others(ctx).items()
    ]


def _mp_wasserstein2(p: Gaussian, q: Gaussian) -> mpmath.mpf:
    """W2 from the covariance matrices with 50-digit matrix square roots."""
    sp = mpmath.matrix(p.covariance_matrix.tolist())
    sq = mpmath.matrix(q.covariance_matrix.tolist())
    root = mpmath.sqrtm(sp)
    cross = mpmath.sqrtm(root * sq * root)
    trace = sum(sp[i, i] + sq[i, i] - 2 * cross[i, i] for i in range(sp.rows))
    mean = sum(
        (mpmath.mpf(a) - b) ** 2 for a, b in zip(p.loc.tolist(), q.loc.tolist(), strict=True)
    )
    return mpmath.sqrt(mean + trace)


@check("divergences.wasserstein2", "W2 between 3-D Gaussians of each structure vs mpmath.sqrtm")
def wasserstein2(ctx: Context) -> list[Result]:
    p = dense(ctx)
    with mpmath.workdps(50):
        return [
            reference_result(
                f"divergences.wasserstein2[dense,{kind}]",
                gausslab.wasserstein2(p, q),
                exact := _mp_wasserstein2(p, q),
                tolerance=1e-12 * float(exact),
            )
            for kind, q in _others(ctx).items()
        ]
