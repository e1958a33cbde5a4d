"""Tests for gausslab.clt: the central limit theorem on torch distributions.

References are independent of the code under test: scipy's KS statistic, the exact laws of the
sums (Binomial for Bernoulli starts, Gamma for exponential starts), scipy's quadrature for
third absolute moments. Monte Carlo tolerances come from standard errors; seeds are fixed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch
from torch.distributions import (
    Bernoulli,
    Cauchy,
    Distribution,
    Exponential,
    Gamma,
    MultivariateNormal,
    Normal,
    Poisson,
    StudentT,
    Uniform,
)

import gausslab.clt as clt
from gausslab.clt import (
    BERRY_ESSEEN_C,
    START_DISTRIBUTIONS,
    CLTPoint,
    berry_esseen_bound,
    convergence,
    ks_distance,
    standardized_sums,
    start_distribution,
)

_SCALAR_SHAPE = torch.Size()

KOLMOGOROV_999 = 1.9495
"""99.9% quantile of the Kolmogorov distribution: P(sqrt(N) sup|F_N - F| > 1.9495) -> 0.001."""


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _t(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float64)


# ---------------------------------------------------------------------------------------------
# ks_distance


@pytest.mark.parametrize("size", [1, 2, 17, 1000])
@pytest.mark.parametrize("kind", ["normal", "shifted_exponential", "ties"])
def test_ks_distance_equals_scipy_kstest_statistic(size: int, kind: str) -> None:
    """ks_distance(z) is the exact sup|F_N - Phi|: it equals scipy.stats.kstest(z, 'norm')."""
    rng = np.random.default_rng(size)
    z = {
        "normal": rng.standard_normal(size),
        "shifted_exponential": rng.exponential(size=size) - 1.0,
        "ties": np.round(rng.standard_normal(size) * 2.0) / 2.0,
    }[kind]
    expected = scipy.stats.kstest(z, "norm").statistic
    assert ks_distance(torch.from_numpy(z)) == pytest.approx(expected, abs=1e-12)
    assert ks_distance(torch.from_numpy(z).float()) == pytest.approx(expected, abs=2e-6)


@pytest.mark.parametrize(
    ("z", "match"),
    [
        (torch.zeros(2, 3), "1-D"),
        (torch.zeros(0), "non-empty"),
        (torch.tensor([0.0, float("nan")]), "finite"),
    ],
)
def test_ks_distance_rejects_non_samples(z: torch.Tensor, match: str) -> None:
    """A 2-D, empty or non-finite input is a ValueError, never a silent number."""
    with pytest.raises(ValueError, match=match):
        ks_distance(z)


# ---------------------------------------------------------------------------------------------
# standardized_sums: moments and exact laws

# (distribution, excess kurtosis kappa of one draw)
MOMENT_CASES = {
    "uniform": (Uniform(_t(-1.0), _t(3.0)), -1.2),
    "exponential": (Exponential(_t(2.0)), 6.0),
    "bernoulli": (Bernoulli(probs=_t(0.2)), (1 - 6 * 0.2 * 0.8) / (0.2 * 0.8)),
    "poisson": (Poisson(_t(3.0)), 1 / 3.0),
    "gamma": (Gamma(_t(2.0), _t(0.5)), 6 / 2.0),
}


@pytest.mark.parametrize("name", sorted(MOMENT_CASES))
def test_standardized_sums_have_mean_zero_and_variance_one(name: str) -> None:
    """Z = sum_i (X_i - mu) / (sigma sqrt(n)) has E Z = 0 and Var Z = 1 for every start.

    Tolerances from standard errors. Var Z = 1, so the sample mean has SE 1/sqrt(N).
    With Y_i = (X_i - mu)/sigma (E Y^4 = 3 + kappa, kappa the excess kurtosis) and
    Z = sum Y_i / sqrt(n): E Z^4 = (n E Y^4 + 3 n (n - 1)) / n^2 = 3 + kappa / n, so
    Var(Z^2) = E Z^4 - 1 = 2 + kappa / n and the sample variance has
    SE = sqrt((mu4 - sigma^4) / N) = sqrt((2 + kappa / n) / N) to leading order.
    Both must lie within 5 SE; the float64 start must give float64 sums.
    """
    dist, kappa = MOMENT_CASES[name]
    n, size = 5, 200_000
    z = standardized_sums(dist, n, size, generator=_generator(1))
    assert z.shape == (size,)
    assert z.dtype == torch.float64
    assert abs(float(z.mean())) < 5.0 / math.sqrt(size)
    assert abs(float(z.var()) - 1.0) < 5.0 * math.sqrt((2.0 + kappa / n) / size)


def _assert_binomial(z: torch.Tensor, n: int, p: float) -> None:
    """z must be (K - n p) / sqrt(n p q) with K ~ Binomial(n, p), checked bin by bin."""
    k_float = z.double().numpy() * math.sqrt(n * p * (1 - p)) + n * p
    k = np.round(k_float)
    assert np.abs(k_float - k).max() < 1e-4, "standardized sums must lie on the lattice"
    size = z.numel()
    counts = np.bincount(k.astype(int), minlength=n + 1)
    assert counts.size == n + 1
    pmf = scipy.stats.binom.pmf(np.arange(n + 1), n, p)
    se = np.sqrt(size * pmf * (1 - pmf))
    assert np.all(np.abs(counts - size * pmf) <= 5 * se + 1e-12)
    # Chi-square over the bins expected to hold at least 5 draws (rest pooled).
    big = size * pmf >= 5
    observed = np.append(counts[big], counts[~big].sum())
    expected = np.append(size * pmf[big], size * pmf[~big].sum())
    keep = expected > 0
    assert scipy.stats.chisquare(observed[keep], expected[keep]).pvalue > 1e-3


def test_bernoulli_sums_follow_the_binomial_law() -> None:
    """For X_i ~ Bernoulli(p), S_n ~ Binomial(n, p): every standardized sum sits on the
    lattice (k - n p)/sqrt(n p q), and the frequency of each k matches binom.pmf within 5 SE
    (SE = sqrt(N pmf (1 - pmf))) and a chi-square test."""
    n, p = 10, 0.3
    z = standardized_sums(Bernoulli(probs=torch.tensor(p)), n, 100_000, generator=_generator(2))
    _assert_binomial(z, n, p)


def test_chunked_draws_keep_the_exact_law(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a chunk budget smaller than n (so both the samples and each sum are split into
    chunks: rows of 1 draw-block, blocks of 16 + 16 + 8 draws), the sums are still exactly
    Binomial(n, p)."""
    monkeypatch.setattr(clt, "_CHUNK_ELEMENTS", 16)
    n, p = 40, 0.25
    z = standardized_sums(Bernoulli(probs=torch.tensor(p)), n, 3000, generator=_generator(3))
    _assert_binomial(z, n, p)


