"""Maximum entropy: among all laws with a given variance, the Gaussian has the largest
differential entropy.

    H(p) = -int p(x) log p(x) dx,        H(N(mu, sigma^2)) = 1/2 log(2 pi e sigma^2)

For any p with mean mu and variance sigma^2, and q = N(mu, sigma^2) its moment-matched Gaussian,
log q(x) = -1/2 log(2 pi sigma^2) - (x - mu)^2 / (2 sigma^2) is a quadratic, so E_p[log q]
depends on p only through mu and sigma^2 and equals E_q[log q] = -H(q). Hence

    KL(p || q) = E_p[log p] - E_p[log q] = H(q) - H(p) >= 0,

with equality only for p = q: no law with variance sigma^2 has more entropy than the Gaussian.

``same_variance(family, variance, loc=..., shape=...)`` builds a law of a named family
(``FAMILIES``) with the given mean and variance; ``differential_entropy`` is its closed form
(torch's ``entropy()`` where torch has one; numerical quadrature for the Gaussian mixture, whose
entropy has no closed form); ``entropy_gap`` is H(q) - H(p) = KL(p || q); ``entropy_table``
tabulates every family at one variance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution, Laplace, StudentT, Uniform

from gausslab._validation import as_float_tensor, check_finite, check_positive
from gausslab.families import GeneralizedNormal, Logistic, Triangular
from gausslab.gaussian import Gaussian
from gausslab.mixture import GaussianMixture

__all__ = [
    "FAMILIES",
    "EntropyRow",
    "Family",
    "Shape",
    "density",
    "differential_entropy",
    "entropy_gap",
    "entropy_table",
    "gaussian_entropy",
    "same_variance",
]

QUADRATURE_POINTS = 2**14 + 1
"""Simpson nodes for entropies without a closed form (relative error ~1e-12 for the mixture)."""

QUADRATURE_WIDTH = 12.0
"""The quadrature covers every component's mean +- 12 standard deviations (beyond: < 1e-31)."""


@dataclass(frozen=True)
class Shape:
    """A family's shape parameter: valid where low < value < high (an open interval), with
    the range [slider_low, slider_high] a slider offers and a default."""

    name: str
    label: str
    low: float
    high: float
    slider_low: float
    slider_high: float
    default: float
    low_inclusive: bool = False

    def admits(self, value: float) -> bool:
        """Whether ``value`` lies in the valid interval."""
        above = value >= self.low if self.low_inclusive else value > self.low
        return above and value < self.high

    def interval(self) -> str:
        """The valid interval in words, e.g. "(2, inf)"."""
        return f"{'[' if self.low_inclusive else '('}{self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class Family:
    """A named family: ``build(loc, sigma, shape)`` returns its member with mean loc and
    standard deviation sigma (shape is None for families without a shape parameter)."""

    name: str
    label: str
    build: Callable[[Tensor, Tensor, float | None], Distribution]
    shape: Shape | None = None


def _student_t(loc: Tensor, sigma: Tensor, nu: float | None) -> Distribution:
    # Var = s^2 nu / (nu - 2)  ->  s = sigma sqrt((nu - 2) / nu)
    return StudentT(torch.full_like(loc, nu), loc, sigma * math.sqrt((nu - 2) / nu))


def _generalized_normal(loc: Tensor, sigma: Tensor, beta: float | None) -> Distribution:
    # Var = a^2 Gamma(3/beta) / Gamma(1/beta)  ->  a = sigma sqrt(Gamma(1/beta) / Gamma(3/beta))
    scale = sigma * math.exp(0.5 * (math.lgamma(1 / beta) - math.lgamma(3 / beta)))
    return GeneralizedNormal(loc, scale, torch.full_like(loc, beta))


