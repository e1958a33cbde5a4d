"""Maximum entropy: the Gaussian has the largest entropy among laws of a given variance.

For each family of ``gausslab.maxent`` at variance sigma^2 (several shape parameters), against
densities written out here in mpmath and integrated by quadrature at 16 digits:

    Var = int x^2 p(x) dx = sigma^2                     (same_variance builds what it says)
    H(p) = -int p log p                                 (differential_entropy)
    H(N(0, sigma^2)) - H(p) > 0                         (entropy_gap; no family reaches it)
    KL(p || N(0, sigma^2)) = int p log(p / q) = H(N) - H(p)   (the identity behind the theorem)

and by Monte Carlo with the samplers gausslab adds: E[-log p(X)] = H(p), E[X^2] = sigma^2.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
from torch.distributions import Distribution

from gausslab import maxent
from gausslab.families import GeneralizedNormal, Logistic, Triangular
from gausslab.mixture import GaussianMixture
from gausslab.verify.registry import (
    Context,
    Result,
    check,
    mean_result,
    reference_result,
    worst_reference,
)

VARIANCE = 2.0
CASES = (
    ("uniform", None),
    ("triangular", None),
    ("laplace", None),
    ("logistic", None),
    ("student_t", 3.0),
    ("student_t", 12.0),
    ("generalized_normal", 0.5),
    ("generalized_normal", 4.0),
    ("mixture", 0.5),
    ("mixture", 0.95),
)
"""(family, shape) pairs compared with the Gaussian of the same variance."""

DIGITS = 16
ENTROPY_RTOL = 1e-10
"""Relative tolerance on entropies and KL (the mixture's Simpson quadrature reaches ~1e-13)."""


def _label(family: str, shape: float | None) -> str:
    return family if shape is None else f"{family},{maxent.FAMILIES[family].shape.name}={shape:g}"


def _mp(value: object) -> mpmath.mpf:
    return mpmath.mpf(float(value))


def _normal_pdf(x: mpmath.mpf, mean: mpmath.mpf, std: mpmath.mpf) -> mpmath.mpf:
    return mpmath.exp(-(((x - mean) / std) ** 2) / 2) / (std * mpmath.sqrt(2 * mpmath.pi))


def mp_density(dist: Distribution) -> tuple[Callable[[mpmath.mpf], mpmath.mpf], list]:
    """The density of a ``same_variance`` law written out in mpmath (from its parameters), and
    the points splitting its support into smooth pieces for quadrature."""
    name = type(dist).__name__
    inf = mpmath.inf
    if name == "Uniform":
        low, high = _mp(dist.low), _mp(dist.high)
        return (lambda x: 1 / (high - low)), [low, high]
    if name == "Triangular":
        w = _mp(dist.half_width)
        return (lambda x: (w - abs(x)) / w**2), [-w, 0, w]
    if name == "Laplace":
        b = _mp(dist.scale)
        return (lambda x: mpmath.exp(-abs(x) / b) / (2 * b)), [-inf, 0, inf]
    if name == "Logistic":
        s = _mp(dist.scale)
        return (lambda x: mpmath.sech(x / (2 * s)) ** 2 / (4 * s)), [-inf, 0, inf]
    if name == "StudentT":
        nu, s = _mp(dist.df), _mp(dist.scale)
        const = mpmath.gamma((nu + 1) / 2) / (
            mpmath.sqrt(nu * mpmath.pi) * s * mpmath.gamma(nu / 2)
        )
        return (lambda x: const * (1 + (x / s) ** 2 / nu) ** (-(nu + 1) / 2)), [-inf, 0, inf]
    if name == "GeneralizedNormal":
        a, beta = _mp(dist.scale), _mp(dist.beta)
        const = beta / (2 * a * mpmath.gamma(1 / beta))
        return (lambda x: const * mpmath.exp(-((abs(x) / a) ** beta))), [-inf, 0, inf]
    if name == "GaussianMixture":
        means = [_mp(m) for m in dist.components.mean.tolist()]
        stds = [_mp(s) for s in dist.components.stddev.tolist()]
        return (
            lambda x: sum(_normal_pdf(x, m, s) for m, s in zip(means, stds, strict=True)) / 2
        ), [-inf, *means, inf]
    raise TypeError(f"no mpmath density for {name}")  # pragma: no cover - a new family


def _p_log_ratio(p: mpmath.mpf, q: mpmath.mpf) -> mpmath.mpf:
    """p log(p / q), with 0 log 0 = 0."""
    return p * mpmath.log(p / q) if p > 0 else mpmath.mpf(0)


def mp_variance_entropy(dist: Distribution) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(int x^2 p, -int p log p) of a mean-zero law by mpmath quadrature."""
    density, points = mp_density(dist)
    variance = mpmath.quad(lambda x: x**2 * density(x), points)
    entropy = -mpmath.quad(lambda x: _p_log_ratio(density(x), 1), points)
    return variance, entropy


def mp_kl_to_gaussian(dist: Distribution, variance: float) -> mpmath.mpf:
    """KL(p || N(0, variance)) = int p log(p / q) by mpmath quadrature."""
    density, points = mp_density(dist)
    std = mpmath.sqrt(_mp(variance))
    return mpmath.quad(lambda x: _p_log_ratio(density(x), _normal_pdf(x, 0, std)), points)


def _laws(ctx: Context) -> list[tuple[str, Distribution]]:
    variance = ctx.tensor(VARIANCE)
    return [
        (_label(family, shape), maxent.same_variance(family, variance, shape=shape))
        for family, shape in CASES
    ]


@check(
    "maxent.entropy",
    "H(p) of uniform, triangular, Laplace, logistic, Student-t, generalized normal and mixture "
    "laws of variance 2 vs mpmath quadrature of -p log p; each below H(N(0, 2)) = "
    "1/2 log(4 pi e)",
)
def entropy(ctx: Context) -> list[Result]:
    gaussian = 0.5 * math.log(2 * math.pi * math.e * VARIANCE)
    results = []
    variances = []
    at_or_above = 0
    with mpmath.workdps(DIGITS):
        for label, dist in _laws(ctx):
            variance, exact = mp_variance_entropy(dist)
            # the law's own Var and int x^2 p of its density are both the variance asked for
            variances += [(dist.variance, VARIANCE), (variance, VARIANCE)]
            value = maxent.differential_entropy(dist)
            tolerance = ENTROPY_RTOL * max(abs(float(exact)), 1.0)
            results.append(reference_result(f"maxent.entropy[{label}]", value, exact, tolerance))
            gap = maxent.entropy_gap(dist)
            results.append(
                reference_result(f"maxent.gap[{label}]", gap, gaussian - exact, tolerance)
            )
            at_or_above += bool(gap <= 0)
    results.append(worst_reference("maxent.variance", variances, rtol=1e-10))
    results.append(
        reference_result("maxent.laws_at_or_above_gaussian_entropy", at_or_above, 0, 0.0)
    )
    return results


@check(
    "maxent.kl_identity",
    "KL(p || N(mean_p, var_p)) by mpmath quadrature of p log(p / q) equals "
    "H(N) - H(p) = entropy_gap(p) for every family",
)
def kl_identity(ctx: Context) -> list[Result]:
    results = []
    with mpmath.workdps(DIGITS):
        for label, dist in _laws(ctx):
            kl = mp_kl_to_gaussian(dist, VARIANCE)
            results.append(
                reference_result(
                    f"maxent.kl_identity[{label}]",
                    maxent.entropy_gap(dist),
                    kl,
                    ENTROPY_RTOL * max(float(kl), 1e-2),
                )
            )
    return results


@check(
    "maxent.monte_carlo",
    "draws of the samplers gausslab adds (triangular, logistic, generalized normal, mixture): "
    "E[-log p(X)] = H(p) and E[X^2] = Var",
)
def monte_carlo(ctx: Context) -> list[Result]:
    results = []
    for label, dist in _laws(ctx):
        if not isinstance(dist, Triangular | Logistic | GeneralizedNormal | GaussianMixture):
            continue  # torch's own samplers (uniform, Laplace, Student-t) are torch's to test
        x = dist.sample((ctx.samples,))
        entropy = maxent.differential_entropy(dist)
        results.append(mean_result(f"maxent.monte_carlo[{label}].H", -dist.log_prob(x), entropy))
        results.append(mean_result(f"maxent.monte_carlo[{label}].E[X^2]", x * x, VARIANCE))
    return results