def test_exponential_sums_follow_the_gamma_law() -> None:
    """For X_i ~ Exponential(rate), rate S_n ~ Gamma(n, 1), so
    P(Z <= z) = GammaCDF(n + z sqrt(n); shape n). A KS test against that exact law must not
    reject at the 0.1% level."""
    n, rate = 3, 2.5
    z = standardized_sums(Exponential(_t(rate)), n, 50_000, generator=_generator(4)).numpy()
    exact_cdf = lambda x: scipy.stats.gamma.cdf(n + x * math.sqrt(n), a=n)  # noqa: E731
    assert scipy.stats.kstest(z, exact_cdf).pvalue > 1e-3


class _RecordingUniform(Uniform):
    """Uniform(0, 1) that records the number of values each sample() call draws."""

    def __init__(self) -> None:
        super().__init__(torch.tensor(0.0), torch.tensor(1.0))
        self.draws: list[int] = []

    def sample(self, sample_shape: torch.Size | tuple[int, ...] = _SCALAR_SHAPE) -> torch.Tensor:
        self.draws.append(math.prod(sample_shape))
        return super().sample(sample_shape)


def test_large_n_times_num_samples_is_drawn_in_bounded_chunks() -> None:
    """n = 1000, num_samples = 100_000 (1e8 draws; one float32 tensor would be 400 MB) is drawn
    in chunks of at most 2**22 values (16 MiB), all 1e8 values are drawn, and the result is
    still standardized: mean within 5/sqrt(N) of 0 and variance within 5 SE of 1
    (kappa = -1.2 for the uniform, see test_standardized_sums_have_mean_zero_and_variance_one).
    """
    dist = _RecordingUniform()
    n, size = 1000, 100_000
    z = standardized_sums(dist, n, size, generator=_generator(5))
    assert z.shape == (size,)
    assert max(dist.draws) * 4 <= 16 * 2**20
    assert sum(dist.draws) == n * size
    assert abs(float(z.mean())) < 5.0 / math.sqrt(size)
    assert abs(float(z.var()) - 1.0) < 5.0 * math.sqrt((2.0 - 1.2 / n) / size)


