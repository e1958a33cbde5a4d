"""The central limit theorem, demonstrated on any starting distribution.

If X_1, ..., X_n are i.i.d. with mean mu and finite variance sigma^2, then

    Z_n = (S_n - n mu) / (sigma sqrt(n)) = (mean(X) - mu) / (sigma / sqrt(n))  ->  N(0, 1)

in distribution as n -> infinity.  This module draws Z_n for any scalar
``torch.distributions.Distribution`` (``standardized_sums``), measures how far its
empirical law is from N(0, 1) (``ks_distance``), bounds how far the exact law can be
(``berry_esseen_bound``), and tabulates both against n (``convergence``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import (
    Bernoulli,
    Beta,
    Distribution,
    Exponential,
    Gamma,
    Normal,
    Poisson,
    Uniform,
)

from gausslab._validation import check_count
from gausslab.functional import normal_cdf

__all__ = [
    "BERRY_ESSEEN_C",
    "KS_CRITICAL_95",
    "START_DISTRIBUTIONS",
    "CLTPoint",
    "berry_esseen_bound",
    "convergence",
    "ks_critical",
    "ks_distance",
    "standardized_sums",
    "start_distribution",
]

BERRY_ESSEEN_C = 0.4748
"""Berry–Esseen constant (Shevtsova 2011): sup|F_n - Phi| <= C rho/(sigma^3 sqrt(n))."""

KS_CRITICAL_95 = 1.358
"""95% quantile of the Kolmogorov distribution: P(sqrt(N) D_N > 1.358) -> 0.05 under H0."""


def ks_critical(num_samples: int, alpha: float = 0.05) -> float:
    """The KS distance that N i.i.d. draws of the true law exceed with probability <= alpha.

        P(sup_x |F_N(x) - F(x)| > eps) <= 2 exp(-2 N eps^2)   (Dvoretzky-Kiefer-Wolfowitz,
        eps = sqrt(log(2 / alpha) / (2 N))                      with Massart's constant)

    holds for every N and every continuous F, so a test that rejects when the distance
    exceeds eps has level at most alpha. At alpha = 0.05 it is 1.358 / sqrt(N), the
    asymptotic Kolmogorov quantile (``KS_CRITICAL_95``).
    """
    num_samples = check_count("num_samples", num_samples, 1)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * num_samples))


_CHUNK_ELEMENTS = 2**22
"""Draws per chunk: 16 MiB in float32, 32 MiB in float64 (plus the sampler's temporaries)."""


def _check_distribution(dist: object) -> Distribution:
    if not isinstance(dist, Distribution):
        raise TypeError(
            f"dist must be a torch.distributions.Distribution, got {type(dist).__name__}"
        )
    if dist.event_shape != torch.Size() or dist.batch_shape != torch.Size():
        raise ValueError(
            f"dist must have scalar events and no batch dimensions (event_shape () and "
            f"batch_shape ()), got {dist!r} with event_shape {tuple(dist.event_shape)} and "
            f"batch_shape {tuple(dist.batch_shape)}"
        )
    return dist


def _scalar(name: str, value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a real scalar, got {value!r}") from None


def _moments(dist: Distribution, mean: object, variance: object) -> tuple[float, float]:
    """(mu, sigma^2) from the arguments or else from dist.mean / dist.variance, checked."""
    try:
        mu = _scalar("mean", dist.mean if mean is None else mean)
        var = _scalar("variance", dist.variance if variance is None else variance)
    except NotImplementedError:
        raise ValueError(
            f"{dist!r} does not implement mean/variance; pass mean= and variance= explicitly"
        ) from None
    if not math.isfinite(var):
        raise ValueError(
            f"the central limit theorem needs finite variance, but {dist!r} has variance {var}"
        )
    if var <= 0.0:
        raise ValueError(
            f"standardizing needs variance > 0, but {dist!r} has variance {var} (a point mass)"
        )
    if not math.isfinite(mu):
        raise ValueError(f"the central limit theorem needs a finite mean, but {dist!r} has {mu}")
    return mu, var


def _seed_from(generator: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (), generator=generator, device=generator.device))


def standardized_sums(
    dist: Distribution,
    n: int,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    mean: float | Tensor | None = None,
    variance: float | Tensor | None = None,
) -> Tensor:
    """Draw ``num_samples`` independent copies of the standardized sum of ``n`` i.i.d. draws.

        Z = (S_n - n mu) / (sigma sqrt(n)) = sum_i (X_i - mu) / sigma / sqrt(n),   X_i ~ dist

    so E[Z] = 0 and Var[Z] = 1 exactly, and Z -> N(0, 1) in distribution as n grows.
    ``mu`` and ``sigma^2`` are ``dist.mean`` and ``dist.variance`` unless ``mean`` /
    ``variance`` are given (for a distribution that does not implement them).  Each draw is
    centred before summing, so large n does not lose the fluctuation to rounding of S_n.

    The draws are made in chunks of about 2**22 values, so memory stays bounded (16 MiB per
    chunk in float32) whatever n * num_samples is.

    ``torch.distributions`` samplers take no generator.  With ``generator`` given, one seed is
    drawn from it and the global RNG is reseeded with it inside ``torch.random.fork_rng``:
    the result is reproducible from the generator's state, the generator advances, and the
    global RNG state is restored afterwards.  Other threads drawing from the global RNG at the
    same time would interleave with this draw, so reproducibility holds only without them.

    Returns a 1-D tensor of shape (num_samples,) in the dtype the distribution samples in.
    Raises ValueError for infinite or NaN variance (e.g. Cauchy, StudentT with df <= 2).
    """
    dist = _check_distribution(dist)
    n = check_count("n", n, 1)
    num_samples = check_count("num_samples", num_samples, 2)
    mu, var = _moments(dist, mean, variance)
    sigma = math.sqrt(var)

    block = min(n, _CHUNK_ELEMENTS)  # draws per row of a chunk
    rows = max(1, _CHUNK_ELEMENTS // block)
    # One output buffer, filled in place: keeping many small per-chunk results alive between
    # large freed chunks fragments the heap, and the process grows by hundreds of MB.
    total: Tensor | None = None
    with torch.random.fork_rng(enabled=generator is not None):
        if generator is not None:
            torch.manual_seed(_seed_from(generator))
        for start in range(0, num_samples, rows):
            stop = min(start + rows, num_samples)
            for done in range(0, n, block):
                x = dist.sample((stop - start, min(block, n - done)))
                if not x.is_floating_point():
                    x = x.to(torch.get_default_dtype())
                part = x.sub_(mu).div_(sigma).sum(dim=1)
                del x  # free this chunk before the next one is drawn
                if total is None:
                    total = part.new_zeros(num_samples)
                total[start:stop] += part
    return total.div_(math.sqrt(n))


def ks_distance(z: Tensor) -> float:
    """Kolmogorov–Smirnov statistic of the samples ``z`` against N(0, 1).

        D = sup_x |F_N(x) - Phi(x)| = max_i max(i/N - Phi(z_(i)), Phi(z_(i)) - (i-1)/N)

    with z_(1) <= ... <= z_(N) the sorted samples; exact, ties included.  Under H0 (z i.i.d.
    N(0, 1)) sqrt(N) D is Kolmogorov distributed: D > 1.358 / sqrt(N) with probability 5%.
    """
    z = torch.as_tensor(z)
    if z.ndim != 1 or z.numel() == 0:
        raise ValueError(f"z must be a non-empty 1-D tensor of samples, got shape {tuple(z.shape)}")
    if not z.is_floating_point():
        z = z.to(torch.get_default_dtype())
    if not bool(torch.isfinite(z).all()):
        raise ValueError("z must be finite, got NaN or infinite samples")
    size = z.numel()
    cdf = normal_cdf(torch.sort(z).values)
    i = torch.arange(1, size + 1, dtype=z.dtype, device=z.device)
    d_plus = (i / size - cdf).max()
    d_minus = (cdf - (i - 1) / size).max()
    return float(torch.maximum(d_plus, d_minus))


def _standardized_third_moment(dist: Distribution) -> float | None:
    """rho / sigma^3 = E|X - mu|^3 / sigma^3 where a closed form is known, else None.

    Uniform(a, b): X - mu uniform on [-h, h], h = (b - a)/2:
        rho = h^3 / 4, sigma^2 = h^2 / 3                         -> rho/sigma^3 = 3 sqrt(3) / 4
    Exponential(rate): with Y = rate X ~ Exp(1),
        E|Y - 1|^3 = int_0^1 (1-y)^3 e^-y dy + int_1^inf (y-1)^3 e^-y dy
                   = (6/e - 2) + 6/e                             -> rho/sigma^3 = 12/e - 2
    Bernoulli(p), q = 1 - p:
        rho = p q^3 + q p^3 = p q (p^2 + q^2), sigma^2 = p q     -> (p^2 + q^2) / sqrt(p q)
    Normal(loc, scale):
        E|Z|^3 = 2 int_0^inf z^3 phi(z) dz = 2 sqrt(2/pi)         -> rho/sigma^3 = 2 sqrt(2/pi)
    """
    kind = type(dist)
    if kind is Uniform:
        return 3.0 * math.sqrt(3.0) / 4.0
    if kind is Exponential:
        return 12.0 / math.e - 2.0
    if kind is Bernoulli:
        p = float(dist.probs)
        q = 1.0 - p
        return (p * p + q * q) / math.sqrt(p * q)
    if kind is Normal:
        return 2.0 * math.sqrt(2.0 / math.pi)
    return None


def berry_esseen_bound(
    dist: Distribution,
    n: int,
    *,
    third_abs_moment: float | None = None,
    variance: float | Tensor | None = None,
) -> float | None:
    """Berry–Esseen bound on sup_x |P(Z_n <= x) - Phi(x)| for the standardized sum Z_n.

        sup_x |F_{Z_n}(x) - Phi(x)| <= C rho / (sigma^3 sqrt(n)),   rho = E|X - mu|^3,
        C = 0.4748 (Shevtsova 2011)

    rho is known in closed form for torch's Uniform, Exponential, Bernoulli and Normal (see
    ``_standardized_third_moment``); for any other distribution (Poisson, Gamma, ...) the
    result is None unless ``third_abs_moment`` (rho) is given.  sigma^2 is ``dist.variance``
    unless ``variance`` is given.  A value >= 1 is a true but vacuous bound.  Raises
    ValueError for a rho below sigma^3, which Lyapunov's inequality rules out.
    """
    dist = _check_distribution(dist)
    n = check_count("n", n, 1)
    _, var = _moments(dist, 0.0, variance)  # the mean is not needed here
    sigma3 = var**1.5
    if third_abs_moment is None:
        ratio = _standardized_third_moment(dist)
        if ratio is None:
            return None
    else:
        rho = _scalar("third_abs_moment", third_abs_moment)
        if not math.isfinite(rho) or rho < sigma3 * (1.0 - 1e-9):
            raise ValueError(
                f"third_abs_moment must be finite and at least sigma^3 = {sigma3!r} "
                f"(Lyapunov: E|X - mu|^3 >= sigma^3), got {rho!r}"
            )
        ratio = rho / sigma3
    return BERRY_ESSEEN_C * ratio / math.sqrt(n)


@dataclass(frozen=True)
class CLTPoint:
    """One row of a convergence table.

    n: number of i.i.d. draws summed; ks: KS distance of num_samples draws of Z_n from N(0, 1);
    ks_critical: 1.358 / sqrt(num_samples), the KS distance that N(0, 1) samples themselves
    exceed 5% of the time (a noise floor: ks below it is indistinguishable from Gaussian);
    berry_esseen: the Berry–Esseen bound on the exact distance, or None where rho is unknown.
    """

    n: int
    ks: float
    ks_critical: float
    berry_esseen: float | None


def convergence(
    dist: Distribution,
    ns: Sequence[int],
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
    mean: float | Tensor | None = None,
    variance: float | Tensor | None = None,
    third_abs_moment: float | None = None,
) -> list[CLTPoint]:
    """KS distance of Z_n from N(0, 1) for each n in ``ns``, next to its noise floor and bound.

    For each n: ks = ks_distance(standardized_sums(dist, n, num_samples)),
    ks_critical = 1.358 / sqrt(num_samples), berry_esseen = C rho / (sigma^3 sqrt(n)).
    The exact distance sup|F_{Z_n} - Phi| shrinks like 1/sqrt(n) (Berry–Esseen); the measured
    ks tracks it until it reaches the noise floor.  For a lattice start (Bernoulli, Poisson)
    Z_n has jumps of order 1/sqrt(n), so ks never reaches 0 at any finite n.
    """
    num_samples = check_count("num_samples", num_samples, 2)
    critical = KS_CRITICAL_95 / math.sqrt(num_samples)
    points = []
    for n in ns:
        z = standardized_sums(
            dist, n, num_samples, generator=generator, mean=mean, variance=variance
        )
        bound = berry_esseen_bound(dist, n, third_abs_moment=third_abs_moment, variance=variance)
        points.append(
            CLTPoint(n=int(n), ks=ks_distance(z), ks_critical=critical, berry_esseen=bound)
        )
    return points


def _real(name: str, value: object) -> float:
    number = _scalar(name, value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _positive(name: str, value: object) -> Tensor:
    number = _real(name, value)
    if number <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return torch.tensor(number)


def _uniform(a: float = 0.0, b: float = 1.0) -> Distribution:
    low, high = _real("a", a), _real("b", b)
    if not low < high:
        raise ValueError(f"uniform needs a < b, got a={a!r}, b={b!r}")
    return Uniform(torch.tensor(low), torch.tensor(high))


def _exponential(rate: float = 1.0) -> Distribution:
    return Exponential(_positive("rate", rate))


def _bernoulli(p: float = 0.5) -> Distribution:
    prob = _real("p", p)
    if not 0.0 < prob < 1.0:
        raise ValueError(f"p must be in (0, 1) (p = 0 or 1 has no variance), got {p!r}")
    return Bernoulli(probs=torch.tensor(prob))


def _poisson(rate: float = 1.0) -> Distribution:
    return Poisson(_positive("rate", rate))


def _gamma(shape: float = 2.0, rate: float = 1.0) -> Distribution:
    return Gamma(_positive("shape", shape), _positive("rate", rate))


def _beta(alpha: float = 2.0, beta: float = 2.0) -> Distribution:
    return Beta(_positive("alpha", alpha), _positive("beta", beta))


START_DISTRIBUTIONS: dict[str, Callable[..., Distribution]] = {
    "uniform": _uniform,
    "exponential": _exponential,
    "bernoulli": _bernoulli,
    "poisson": _poisson,
    "gamma": _gamma,
    "beta": _beta,
}
"""Named starting distributions; each builder's keyword defaults are its parameters."""


def start_distribution(name: str, **params: float) -> Distribution:
    """A named starting distribution with scalar events, in the default dtype.

        uniform(a=0, b=1)          exponential(rate=1)        bernoulli(p=0.5)
        poisson(rate=1)            gamma(shape=2, rate=1)     beta(alpha=2, beta=2)

    An unknown name, an unknown parameter or an invalid value raises ValueError naming it.
    """
    if name not in START_DISTRIBUTIONS:
        raise ValueError(
            f"unknown start distribution {name!r}; expected one of {sorted(START_DISTRIBUTIONS)}"
        )
    builder = START_DISTRIBUTIONS[name]
    expected = list(inspect.signature(builder).parameters)
    unknown = sorted(set(params) - set(expected))
    if unknown:
        raise ValueError(
            f"start distribution {name!r} got unknown parameter(s) {unknown}; "
            f"expected some of {expected}"
        )
    return builder(**params)
