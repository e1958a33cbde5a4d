"""Multivariate Gaussian: log-density, Mahalanobis distance, principal axes, sampling.

log p(x) = -1/2 [d log(2 pi) + log|Sigma| + (x - mu)^T Sigma^{-1} (x - mu)]
d_M(x)^2 = (x - mu)^T Sigma^{-1} (x - mu) = sum_i (v_i^T (x - mu))^2 / lambda_i
"""

from __future__ import annotations

import mpmath
import numpy as np
import torch

from gausslab.gaussian import Gaussian
from gausslab.verify.registry import (
    Context,
    Result,
    check,
    moment_results,
    reference_result,
    worst_reference,
)

LOC = (0.5, -1.0, 2.0)
COVARIANCE = ((2.0, 0.6, -0.4), (0.6, 1.0, 0.3), (-0.4, 0.3, 0.5))
POINTS = ((0.0, 0.0, 0.0), (0.5, -1.0, 2.0), (3.0, 1.0, -2.0), (-4.0, 5.0, 6.0))
DIGITS = 50


def dense(ctx: Context) -> Gaussian:
    """N(LOC, COVARIANCE), a correlated 3-D Gaussian."""
    return Gaussian(ctx.tensor(LOC), ctx.tensor(COVARIANCE))


def _structures(ctx: Context) -> dict[str, tuple[Gaussian, list[list[float]]]]:
    """Each covariance structure with the covariance matrix it stands for."""
    loc = ctx.tensor(LOC)
    std = (1.5, 0.4, 2.0)
    return {
        "isotropic": (Gaussian.isotropic(loc, 0.7), np.diag([0.49] * 3).tolist()),
        "diagonal": (Gaussian.diagonal(loc, ctx.tensor(std)), np.diag(np.square(std)).tolist()),
        "dense": (dense(ctx), [list(row) for row in COVARIANCE]),
    }


def _mp_log_prob(x: tuple[float, ...], covariance: list[list[float]]) -> mpmath.mpf:
    sigma = mpmath.matrix(covariance)
    residual = mpmath.matrix([mpmath.mpf(a) - b for a, b in zip(x, LOC, strict=True)])
    quadratic = (residual.T * mpmath.lu_solve(sigma, residual))[0]
    d = len(LOC)
    return -(d * mpmath.log(2 * mpmath.pi) + mpmath.log(mpmath.det(sigma)) + quadratic) / 2


@check("mvn.log_prob", "log N(x; mu, Sigma) for isotropic, diagonal and dense Sigma vs mpmath")
def log_prob(ctx: Context) -> list[Result]:
    results = []
    with mpmath.workdps(DIGITS):
        for kind, (g, cov) in _structures(ctx).items():
            values = g.log_prob(ctx.tensor(POINTS)).tolist()
            pairs = [(v, _mp_log_prob(x, cov)) for v, x in zip(values, POINTS, strict=True)]
            results.append(worst_reference(f"mvn.log_prob[{kind}]", pairs, rtol=1e-12))
    return results


@check("mvn.mahalanobis", "d_M(x) = sqrt(sum_i (v_i^T (x - mu))^2 / lambda_i) (numpy eigh)")
def mahalanobis(ctx: Context) -> list[Result]:
    eigenvalues, eigenvectors = np.linalg.eigh(np.array(COVARIANCE))
    residual = np.array(POINTS) - np.array(LOC)
    reference = np.sqrt(((residual @ eigenvectors) ** 2 / eigenvalues).sum(axis=1))
    values = dense(ctx).mahalanobis(ctx.tensor(POINTS)).tolist()
    pairs = zip(values, reference.tolist(), strict=True)
    return [worst_reference("mvn.mahalanobis", pairs, rtol=1e-12, floor=1.0)]


@check("mvn.principal_axes", "eigenvalues (descending) and unit eigenvectors of Sigma (numpy)")
def principal_axes(ctx: Context) -> list[Result]:
    eigenvalues, eigenvectors = np.linalg.eigh(np.array(COVARIANCE))
    variances, directions = (t.cpu().numpy() for t in dense(ctx).principal_axes())
    results = [
        reference_result(f"mvn.principal_axes.variance[{i}]", v, ref, 1e-12)
        for i, (v, ref) in enumerate(zip(variances, eigenvalues[::-1], strict=True))
    ]
    # Eigenvectors are defined up to sign: |v_i . v_ref_i| = 1 for distinct eigenvalues.
    alignment = np.abs((directions * eigenvectors[:, ::-1]).sum(axis=0))
    results.append(
        reference_result("mvn.principal_axes.|v.v_ref|", alignment.min(), 1.0, tolerance=1e-10)
    )
    return results


@check("mvn.sampling", "samples of N(mu, Sigma) have mean mu and covariance Sigma")
def sampling(ctx: Context) -> list[Result]:
    g = dense(ctx)
    x = g.sample((ctx.samples,))
    return moment_results("mvn.sampling", x, ctx.tensor(LOC), ctx.tensor(COVARIANCE))


@check("mvn.whitening", "z = L^{-1} (x - mu) ~ N(0, I) for x ~ N(mu, Sigma)")
def whitening(ctx: Context) -> list[Result]:
    g = dense(ctx)
    noise = torch.randn(ctx.samples, 3, dtype=ctx.dtype, device=ctx.device)
    x = g.loc + noise @ torch.linalg.cholesky(ctx.tensor(COVARIANCE)).mT
    z = g.standardize(x)
    return moment_results("mvn.whitening", z, torch.zeros(3), torch.eye(3))