# ---------------------------------------------------------------------------------------------
# standardized_sums: reproducibility, user moments, validation


def test_generator_makes_draws_reproducible_and_leaves_global_rng_alone() -> None:
    """Equal generator states give equal sums; the generator advances, so a second call
    differs; the global RNG state is the same before and after."""
    dist = Exponential(torch.tensor(1.0))
    before = torch.get_rng_state()
    first = standardized_sums(dist, 4, 1000, generator=_generator(6))
    again = standardized_sums(dist, 4, 1000, generator=_generator(6))
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(first, again)
    generator = _generator(6)
    one = standardized_sums(dist, 4, 1000, generator=generator)
    two = standardized_sums(dist, 4, 1000, generator=generator)
    assert torch.equal(one, first)
    assert not torch.equal(one, two)


def test_without_generator_the_global_rng_is_used() -> None:
    """With generator=None the draw comes from the global RNG, so torch.manual_seed repeats it."""
    dist = Uniform(torch.tensor(0.0), torch.tensor(1.0))
    torch.manual_seed(7)
    first = standardized_sums(dist, 3, 100)
    torch.manual_seed(7)
    assert torch.equal(standardized_sums(dist, 3, 100), first)


class _Rademacher(Distribution):
    """+-1 with probability 1/2 each; implements sample but not mean or variance."""

    arg_constraints: dict = {}  # noqa: RUF012

    def __init__(self) -> None:
        super().__init__(batch_shape=torch.Size(), validate_args=False)

    def sample(self, sample_shape: torch.Size | tuple[int, ...] = _SCALAR_SHAPE) -> torch.Tensor:
        return torch.randint(0, 2, tuple(sample_shape)).double() * 2.0 - 1.0


def test_user_distribution_needs_and_uses_given_moments() -> None:
    """A distribution without mean/variance is a ValueError asking for mean= and variance=;
    given them (0 and 1 for Rademacher), the sums are (2 K - n)/sqrt(n), K ~ Binomial(n, 1/2),
    and the Berry–Esseen bound takes a user rho (E|X|^3 = 1: C / sqrt(n))."""
    with pytest.raises(ValueError, match="mean= and variance="):
        standardized_sums(_Rademacher(), 4, 10)
    n = 6
    z = standardized_sums(_Rademacher(), n, 20_000, generator=_generator(8), mean=0, variance=1)
    _assert_binomial(z, n, 0.5)
    bound = berry_esseen_bound(_Rademacher(), n, third_abs_moment=1.0, variance=1.0)
    assert bound == pytest.approx(BERRY_ESSEEN_C / math.sqrt(n), rel=1e-12)


@pytest.mark.parametrize(
    "dist",
    [
        Cauchy(torch.tensor(0.0), torch.tensor(1.0)),
        StudentT(torch.tensor(2.0)),
        StudentT(torch.tensor(1.0)),
    ],
    ids=["cauchy", "student_t_df2", "student_t_df1"],
)
def test_infinite_or_undefined_variance_is_rejected(dist: Distribution) -> None:
    """The CLT needs finite variance: Cauchy (variance NaN in torch) and StudentT with df <= 2
    (inf or NaN) raise a ValueError that names the distribution, everywhere."""
    name = type(dist).__name__
    with pytest.raises(ValueError, match=rf"finite variance.*{name}|{name}.*finite variance"):
        standardized_sums(dist, 10, 100)
    with pytest.raises(ValueError, match="finite variance"):
        convergence(dist, [1, 2], 100)
    with pytest.raises(ValueError, match="finite variance"):
        berry_esseen_bound(dist, 10, third_abs_moment=1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 0}, ValueError, r"n must be an integer >= 1, got 0"),
        ({"n": 2.5}, TypeError, r"n must be an integer >= 1, got 2.5"),
        ({"n": True}, TypeError, r"n must be an integer"),
        ({"num_samples": 1}, ValueError, r"num_samples must be an integer >= 2, got 1"),
        ({"dist": MultivariateNormal(torch.zeros(2), torch.eye(2))}, ValueError, "event_shape"),
        ({"dist": Normal(torch.zeros(3), torch.ones(3))}, ValueError, r"batch_shape \(3,\)"),
        ({"dist": "normal"}, TypeError, "torch.distributions.Distribution"),
        ({"dist": Bernoulli(probs=torch.tensor(1.0))}, ValueError, "variance > 0"),
        ({"mean": "zero"}, ValueError, "mean must be a real scalar"),
    ],
)
def test_invalid_arguments_name_the_argument_value_and_expectation(
    kwargs: dict, error: type[Exception], match: str
) -> None:
    """Bad n, num_samples, a non-scalar or degenerate distribution or a non-number moment raise
    an error naming the argument, what was received and what was expected."""
    arguments = {"dist": Normal(torch.tensor(0.0), torch.tensor(1.0)), "n": 3, "num_samples": 10}
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        standardized_sums(**arguments)


