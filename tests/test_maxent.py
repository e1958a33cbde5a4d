"""gausslab.maxent against scipy: every family has the variance asked for (scipy's var), its
entropy is scipy's entropy (scipy.integrate.quad of -p log p for the mixture), the gap to the
Gaussian is positive and equals KL(p || N) by scipy quadrature; the Gaussian is the maximum of
the generalized-normal family (at beta = 2) and the limit of the Student-t and mixture ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

from gausslab import maxent

F64 = torch.float64
VARIANCE = 1.7
SIGMA = math.sqrt(VARIANCE)


def _gn_scale(beta: float) -> float:
    return SIGMA * math.exp(0.5 * (math.lgamma(1 / beta) - math.lgamma(3 / beta)))


def _mixture_pdf(separation: float):
    """1/2 N(-d sigma, (1 - d^2) sigma^2) + 1/2 N(d sigma, ...), written out."""
    std = SIGMA * math.sqrt(1 - separation**2)
    m = separation * SIGMA

    def pdf(x: float) -> float:
        bumps = math.exp(-(((x - m) / std) ** 2) / 2) + math.exp(-(((x + m) / std) ** 2) / 2)
        return bumps / (2 * std * math.sqrt(2 * math.pi))

    return pdf


SCIPY_LAWS = {
    ("gaussian", None): scipy.stats.norm(0, SIGMA),
    ("uniform", None): scipy.stats.uniform(-math.sqrt(3) * SIGMA, 2 * math.sqrt(3) * SIGMA),
    ("triangular", None): scipy.stats.triang(0.5, -math.sqrt(6) * SIGMA, 2 * math.sqrt(6) * SIGMA),
    ("laplace", None): scipy.stats.laplace(0, SIGMA / math.sqrt(2)),
    ("logistic", None): scipy.stats.logistic(0, SIGMA * math.sqrt(3) / math.pi),
    ("student_t", 2.5): scipy.stats.t(2.5, 0, SIGMA * math.sqrt(0.5 / 2.5)),
    ("student_t", 9.0): scipy.stats.t(9.0, 0, SIGMA * math.sqrt(7 / 9)),
    ("generalized_normal", 0.7): scipy.stats.gennorm(0.7, 0, _gn_scale(0.7)),
    ("generalized_normal", 5.0): scipy.stats.gennorm(5.0, 0, _gn_scale(5.0)),
}


def _law(family: str, shape: float | None):
    return maxent.same_variance(family, torch.tensor(VARIANCE, dtype=F64), shape=shape)


@pytest.mark.parametrize(("family", "shape"), list(SCIPY_LAWS), ids=str)
def test_variance_entropy_and_density_match_scipy(family, shape):
    dist, reference = _law(family, shape), SCIPY_LAWS[family, shape]
    assert float(dist.variance) == pytest.approx(reference.var(), rel=1e-12)
    assert float(maxent.differential_entropy(dist)) == pytest.approx(reference.entropy(), rel=1e-10)
    x = np.linspace(*reference.ppf([0.001, 0.999]), 25)
    np.testing.assert_allclose(
        dist.log_prob(torch.from_numpy(x)), reference.logpdf(x), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("separation", [0.0, 0.4, 0.9, 0.99])
def test_mixture_entropy_by_quadrature_matches_scipy_quad(separation):
    """The mixture has no closed form: Simpson on 16,385 nodes vs scipy.integrate.quad."""
    dist = _law("mixture", separation)
    assert float(dist.variance) == pytest.approx(VARIANCE, rel=1e-12)
    pdf = _mixture_pdf(separation)
    entropy, _ = scipy.integrate.quad(
        lambda x: -pdf(x) * math.log(pdf(x)) if pdf(x) > 0 else 0.0,
        -15 * SIGMA,
        15 * SIGMA,
        points=[-separation * SIGMA, separation * SIGMA],
        limit=500,
        epsabs=1e-13,
        epsrel=1e-13,
    )
    assert float(maxent.differential_entropy(dist)) == pytest.approx(entropy, rel=1e-10)


def _kl_by_quad(pdf, high: float, points=None) -> float:
    """2 int_0^high p log(p / q) for a law p symmetric about 0, q = N(0, sigma^2)."""
    gaussian = scipy.stats.norm(0, SIGMA)

    def integrand(x: float) -> float:
        p = pdf(x)
        return p * (math.log(p) - gaussian.logpdf(x)) if p > 0 else 0.0

    value, _ = scipy.integrate.quad(
        integrand, 0, high, points=points, limit=500, epsabs=1e-13, epsrel=1e-12
    )
    return 2 * value


@pytest.mark.parametrize(
    ("family", "shape"), [k for k in SCIPY_LAWS if k[0] != "gaussian"], ids=str
)
def test_gap_is_positive_and_equals_kl_to_the_moment_matched_gaussian(family, shape):
    """H(N) - H(p) > 0 and = KL(p || N(0, sigma^2)) integrated by scipy."""
    reference = SCIPY_LAWS[family, shape]
    gap = float(maxent.entropy_gap(_law(family, shape)))
    kl = _kl_by_quad(reference.pdf, reference.support()[1])
    assert gap > 1e-4
    assert gap == pytest.approx(kl, rel=1e-8, abs=1e-11)


def test_mixture_gap_equals_kl_by_quad():
    pdf = _mixture_pdf(0.8)
    kl = _kl_by_quad(pdf, 15 * SIGMA, points=[0.8 * SIGMA])
    assert float(maxent.entropy_gap(_law("mixture", 0.8))) == pytest.approx(kl, rel=1e-9)


def test_gaussian_is_the_maximum_of_the_generalized_normal_family():
    """H(GN_beta) at fixed variance rises to the Gaussian's at beta = 2 and falls after."""
    betas = [0.5, 1.0, 1.5, 1.9, 2.0, 2.1, 3.0, 8.0]
    gaps = [float(maxent.entropy_gap(_law("generalized_normal", b))) for b in betas]
    assert gaps[betas.index(2.0)] == pytest.approx(0.0, abs=1e-14)
    assert all(g > 0 for b, g in zip(betas, gaps, strict=True) if b != 2.0)
    assert gaps[:5] == sorted(gaps[:5], reverse=True) and gaps[4:] == sorted(gaps[4:])