def _mixture(loc: Tensor, sigma: Tensor, separation: float | None) -> Distribution:
    # 1/2 N(loc - d sigma, (1 - d^2) sigma^2) + 1/2 N(loc + d sigma, ...): Var = sigma^2
    offsets = torch.tensor([-separation, separation], dtype=loc.dtype, device=loc.device)
    means = loc[..., None] + sigma[..., None] * offsets
    stds = (sigma * math.sqrt(1 - separation**2))[..., None].expand_as(means)
    return GaussianMixture.univariate(torch.full_like(means, 0.5), means, stds)


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("gaussian", "Gaussian", lambda loc, sigma, _: Gaussian.univariate(loc, sigma)),
        Family(
            "uniform",
            "uniform",
            lambda loc, sigma, _: Uniform(loc - math.sqrt(3) * sigma, loc + math.sqrt(3) * sigma),
        ),
        Family(
            "triangular",
            "triangular",
            lambda loc, sigma, _: Triangular(loc, math.sqrt(6) * sigma),
        ),
        Family("laplace", "Laplace", lambda loc, sigma, _: Laplace(loc, sigma / math.sqrt(2))),
        Family(
            "logistic",
            "logistic",
            lambda loc, sigma, _: Logistic(loc, sigma * math.sqrt(3) / math.pi),
        ),
        Family(
            "student_t",
            "Student-t",
            _student_t,
            Shape("nu", "degrees of freedom ν", 2.0, math.inf, 2.1, 30.0, 5.0),
        ),
        Family(
            "generalized_normal",
            "generalized normal",
            _generalized_normal,
            Shape("beta", "shape β (2 is the Gaussian)", 0.0, math.inf, 0.5, 8.0, 4.0),
        ),
        Family(
            "mixture",
            "two-component mixture",
            _mixture,
            Shape("separation", "separation δ (means ±δσ)", 0.0, 1.0, 0.0, 0.99, 0.8, True),
        ),
    )
}
"""The families compared, by name; each member is symmetric about its mean."""


def _shape_value(family: Family, shape: Any) -> float | None:
    spec = family.shape
    if spec is None:
        if shape is not None:
            raise ValueError(f"family {family.name!r} has no shape parameter, got shape={shape!r}")
        return None
    if shape is None:
        return spec.default
    if isinstance(shape, bool) or not isinstance(shape, int | float):
        raise TypeError(f"{spec.name} must be a real number, got {shape!r}")
    value = float(shape)
    if not spec.admits(value):
        raise ValueError(
            f"{spec.name} of the {family.label} must lie in {spec.interval()}, got {value:g}"
        )
    return value


def same_variance(
    family: str, variance: Any = 1.0, *, loc: Any = 0.0, shape: Any = None
) -> Distribution:
    """The member of ``family`` (a key of ``FAMILIES``) with mean ``loc`` and ``variance``.

        uniform             U(loc - sqrt(3) sigma, loc + sqrt(3) sigma)
        triangular          on loc +- sqrt(6) sigma
        laplace             Laplace(loc, sigma / sqrt(2))
        logistic            Logistic(loc, sqrt(3) sigma / pi)
        student_t           t_nu(loc, sigma sqrt((nu - 2) / nu)),                 nu > 2
        generalized_normal  GN(loc, sigma sqrt(Gamma(1/beta) / Gamma(3/beta)), beta),  beta > 0
        mixture             1/2 N(loc - d sigma, (1 - d^2) sigma^2) + 1/2 N(loc + d sigma, ...),
                            0 <= d < 1
        gaussian            N(loc, sigma^2)

    ``shape`` is the family's shape parameter (its default when None). ``variance`` and
    ``loc`` may be tensors (they broadcast; the result keeps their dtype and device).
    """
    if not isinstance(family, str) or family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {sorted(FAMILIES)}")
    spec = FAMILIES[family]
    return _build(spec, variance, loc, _shape_value(spec, shape))


def _build(family: Family, variance: Any, loc: Any, shape: float | None) -> Distribution:
    variance = as_float_tensor(variance, "variance")
    check_positive(variance, "variance")
    loc = as_float_tensor(loc, "loc", like=variance)
    check_finite(loc, "loc")
    loc, variance = torch.broadcast_tensors(loc, variance.to(loc.dtype))
    return family.build(loc, variance.sqrt(), shape)


