"""Logistic, Triangular and GeneralizedNormal against scipy.stats (logistic, triang, gennorm):
log densities, CDF, moments, entropies, and samples by KS; scipy's own gennorm cases
(beta = 1 is the Laplace law, beta = 2 the normal with scale a / sqrt(2)); gradients through
rsample; bad parameters named."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from gausslab.families import GeneralizedNormal, Logistic, Triangular
from gausslab.gradient_estimators import pathwise_gradients

F64 = torch.float64
KOLMOGOROV_999 = 1.9495
"""99.9% quantile of sqrt(N) sup|F_N - F| under H0."""


def _t(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=F64)


CASES = [
    ("logistic", lambda: Logistic(_t(0.5), _t(1.3)), scipy.stats.logistic(0.5, 1.3)),
    ("logistic-narrow", lambda: Logistic(_t(-2.0), _t(0.05)), scipy.stats.logistic(-2.0, 0.05)),
    ("triangular", lambda: Triangular(_t(1.0), _t(2.0)), scipy.stats.triang(0.5, -1.0, 4.0)),
    (
        "gennorm-0.5",
        lambda: GeneralizedNormal(_t(0.0), _t(1.5), _t(0.5)),
        scipy.stats.gennorm(0.5, 0, 1.5),
    ),
    (
        "gennorm-1.7",
        lambda: GeneralizedNormal(_t(-1.0), _t(0.7), _t(1.7)),
        scipy.stats.gennorm(1.7, -1.0, 0.7),
    ),
    (
        "gennorm-8",
        lambda: GeneralizedNormal(_t(2.0), _t(1.0), _t(8.0)),
        scipy.stats.gennorm(8.0, 2.0, 1.0),
    ),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "make", "reference"), CASES, ids=IDS)
def test_log_prob_moments_entropy_match_scipy(name, make, reference):
    dist = make()
    low, high = reference.ppf(1e-6), reference.ppf(1 - 1e-6)
    x = np.linspace(low, high, 101)
    np.testing.assert_allclose(
        dist.log_prob(torch.from_numpy(x)), reference.logpdf(x), rtol=1e-12, atol=1e-12
    )
    assert float(dist.mean) == pytest.approx(reference.mean(), rel=1e-12, abs=1e-12)
    assert float(dist.variance) == pytest.approx(reference.var(), rel=1e-10)
    assert float(dist.entropy()) == pytest.approx(reference.entropy(), rel=1e-10, abs=1e-12)


def test_triangular_cdf_and_outside_support():
    """The triangular CDF matches scipy's, and the density is 0 (log -inf) outside."""
    dist, reference = Triangular(_t(1.0), _t(2.0)), scipy.stats.triang(0.5, -1.0, 4.0)
    x = np.linspace(-2.0, 4.0, 61)
    np.testing.assert_allclose(dist.cdf(torch.from_numpy(x)), reference.cdf(x), atol=1e-14)
    outside = Triangular(_t(1.0), _t(2.0), validate_args=False).log_prob(_t(3.5))
    assert outside == -math.inf


@pytest.mark.parametrize(("name", "make", "reference"), CASES, ids=IDS)
def test_samples_follow_the_law_by_ks(name, make, reference):
    """sup |F_N - F| of 20,000 draws stays below the 99.9% Kolmogorov quantile."""
    torch.manual_seed(0)
    x = make().sample((20_000,)).numpy()
    statistic = scipy.stats.kstest(x, reference.cdf).statistic
    assert statistic < KOLMOGOROV_999 / math.sqrt(len(x))


def test_gennorm_reduces_to_laplace_and_normal():
    """scipy's gennorm cases: beta = 1 is Laplace(loc, a), beta = 2 is N(loc, a^2 / 2)."""
    x = torch.linspace(-5, 5, 41, dtype=F64)
    laplace = GeneralizedNormal(_t(0.3), _t(1.2), _t(1.0))
    np.testing.assert_allclose(
        laplace.log_prob(x), scipy.stats.laplace(0.3, 1.2).logpdf(x.numpy()), rtol=1e-13
    )
    normal = GeneralizedNormal(_t(0.3), _t(1.2), _t(2.0))
    np.testing.assert_allclose(
        normal.log_prob(x), scipy.stats.norm(0.3, 1.2 / math.sqrt(2)).logpdf(x.numpy()), rtol=1e-13
    )
    assert float(normal.entropy()) == pytest.approx(
        scipy.stats.norm(0, 1.2 / math.sqrt(2)).entropy()
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda loc, s: Logistic(loc, s),
        lambda loc, s: Triangular(loc, s),
        lambda loc, s: GeneralizedNormal(loc, s, 3.0),
    ],
    ids=["logistic", "triangular", "gennorm"],
)
def test_rsample_carries_the_scale_gradient(make):
    """Pathwise gradients of E[(X - loc)^2] = Var (proportional to scale^2): d/dscale =
    2 Var / scale and d/dloc = 0, within 5 standard errors of the per-draw gradients."""
    torch.manual_seed(1)
    loc, scale = _t(0.2), _t(1.5)
    d_loc, d_scale = pathwise_gradients(make, (loc, scale), lambda x: (x - 0.2) ** 2, 40_000)
    exact = 2 * float(make(loc, scale).variance) / 1.5
    for draws, expected in ((d_scale, exact), (d_loc, 0.0)):
        se = float(draws.std()) / math.sqrt(len(draws))
        assert float(draws.mean()) == pytest.approx(expected, abs=5 * se)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: Logistic(0.0, 0.0), r"scale must be strictly positive"),
        (lambda: Logistic(float("nan"), 1.0), r"loc must be finite"),
        (lambda: Triangular(0.0, -1.0), r"half_width must be strictly positive.*-1"),
        (lambda: GeneralizedNormal(0.0, 1.0, 0.0), r"beta must be strictly positive"),
        (lambda: GeneralizedNormal(0.0, float("inf"), 2.0), r"scale must be finite"),
        (lambda: GeneralizedNormal("a", 1.0, 2.0), r"loc must be a tensor or a number"),
    ],
)
def test_bad_parameters_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_parameters_broadcast_and_keep_dtype():
    dist = GeneralizedNormal(torch.zeros(3, 1, dtype=torch.float32), torch.ones(4), 2.0)
    assert dist.batch_shape == (3, 4)
    assert dist.sample((2,)).shape == (2, 3, 4) and dist.entropy().dtype == torch.float32