def test_student_t_and_mixture_approach_the_gaussian():
    """The gap shrinks to 0 as nu -> inf and as the mixture's separation -> 0; the uniform's gap
    is the known 1/2 log(pi e / 6)."""
    t_gaps = [float(maxent.entropy_gap(_law("student_t", nu))) for nu in (3, 10, 100, 1000)]
    assert t_gaps == sorted(t_gaps, reverse=True) and t_gaps[-1] < 1e-5
    assert float(maxent.entropy_gap(_law("mixture", 0.0))) == pytest.approx(0.0, abs=1e-12)
    uniform_gap = float(maxent.entropy_gap(_law("uniform", None)))
    assert uniform_gap == pytest.approx(0.5 * math.log(math.pi * math.e / 6), rel=1e-14)


def test_entropy_table_rows_and_shapes():
    rows = maxent.entropy_table(VARIANCE, {"student_t": 4.0})
    assert [r.family for r in rows] == list(maxent.FAMILIES)
    by_name = {r.family: r for r in rows}
    assert by_name["gaussian"].gap == 0.0
    assert by_name["gaussian"].entropy == pytest.approx(scipy.stats.norm(0, SIGMA).entropy())
    assert by_name["student_t"].shape == 4.0
    assert all(r.gap > 0 for r in rows if r.family != "gaussian")


def test_gaussian_entropy_and_dtype_device():
    """1/2 log(2 pi e sigma^2) in the dtype of the variance; loc and variance broadcast."""
    value = maxent.gaussian_entropy(torch.tensor([0.5, 2.0], dtype=torch.float32))
    assert value.dtype == torch.float32
    np.testing.assert_allclose(value, scipy.stats.norm(0, np.sqrt([0.5, 2.0])).entropy(), rtol=1e-6)
    batch = maxent.same_variance("laplace", torch.tensor([1.0, 4.0]), loc=torch.zeros(3, 1))
    assert batch.batch_shape == (3, 2) and batch.variance[0].tolist() == pytest.approx([1.0, 4.0])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: maxent.same_variance("cauchy"), ValueError, r"unknown family 'cauchy'"),
        (lambda: maxent.same_variance({"a": 1}), ValueError, r"unknown family \{'a': 1\}"),
        (
            lambda: maxent.same_variance("student_t", shape=2.0),
            ValueError,
            r"nu .* \(2, inf\), got 2",
        ),
        (lambda: maxent.same_variance("mixture", shape=1.0), ValueError, r"separation .* \[0, 1\)"),
        (lambda: maxent.same_variance("uniform", shape=3.0), ValueError, r"has no shape parameter"),
        (lambda: maxent.same_variance("laplace", 0.0), ValueError, r"variance must be strictly"),
        (lambda: maxent.same_variance("laplace", loc=math.inf), ValueError, r"loc must be finite"),
        (lambda: maxent.same_variance("student_t", shape="5"), TypeError, r"nu must be a real"),
        (lambda: maxent.entropy_table(1.0, {"uniform": 2.0}), ValueError, r"without a shape"),
        (lambda: maxent.differential_entropy("x"), TypeError, r"dist must be a torch"),
    ],
)
def test_bad_inputs_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
