"""Closure of Gaussians: affine maps, marginals, conditionals, products and sums.

A x + b ~ N(A mu + b, A Sigma A^T)
x_1 | x_2 = v ~ N(mu_1 + S_12 S_22^{-1} (v - mu_2), S_11 - S_12 S_22^{-1} S_21)
N(x; m_g, S_g) N(x; m_h, S_h) = Z N(x; m, S),  S^{-1} = S_g^{-1} + S_h^{-1},
    m = S (S_g^{-1} m_g + S_h^{-1} m_h),  Z = N(m_g; m_h, S_g + S_h)
X + Y ~ N(m_g + m_h, S_g + S_h) for independent X ~ g, Y ~ h
"""

from __future__ import annotations

import math

import mpmath
import torch

import gausslab
from gausslab.gaussian import Gaussian
from gausslab.verify.checks.multivariate import dense
from gausslab.verify.registry import (
    Context,
    Result,
    check,
    mean_result,
    mean_results,
    moment_results,
    reference_result,
)


def _pair(ctx: Context) -> tuple[Gaussian, Gaussian]:
    """Two overlapping, correlated 2-D Gaussians."""
    g = Gaussian(ctx.tensor([0.0, 1.0]), ctx.tensor([[1.0, 0.4], [0.4, 0.8]]))
    h = Gaussian(ctx.tensor([0.8, 0.2]), ctx.tensor([[0.6, -0.2], [-0.2, 1.5]]))
    return g, h


@check("algebra.affine", "y = A x + b ~ N(A mu + b, A Sigma A^T), A of shape (2, 3)")
def affine(ctx: Context) -> list[Result]:
    g = dense(ctx)
    A = ctx.tensor([[1.0, -2.0, 0.5], [0.3, 0.0, 1.5]])
    b = ctx.tensor([1.0, -1.0])
    law = g.affine(A, b)
    y = g.sample((ctx.samples,)) @ A.mT + b
    return moment_results("algebra.affine", y, law.mean, law.covariance_matrix)


@check("algebra.marginal", "x[idx] ~ N(mu[idx], Sigma[idx, idx]) for idx = [2, 0]")
def marginal(ctx: Context) -> list[Result]:
    g = dense(ctx)
    law = g.marginal([2, 0])
    x = g.sample((ctx.samples,))[:, [2, 0]]
    return moment_results("algebra.marginal", x, law.mean, law.covariance_matrix)


@check(
    "algebra.condition",
    "residual r = x_1 - E[x_1 | x_2] of joint samples: E[r] = 0, Cov(r) = Schur complement, "
    "E[r x_2] = 0",
)
def condition(ctx: Context) -> list[Result]:
    g = dense(ctx)
    x = g.sample((ctx.samples,))
    observed = x[:, [1]]
    conditional = g.condition([1], observed)  # one conditional law per sample
    residual = x[:, [0, 2]] - conditional.mean
    schur = conditional.covariance_matrix[0]
    results = moment_results("algebra.condition.residual", residual, torch.zeros(2), schur)
    uncorrelated = residual * (observed - g.loc[1])
    results += mean_results("algebra.condition.E[r*x2]", uncorrelated, torch.zeros(2))
    return results


def _window(samples: int) -> float:
    """Half-width h of the slab |x2 - 1.5| < h used to condition joint samples.

    Inside the slab E[x1] is biased by about 0.7 * 1.5 * h^2 / 3 = 0.35 h^2 while its standard
    error is sqrt(0.51 / n_w) with n_w = 2 h phi(1.5) samples drawn: h is chosen so that the bias
    is 5% of the standard error, which leaves the z-test calibrated.
    """
    phi = math.exp(-(1.5**2) / 2) / math.sqrt(2 * math.pi)
    return (0.05 / 0.35 * math.sqrt(0.51 / (2 * phi * samples))) ** 0.4