# ---------------------------------------------------------------------------------------------
# Berry–Esseen


def _third_abs_moment_by_quadrature(frozen: scipy.stats.rv_continuous) -> float:
    mu = frozen.mean()
    lo, hi = frozen.support()
    integrand = lambda x: abs(x - mu) ** 3 * frozen.pdf(x)  # noqa: E731
    left = scipy.integrate.quad(integrand, lo, mu, epsabs=0, epsrel=1e-12)[0]
    right = scipy.integrate.quad(integrand, mu, hi, epsabs=0, epsrel=1e-12)[0]
    return left + right


BE_CASES = {
    "uniform": (Uniform(_t(-1.0), _t(3.0)), scipy.stats.uniform(loc=-1.0, scale=4.0)),
    "exponential": (Exponential(_t(0.7)), scipy.stats.expon(scale=1 / 0.7)),
    "normal": (Normal(_t(1.0), _t(2.0)), scipy.stats.norm(loc=1.0, scale=2.0)),
}


@pytest.mark.parametrize("name", sorted(BE_CASES))
@pytest.mark.parametrize("n", [1, 9, 100])
def test_berry_esseen_closed_forms_match_quadrature(name: str, n: int) -> None:
    """berry_esseen_bound = C rho / (sigma^3 sqrt(n)) with rho = E|X - mu|^3 computed by
    scipy.integrate.quad of |x - mu|^3 pdf(x), split at mu, and sigma^2 from scipy."""
    dist, frozen = BE_CASES[name]
    rho = _third_abs_moment_by_quadrature(frozen)
    expected = BERRY_ESSEEN_C * rho / (frozen.var() ** 1.5 * math.sqrt(n))
    assert berry_esseen_bound(dist, n) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("p", [0.01, 0.3, 0.5, 0.9])
def test_berry_esseen_bernoulli_matches_sum_over_support(p: float) -> None:
    """For Bernoulli(p), rho = sum over x in {0, 1} of pmf(x) |x - p|^3, computed directly."""
    rho = (1 - p) * p**3 + p * (1 - p) ** 3
    expected = BERRY_ESSEEN_C * rho / ((p * (1 - p)) ** 1.5 * math.sqrt(7))
    bound = berry_esseen_bound(Bernoulli(probs=_t(p)), 7)
    assert bound == pytest.approx(expected, rel=1e-9)


def test_berry_esseen_needs_rho_where_no_closed_form_is_known() -> None:
    """Poisson and Gamma give None; with rho supplied (here by summing/integrating
    |x - mu|^3 against scipy's pmf/pdf) the bound is C rho / (sigma^3 sqrt(n)); a rho below
    sigma^3 contradicts Lyapunov's inequality and is rejected."""
    poisson, gamma = Poisson(_t(3.0)), Gamma(_t(2.0), _t(0.5))
    assert berry_esseen_bound(poisson, 4) is None
    assert berry_esseen_bound(gamma, 4) is None
    k = np.arange(200)
    rho_poisson = float(np.sum(np.abs(k - 3.0) ** 3 * scipy.stats.poisson.pmf(k, 3.0)))
    bound = berry_esseen_bound(poisson, 4, third_abs_moment=rho_poisson)
    assert bound == pytest.approx(BERRY_ESSEEN_C * rho_poisson / (3.0**1.5 * 2.0), rel=1e-12)
    rho_gamma = _third_abs_moment_by_quadrature(scipy.stats.gamma(a=2.0, scale=2.0))
    bound = berry_esseen_bound(gamma, 4, third_abs_moment=rho_gamma)
    assert bound == pytest.approx(BERRY_ESSEEN_C * rho_gamma / (8.0**1.5 * 2.0), rel=1e-12)
    with pytest.raises(ValueError, match="third_abs_moment must be finite and at least"):
        berry_esseen_bound(poisson, 4, third_abs_moment=0.5 * 3.0**1.5)


# ---------------------------------------------------------------------------------------------
# convergence


