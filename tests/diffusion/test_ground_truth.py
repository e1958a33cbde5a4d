"""Tests for gausslab.diffusion.ground_truth.

References: the closed forms recomputed here in numpy/scipy from the parameters (dense float64
Gaussian conditioning, the law of total variance, scipy.stats.norm mixture densities),
autograd of the exact log density, and Monte Carlo of q_sample with 5-SE tolerances (binned
conditional expectations in 1-D) at fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from gausslab import Gaussian
from gausslab.diffusion import Diffusion, Schedule
from gausslab.diffusion.ground_truth import (
    marginal,
    optimal_eps,
    optimal_model,
    optimal_score,
    optimal_x0,
)
from gausslab.mixture import GaussianMixture

F64 = torch.float64
DIFFUSION = Diffusion(Schedule.linear(100, 1e-3, 0.1))
MEAN = np.array([1.0, -0.5])
COV = np.array([[0.25, 0.1], [0.1, 0.36]])
GAUSSIAN = Gaussian(torch.tensor(MEAN), torch.tensor(COV))
W, MU, SD = np.array([0.3, 0.7]), np.array([-1.5, 1.0]), np.array([0.3, 0.4])
MIXTURE = GaussianMixture.univariate(torch.tensor(W), torch.tensor(MU), torch.tensor(SD))


def abar(t: int) -> float:
    return float(np.prod(1 - DIFFUSION.schedule.betas.numpy()[1 : t + 1]))


@pytest.mark.parametrize("t", [1, 17, 100])
def test_gaussian_marginal_is_scaled_mean_and_noisy_covariance(t):
    """q(x_t) = N(sqrt(abar) mu, abar Sigma + (1 - abar) I), recomputed with numpy."""
    law = marginal(DIFFUSION, GAUSSIAN, t)
    a = abar(t)
    assert isinstance(law, Gaussian)
    np.testing.assert_allclose(law.mean.numpy(), math.sqrt(a) * MEAN, rtol=1e-12)
    expected = a * COV + (1 - a) * np.eye(2)
    np.testing.assert_allclose(law.covariance_matrix.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("t", [1, 30, 100])
def test_mixture_marginal_density_and_moments_match_scipy_and_total_variance(t):
    """Mixture marginal: log_prob vs scipy's N(sqrt(a) mu_k, a s_k^2 + 1 - a) mixture; mean and
    variance vs the law of total variance computed from the parameters."""
    law = marginal(DIFFUSION, MIXTURE, t)
    a = abar(t)
    assert isinstance(law, GaussianMixture)
    x = np.linspace(-4, 4, 41)
    comp_sd = np.sqrt(a * SD**2 + 1 - a)
    expected = np.log((W * stats.norm.pdf(x[:, None], math.sqrt(a) * MU, comp_sd)).sum(1))
    np.testing.assert_allclose(law.log_prob(torch.tensor(x)).numpy(), expected, rtol=1e-12)
    mean = (W * math.sqrt(a) * MU).sum()
    variance = (W * comp_sd**2).sum() + (W * (math.sqrt(a) * MU - mean) ** 2).sum()
    np.testing.assert_allclose(float(law.mean), mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(float(law.variance), variance, rtol=1e-12)


@pytest.mark.parametrize("data", [GAUSSIAN, MIXTURE], ids=["gaussian", "mixture"])
def test_marginal_matches_monte_carlo_of_q_sample(data):
    """Mean and variance of q_sample(x0 ~ data, t) within 5 SE of the exact marginal's
    (SE of a variance: sqrt((m4 - var^2) / n) from the sample's fourth central moment)."""
    n, t = 40000, 40
    g = torch.Generator().manual_seed(0)
    if isinstance(data, GaussianMixture):
        x0 = data.sample((n,), generator=g)
    else:  # Gaussian.sample uses the global generator: seed it apart from g
        torch.manual_seed(12345)
        x0 = data.sample((n,))
    x_t = DIFFUSION.q_sample(x0, t, generator=g)
    law = marginal(DIFFUSION, data, t)
    centered = x_t - x_t.mean(0)
    var_se = ((centered**4).mean(0) - centered.var(0) ** 2).sqrt() / math.sqrt(n)
    assert ((x_t.mean(0) - law.mean).abs() < 5 * (law.variance / n).sqrt()).all()
    assert ((x_t.var(0) - law.variance).abs() < 5 * var_se).all()


def test_marginal_at_t_zero_is_the_data_and_rejects_bad_t():
    assert marginal(DIFFUSION, MIXTURE, 0) is MIXTURE
    with pytest.raises(ValueError, match=r"t must be in 0\.\.100"):
        marginal(DIFFUSION, GAUSSIAN, 101)
    with pytest.raises(ValueError, match="t must be one timestep"):
        marginal(DIFFUSION, GAUSSIAN, torch.tensor([3, 4]))
    with pytest.raises(ValueError, match="t must be an int"):
        marginal(DIFFUSION, GAUSSIAN, 2.0)


@pytest.mark.parametrize("data", [GAUSSIAN, MIXTURE], ids=["gaussian", "mixture"])
def test_optimal_score_is_the_gradient_of_the_marginal_log_density(data):
    """optimal_score(x, t) vs autograd of marginal(data, t).log_prob, for a (B,) t that
    differs per example (each row checked against its own marginal)."""
    t = torch.tensor([1, 5, 50, 100, 100])
    x = torch.linspace(-2, 2, 5 * math.prod(data.event_shape), dtype=F64).reshape(
        5, *data.event_shape
    )
    score = optimal_score(DIFFUSION, data, x, t)
    for i, ti in enumerate(t.tolist()):
        xi = x[i].clone().requires_grad_()
        (grad,) = torch.autograd.grad(marginal(DIFFUSION, data, ti).log_prob(xi), xi)
        torch.testing.assert_close(score[i], grad, rtol=1e-10, atol=1e-12)


def test_gaussian_optimal_x0_is_the_dense_conditional_mean():
    """E[x0 | x_t] for Gaussian data from the joint of (x0, x_t) in numpy:
    mu + sqrt(a) Sigma (a Sigma + (1 - a) I)^{-1} (x_t - sqrt(a) mu); and eps* consistent:
    x_t = sqrt(a) x0* + sqrt(1 - a) eps*."""
    t = torch.tensor([3, 60, 90])
    x = torch.tensor([[0.3, 1.0], [-2.0, 0.5], [1.0, 1.0]], dtype=F64)
    x0 = optimal_x0(DIFFUSION, GAUSSIAN, x, t)
    eps = optimal_eps(DIFFUSION, GAUSSIAN, x, t)
    for i, ti in enumerate(t.tolist()):
        a = abar(ti)
        S = a * COV + (1 - a) * np.eye(2)
        expected = MEAN + math.sqrt(a) * COV @ np.linalg.solve(
            S, x[i].numpy() - math.sqrt(a) * MEAN
        )
        np.testing.assert_allclose(x0[i].numpy(), expected, rtol=1e-10)
        recon = math.sqrt(a) * x0[i] + math.sqrt(1 - a) * eps[i]
        np.testing.assert_allclose(recon.numpy(), x[i].numpy(), rtol=1e-10)


def test_optimal_eps_is_the_monte_carlo_conditional_expectation_in_bins():
    """E[eps | x_t in bin] from simulated (x0, eps, x_t) equals the bin average of eps*(x_t)
    (the tower property removes any binning bias), within 5 SE in every well-filled bin."""
    n, t = 200000, 25
    g = torch.Generator().manual_seed(1)
    x0 = MIXTURE.sample((n,), generator=g)
    eps = torch.randn(n, generator=g, dtype=F64)
    x_t = DIFFUSION.q_sample(x0, t, eps)
    pred = optimal_eps(DIFFUSION, MIXTURE, x_t, t)
    edges = torch.linspace(-2.5, 2.5, 26, dtype=F64)
    which = torch.bucketize(x_t, edges)
    checked = 0
    for b in range(1, len(edges)):
        inside = which == b
        m = int(inside.sum())
        if m < 500:
            continue
        residual = eps[inside] - pred[inside]
        assert abs(float(residual.mean())) < 5 * float(residual.std()) / math.sqrt(m)
        checked += 1
    assert checked >= 15
    # the Tweedie prediction explains most of the variance of eps given x_t
    assert float((eps - pred).var()) < 0.7 * float(eps.var())


@pytest.mark.parametrize("data", [GAUSSIAN, MIXTURE], ids=["gaussian", "mixture"])
def test_model_predictions_agree_with_each_other(data):
    """eps*, x0*, v* from optimal_model: v* = sqrt(a) eps* - sqrt(1 - a) x0* (numpy), and the
    helpers return the same tensors as the model; int t equals a constant (B,) t."""
    x = torch.linspace(-1, 1, 4 * math.prod(data.event_shape), dtype=F64).reshape(
        4, *data.event_shape
    )
    t = torch.tensor([2, 20, 70, 99])
    eps, x0, v = (optimal_model(DIFFUSION, data, p)(x, t) for p in ("eps", "x0", "v"))
    a = torch.tensor([abar(s) for s in t.tolist()], dtype=F64).reshape(-1, *[1] * (x.ndim - 1))
    torch.testing.assert_close(v, a.sqrt() * eps - (1 - a).sqrt() * x0, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(eps, optimal_eps(DIFFUSION, data, x, t))
    torch.testing.assert_close(x0, optimal_x0(DIFFUSION, data, x, t))
    same = optimal_eps(DIFFUSION, data, x, torch.full((4,), 20))
    torch.testing.assert_close(same, optimal_eps(DIFFUSION, data, x, 20), rtol=1e-12, atol=0)


def test_zero_terminal_snr_predictions_are_pure_noise():
    """At abar_T = 0: eps* = x_T, x0* = E[x0], score = -x_T."""
    diffusion = Diffusion(Schedule.linear(20, 0.01, 0.2).rescale_zero_terminal_snr())
    x = torch.tensor([[0.5, -1.0], [2.0, 0.0]], dtype=F64)
    t = torch.tensor([20, 10])
    eps = optimal_eps(diffusion, GAUSSIAN, x, t)
    x0 = optimal_x0(diffusion, GAUSSIAN, x, t)
    assert torch.equal(eps[0], x[0]) and torch.equal(x0[0], GAUSSIAN.mean)
    assert torch.equal(optimal_score(diffusion, GAUSSIAN, x, t)[0], -x[0])
    assert torch.isfinite(eps[1]).all() and not torch.equal(eps[1], x[1])


def test_bad_inputs_raise():
    x = torch.zeros(3, 2, dtype=F64)
    with pytest.raises(TypeError, match="data"):
        optimal_model(DIFFUSION, torch.distributions.Normal(0.0, 1.0))
    with pytest.raises(TypeError, match="diffusion"):
        marginal(DIFFUSION.schedule, GAUSSIAN, 3)
    with pytest.raises(ValueError, match="prediction"):
        optimal_model(DIFFUSION, GAUSSIAN, "score")
    with pytest.raises(ValueError, match="x_t must have shape"):
        optimal_eps(DIFFUSION, GAUSSIAN, torch.zeros(3, 3, dtype=F64), 5)
    with pytest.raises(ValueError, match="x_t must have data's dtype"):
        optimal_eps(DIFFUSION, GAUSSIAN, x.float(), 5)
    with pytest.raises(ValueError, match="t"):
        optimal_eps(DIFFUSION, GAUSSIAN, x, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"t must be in 1\.\.100"):
        optimal_eps(DIFFUSION, GAUSSIAN, x, 0)
    with pytest.raises(ValueError, match="batch_shape"):
        marginal(DIFFUSION, GAUSSIAN.expand((2,)), 3)