def gaussian_entropy(variance: Any) -> Tensor:
    """H(N(mu, sigma^2)) = 1/2 log(2 pi e sigma^2), the largest entropy at this variance."""
    variance = as_float_tensor(variance, "variance")
    check_positive(variance, "variance")
    return 0.5 * (math.log(2 * math.pi * math.e) + variance.log())


def _quadrature_entropy(mixture: GaussianMixture) -> Tensor:
    """-int p log p by Simpson's rule over the components' mean +- 12 standard deviations."""
    means, stds = mixture.components.mean, mixture.components.stddev
    low = (means - QUADRATURE_WIDTH * stds).amin(-1)
    high = (means + QUADRATURE_WIDTH * stds).amax(-1)
    fraction = torch.linspace(0, 1, QUADRATURE_POINTS, dtype=means.dtype, device=means.device)
    x = low + (high - low) * fraction[:, *([None] * low.dim())]
    log_p = mixture.log_prob(x)
    integrand = -log_p.exp() * log_p
    weights = torch.ones(QUADRATURE_POINTS, dtype=means.dtype, device=means.device)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    step = (high - low) / (QUADRATURE_POINTS - 1)
    return step / 3 * torch.tensordot(weights, integrand, dims=1)


def differential_entropy(dist: Distribution) -> Tensor:
    """H(p) = -E_p[log p(X)]: the closed form ``dist.entropy()``, or Simpson quadrature of
    -p log p for a univariate ``GaussianMixture`` (which has no closed form)."""
    if not isinstance(dist, Distribution):
        raise TypeError(f"dist must be a torch.distributions.Distribution, got {type(dist)}")
    if isinstance(dist, GaussianMixture):
        if dist.event_shape != torch.Size():
            raise ValueError(
                "the entropy of a mixture is computed by 1-D quadrature: dist must have scalar "
                f"events, got event_shape {tuple(dist.event_shape)}"
            )
        return _quadrature_entropy(dist)
    return dist.entropy()


def density(dist: Distribution, x: Tensor) -> Tensor:
    """p(x) for plotting: exp(log_prob) inside the support and 0 outside it (where torch's
    log_prob refuses the point)."""
    inside = dist.support.check(x)
    safe = torch.where(inside, x, dist.mean.expand_as(x).to(x.dtype))
    return torch.where(inside, dist.log_prob(safe).exp(), torch.zeros_like(x))


def entropy_gap(dist: Distribution) -> Tensor:
    """H(q) - H(p) = KL(p || q) >= 0, with q = N(mean of p, variance of p).

    Zero only for a Gaussian: the Gaussian is the maximum-entropy law at fixed variance.
    """
    return gaussian_entropy(dist.variance) - differential_entropy(dist)


@dataclass(frozen=True)
class EntropyRow:
    """One family at one variance: the law, its entropy and its gap to the Gaussian's."""

    family: str
    label: str
    shape: float | None
    law: Distribution
    entropy: float
    gap: float


def entropy_table(
    variance: float = 1.0, shapes: dict[str, float] | None = None
) -> list[EntropyRow]:
    """Every family of ``FAMILIES`` at one variance (shape parameters from ``shapes``, else
    their defaults), with H(p) and H(N) - H(p), in the order of ``FAMILIES``."""
    shapes = shapes or {}
    unknown = sorted(set(shapes) - {n for n, f in FAMILIES.items() if f.shape is not None})
    if unknown:
        raise ValueError(f"shapes names families without a shape parameter: {unknown}")
    rows = []
    variance = torch.tensor(variance, dtype=torch.float64)
    for name, family in FAMILIES.items():
        value = _shape_value(family, shapes.get(name))
        dist = _build(family, variance, 0.0, value)
        entropy = float(differential_entropy(dist))
        gap = float(entropy_gap(dist))
        rows.append(EntropyRow(name, family.label, value, dist, entropy, gap))
    return rows