def _exact_exponential_distance(n: int) -> float:
    """sup_z |GammaCDF(n + z sqrt(n); n) - Phi(z)| on a grid of spacing 1e-4 over [-12, 12]
    (the CDFs are continuous with slope below 1, so the grid error is below 1e-4)."""
    z = np.linspace(-12.0, 12.0, 240_001)
    return float(
        np.max(np.abs(scipy.stats.gamma.cdf(n + z * math.sqrt(n), a=n) - scipy.stats.norm.cdf(z)))
    )


def test_exponential_convergence_shrinks_and_respects_berry_esseen() -> None:
    """For an exponential start and n = 1, 4, 64 (N = 100_000 sums each):

    - the measured KS distance is within the Kolmogorov 99.9% noise band 1.9495/sqrt(N) (+1e-4
      grid error) of the exact distance sup|F_{Z_n} - Phi| from the Gamma(n) law;
    - it decreases from n to the next by more than twice that band, i.e. beyond noise;
    - the exact distance is below the Berry–Esseen bound for every n, and at n = 64 the
      measured distance is too;
    - ks_critical is 1.358/sqrt(N).
    """
    size = 100_000
    band = KOLMOGOROV_999 / math.sqrt(size) + 1e-4
    points = convergence(Exponential(torch.tensor(1.0)), [1, 4, 64], size, generator=_generator(9))
    assert [point.n for point in points] == [1, 4, 64]
    for point in points:
        assert isinstance(point, CLTPoint)
        assert point.ks_critical == pytest.approx(1.358 / math.sqrt(size))
        exact = _exact_exponential_distance(point.n)
        assert abs(point.ks - exact) < band
        assert exact < point.berry_esseen
    for earlier, later in itertools.pairwise(points):
        assert earlier.ks - later.ks > 2 * band
    assert points[-1].ks < points[-1].berry_esseen


def test_convergence_reports_none_where_rho_is_unknown() -> None:
    """A Poisson start has no closed-form rho: berry_esseen is None, ks is still measured."""
    points = convergence(
        start_distribution("poisson", rate=2.0), [2, 8], 2000, generator=_generator(10)
    )
    assert [point.berry_esseen for point in points] == [None, None]
    assert all(0.0 < point.ks < 1.0 for point in points)


# ---------------------------------------------------------------------------------------------
# start_distribution


@pytest.mark.parametrize(
    ("name", "params", "mean", "variance"),
    [
        ("uniform", {}, 0.5, 1 / 12),
        ("uniform", {"a": -2.0, "b": 4.0}, 1.0, 3.0),
        ("exponential", {"rate": 4.0}, 0.25, 1 / 16),
        ("bernoulli", {"p": 0.2}, 0.2, 0.16),
        ("poisson", {"rate": 3.0}, 3.0, 3.0),
        ("gamma", {"shape": 3.0, "rate": 2.0}, 1.5, 0.75),
        ("beta", {"alpha": 2.0, "beta": 6.0}, 0.25, 12 / (64 * 9)),
    ],
)
def test_start_distribution_builds_the_named_law(
    name: str, params: dict, mean: float, variance: float
) -> None:
    """Each named start is a scalar distribution with the textbook mean and variance."""
    dist = start_distribution(name, **params)
    assert dist.batch_shape == torch.Size() and dist.event_shape == torch.Size()
    assert float(dist.mean) == pytest.approx(mean, rel=1e-6)
    assert float(dist.variance) == pytest.approx(variance, rel=1e-6)


def test_every_start_distribution_has_defaults() -> None:
    """Every registered name builds with no parameters (the explorer's starting point)."""
    for name in START_DISTRIBUTIONS:
        assert isinstance(start_distribution(name), Distribution)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("laplace", {}, r"unknown start distribution 'laplace'.*'bernoulli'.*'uniform'"),
        ("uniform", {"low": 0.0}, r"unknown parameter\(s\) \['low'\].*\['a', 'b'\]"),
        ("uniform", {"a": 2.0, "b": 1.0}, "a < b"),
        ("uniform", {"b": float("inf")}, "b must be finite"),
        ("exponential", {"rate": -1.0}, "rate must be > 0, got -1.0"),
        ("bernoulli", {"p": 1.0}, r"p must be in \(0, 1\)"),
        ("poisson", {"rate": "fast"}, "rate must be a real scalar"),
        ("gamma", {"shape": 0.0}, "shape must be > 0"),
        ("beta", {"alpha": float("nan")}, "alpha must be finite"),
    ],
)
def test_start_distribution_rejects_bad_names_and_parameters(
    name: str, params: dict, match: str
) -> None:
    """Unknown names list the valid ones; bad parameters are named with the value received."""
    with pytest.raises(ValueError, match=match):
        start_distribution(name, **params)