@check(
    "exercise2.conditional",
    "mu = 0, Sigma = [[1, 0.7], [0.7, 1]]: p(x1 | x2 = 1.5) = N(0.7 * 1.5, 1 - 0.7^2) = "
    "N(1.05, 0.51), in closed form, from conditional samples and from joint samples",
)
def exercise2(ctx: Context) -> list[Result]:
    mean, variance = 1.05, 0.51  # mu_1 + S_12 / S_22 * 1.5 and S_11 - S_12^2 / S_22
    g = Gaussian(ctx.tensor([0.0, 0.0]), ctx.tensor([[1.0, 0.7], [0.7, 1.0]]))
    law = g.condition([1], ctx.tensor([1.5]))
    results = [
        reference_result("exercise2.closed_form.mean", law.mean[0], mean, 1e-12),
        reference_result("exercise2.closed_form.variance", law.variance[0], variance, 1e-12),
    ]
    x1 = law.sample((ctx.samples,))[:, 0]
    results.append(mean_result("exercise2.conditional_samples.mean", x1, mean))
    results.append(
        mean_result("exercise2.conditional_samples.variance", (x1 - mean) ** 2, variance)
    )
    joint = g.sample((ctx.samples,))
    slab = joint[(joint[:, 1] - 1.5).abs() < _window(ctx.samples), 0]
    results.append(mean_result("exercise2.joint_samples_near_x2=1.5.mean", slab, mean))
    results.append(
        mean_result("exercise2.joint_samples_near_x2=1.5.variance", (slab - mean) ** 2, variance)
    )
    return results


@check(
    "algebra.product",
    "g(x) h(x) = Z N(x; m, S) by importance sampling X ~ g: E[h(X)] = Z, "
    "E[h(X)(X - m)] = 0, E[h(X)(X - m)(X - m)^T] = Z S",
)
def product(ctx: Context) -> list[Result]:
    g, h = _pair(ctx)
    law, log_normalizer = gausslab.product(g, h)
    z = log_normalizer.exp()
    x = g.sample((ctx.samples,))
    weight = h.log_prob(x).exp()
    centered = x - law.mean
    results = [mean_result("algebra.product.Z", weight, z)]
    results += mean_results(
        "algebra.product.E[h(X)(X-m)]", weight[:, None] * centered, torch.zeros(2)
    )
    for i in range(2):
        for j in range(i, 2):
            draws = weight * centered[:, i] * centered[:, j]
            exact = z * law.covariance_matrix[i, j]
            results.append(mean_result(f"algebra.product.Z*S[{i},{j}]", draws, exact))
    return results


@check(
    "algebra.product_univariate",
    "1/s^2 = 1/s1^2 + 1/s2^2, m = s^2 (m1/s1^2 + m2/s2^2), Z = N(m1; m2, s1^2 + s2^2) (mpmath)",
)
def product_univariate(ctx: Context) -> list[Result]:
    m1, s1, m2, s2 = 1.0, 0.5, -2.0, 1.5
    law, log_normalizer = gausslab.product(
        Gaussian.univariate(ctx.tensor(m1), ctx.tensor(s1)),
        Gaussian.univariate(ctx.tensor(m2), ctx.tensor(s2)),
    )
    with mpmath.workdps(50):
        precision = 1 / mpmath.mpf(s1) ** 2 + 1 / mpmath.mpf(s2) ** 2
        mean = (m1 / mpmath.mpf(s1) ** 2 + m2 / mpmath.mpf(s2) ** 2) / precision
        total = mpmath.mpf(s1) ** 2 + mpmath.mpf(s2) ** 2
        log_z = -mpmath.log(2 * mpmath.pi * total) / 2 - (m1 - mpmath.mpf(m2)) ** 2 / (2 * total)
        return [
            reference_result("algebra.product_univariate.mean", law.mean, mean, 1e-14),
            reference_result(
                "algebra.product_univariate.variance", law.variance, 1 / precision, 1e-14
            ),
            reference_result("algebra.product_univariate.log_Z", log_normalizer, log_z, 1e-13),
        ]


@check("algebra.convolve", "X + Y ~ N(m_g + m_h, S_g + S_h) for independent X ~ g, Y ~ h")
def convolve(ctx: Context) -> list[Result]:
    g, h = _pair(ctx)
    law = g.convolve(h)
    total = g.sample((ctx.samples,)) + h.sample((ctx.samples,))
    return moment_results("algebra.convolve", total, law.mean, law.covariance_matrix)
