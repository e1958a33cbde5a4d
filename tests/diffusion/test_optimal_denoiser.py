"""Tests for optimal_denoiser(data) -> D(x, sigma) = E[x_0 | x_0 + sigma n = x] and for the
ground-truth predictions built on it.

References, each independent of the code under test: the Gaussian closed form
m + S (S + sigma^2 I)^{-1} (x - m) solved with numpy; for 1-D mixtures, the ratio of two
integrals int x p(x) N(y; x, sigma^2) dx / int p(x) N(y; x, sigma^2) dx by scipy quadrature;
for point masses, the softmax sum with mpmath at 50 digits; and Monte Carlo of the
orthogonality principle E[(x_0 - D(y)) g(y)] = 0 (within 5 standard errors, fixed seeds).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from scipy import integrate

from gausslab import Gaussian, GaussianMixture
from gausslab.diffusion import Diffusion, Schedule, optimal_denoiser
from gausslab.diffusion.ground_truth import marginal, optimal_eps, optimal_model, optimal_x0

F64 = torch.float64
MEAN = np.array([1.0, -0.5, 0.25])
COV = np.array([[0.5, 0.2, 0.0], [0.2, 0.4, -0.1], [0.0, -0.1, 0.3]])
W, MU, SD = np.array([0.2, 0.5, 0.3]), np.array([-2.0, 0.5, 3.0]), np.array([0.3, 0.8, 0.5])
MIXTURE_1D = GaussianMixture.univariate(torch.tensor(W), torch.tensor(MU), torch.tensor(SD))


def gaussians() -> dict[str, Gaussian]:
    mean, cov = torch.tensor(MEAN), torch.tensor(COV)
    return {
        "dense": Gaussian(mean, cov),
        "diagonal": Gaussian.diagonal(mean, cov.diagonal().sqrt()),
        "isotropic": Gaussian.isotropic(mean, torch.tensor(0.7)),
    }


@pytest.mark.parametrize("structure", ["dense", "diagonal", "isotropic"])
def test_gaussian_denoiser_is_the_closed_form_conditional_mean(structure):
    """D(x, sigma) = m + S (S + sigma^2 I)^{-1} (x - m), numpy solve, one sigma per row."""
    data = gaussians()[structure]
    cov = data.covariance_matrix.numpy()
    x = torch.tensor([[0.3, 1.0, -2.0], [-2.0, 0.5, 0.0], [4.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    x = x.to(F64)
    sigma = torch.tensor([0.01, 0.7, 3.0, 100.0], dtype=F64)
    out = optimal_denoiser(data)(x, sigma)
    for i, s in enumerate(sigma.tolist()):
        expected = MEAN + cov @ np.linalg.solve(cov + s**2 * np.eye(3), x[i].numpy() - MEAN)
        np.testing.assert_allclose(out[i].numpy(), expected, rtol=1e-12, atol=1e-13)


def _quad_mixture_denoiser(y: float, sigma: float) -> float:
    """E[x | x + sigma n = y] for the 1-D mixture, as a ratio of two scipy quadratures."""

    def pdf(x: float, m: float, s: float) -> float:
        return math.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    def joint(x: float) -> float:
        prior = sum(w * pdf(x, m, s) for w, m, s in zip(W, MU, SD, strict=True))
        return prior * pdf(y, x, sigma)

    window = (y - 12 * sigma, y + 12 * sigma)  # the likelihood is negligible outside
    options = {
        "points": [m for m in MU if window[0] < m < window[1]],
        "epsabs": 0,
        "epsrel": 1e-12,
        "limit": 200,
    }
    numerator = integrate.quad(lambda x: x * joint(x), *window, **options)[0]
    return numerator / integrate.quad(joint, *window, **options)[0]


@pytest.mark.parametrize("sigma", [0.05, 0.6, 2.5])
def test_mixture_denoiser_matches_quadrature(sigma):
    """1-D three-component mixture: D(y, sigma) vs the ratio of two quadratures."""
    y = torch.tensor([-3.0, -1.0, 0.2, 1.7, 4.5], dtype=F64)
    out = optimal_denoiser(MIXTURE_1D)(y, sigma)
    expected = [_quad_mixture_denoiser(v, sigma) for v in y.tolist()]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-10)


def _mp_point_mass_denoiser(points, log_weights, y, sigma) -> np.ndarray:
    """sum_i softmax_i(log w_i - |y - x_i|^2 / (2 sigma^2)) x_i at 50 digits."""
    with mpmath.workdps(50):
        s2 = mpmath.mpf(sigma) ** 2
        logits = [
            mpmath.mpf(lw)
            - sum((mpmath.mpf(a) - mpmath.mpf(b)) ** 2 for a, b in zip(y, p, strict=True))
            / (2 * s2)
            for lw, p in zip(log_weights, points, strict=True)
        ]
        top = max(logits)
        weights = [mpmath.exp(v - top) for v in logits]
        total = sum(weights)
        return np.array(
            [
                float(
                    sum(w * mpmath.mpf(p[j]) for w, p in zip(weights, points, strict=True)) / total
                )
                for j in range(len(y))
            ]
        )


def test_empirical_denoiser_is_the_softmax_weighted_average_of_the_points():
    """Point masses: D(y, sigma) = sum_i softmax_i(log w_i - |y - x_i|^2 / 2 sigma^2) x_i
    (mpmath, 50 digits), with and without weights, at sigmas from memorizing to averaging."""
    g = torch.Generator().manual_seed(0)
    points = torch.randn(7, 3, generator=g, dtype=F64)
    weights = torch.softmax(torch.randn(7, generator=g, dtype=F64), 0)
    y = points[[0, 3, 5]] + 0.3 * torch.randn(3, 3, generator=g, dtype=F64)
    sigma = torch.tensor([0.02, 0.5, 4.0], dtype=F64)
    for w in (None, weights):
        data = GaussianMixture.empirical(points, weights=w)
        out = optimal_denoiser(data)(y, sigma)
        log_w = np.log(w.numpy()) if w is not None else np.zeros(7)
        for i in range(3):
            expected = _mp_point_mass_denoiser(
                points.tolist(), log_w, y[i].tolist(), float(sigma[i])
            )
            np.testing.assert_allclose(out[i].numpy(), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("std", [0.0, 0.4])
def test_denoiser_satisfies_the_orthogonality_principle_by_monte_carlo(std):
    """E[(x_0 - D(y)) g(y)] = 0 for g = 1, y_j, y_j^2 (D is the conditional mean): each sample
    mean within 5 SE of 0, for x_0 from an empirical law (smoothed or not), y = x_0 + sigma n."""
    n = 40000
    g = torch.Generator().manual_seed(3)
    points = 1.5 * torch.randn(12, 2, generator=g, dtype=F64)
    data = GaussianMixture.empirical(points, std)
    x0 = data.sample((n,), generator=g)
    sigma = torch.rand(n, generator=g, dtype=F64) * 2 + 0.1  # one sigma per row
    y = x0 + sigma[:, None] * torch.randn(n, 2, generator=g, dtype=F64)
    residual = x0 - optimal_denoiser(data)(y, sigma)
    features = [torch.ones(n, dtype=F64), y[:, 0], y[:, 1], y[:, 0] ** 2, sigma]
    for feature in features:
        for j in range(2):
            terms = residual[:, j] * feature
            se = terms.std() / math.sqrt(n)
            assert abs(float(terms.mean())) < 5 * float(se)
    # and D explains most of the variance of x_0 (it is not the trivial predictor E[x_0])
    assert float(residual.var(0).sum()) < 0.5 * float(x0.var(0).sum())


def test_sigma_zero_returns_x_and_sigma_infinite_returns_the_data_mean():
    x = torch.tensor([[0.3, 1.0, -2.0], [1.0, 1.0, 1.0]], dtype=F64)
    for data in (*gaussians().values(), GaussianMixture.empirical(torch.eye(3, dtype=F64))):
        denoise = optimal_denoiser(data)
        assert torch.equal(denoise(x, 0.0), x)
        out = denoise(x, torch.tensor([0.0, math.inf], dtype=F64))
        assert torch.equal(out[0], x[0])
        torch.testing.assert_close(out[1], data.mean, rtol=0, atol=0)


def test_float_and_tensor_sigma_agree_and_dtype_device_follow_x():
    data = GaussianMixture.empirical(torch.randn(5, 4, generator=torch.Generator().manual_seed(1)))
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(2))
    denoise = optimal_denoiser(data)
    a = denoise(x, 0.75)
    b = denoise(x, torch.full((3,), 0.75))
    c = denoise(x, torch.tensor(0.75, dtype=F64))
    assert a.dtype == torch.float32 and a.shape == x.shape
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(a, c, rtol=0, atol=0)


def test_ground_truth_predictions_are_the_denoiser_in_the_variance_exploding_frame():
    """x0*(x_t, t) = D(x_t / sqrt(abar_t), sigma_t) and
    eps*(x_t, t) = (x_t - sqrt(abar_t) x0*) / sqrt(1 - abar_t), with abar from numpy."""
    diffusion = Diffusion(Schedule.linear(50, 1e-3, 0.2))
    g = torch.Generator().manual_seed(4)
    data = GaussianMixture.empirical(torch.randn(9, 3, generator=g, dtype=F64), 0.1)
    x_t = torch.randn(4, 3, generator=g, dtype=F64)
    t = torch.tensor([1, 7, 30, 50])
    betas = diffusion.schedule.betas.numpy()
    abar = torch.tensor([np.prod(1 - betas[1 : s + 1]) for s in t.tolist()], dtype=F64)
    sigma = ((1 - abar) / abar).sqrt()
    x0 = optimal_x0(diffusion, data, x_t, t)
    expected = optimal_denoiser(data)(x_t / abar.sqrt()[:, None], sigma)
    torch.testing.assert_close(x0, expected, rtol=1e-12, atol=1e-12)
    eps = optimal_eps(diffusion, data, x_t, t)
    recon = (x_t - abar.sqrt()[:, None] * x0) / (1 - abar).sqrt()[:, None]
    torch.testing.assert_close(eps, recon, rtol=1e-9, atol=1e-9)


def test_empirical_marginal_is_the_scaled_points_with_the_noise_std():
    """marginal(empirical(points, s), t) = sum_i w_i N(sqrt(a) x_i, (a s^2 + 1 - a) I)."""
    diffusion = Diffusion(Schedule.linear(20, 1e-3, 0.1))
    points = torch.randn(6, 2, generator=torch.Generator().manual_seed(5), dtype=F64)
    a = float(np.prod(1 - diffusion.schedule.betas.numpy()[1:9]))
    for std in (0.0, 0.3):
        law = marginal(diffusion, GaussianMixture.empirical(points, std), 8)
        reference = GaussianMixture.isotropic(
            None,
            math.sqrt(a) * points,
            torch.full((6,), math.sqrt(a * std**2 + 1 - a), dtype=F64),
        )
        x = torch.randn(5, 2, generator=torch.Generator().manual_seed(6), dtype=F64)
        torch.testing.assert_close(law.log_prob(x), reference.log_prob(x), rtol=1e-12, atol=0)


def test_optimal_model_runs_a_sampler_on_empirical_data():
    """optimal_model accepts point masses; ddim (eta = 0) from x_T with all steps lands near
    a training point (the memorizing denoiser)."""
    diffusion = Diffusion(Schedule.linear(100, 1e-4, 0.05))
    points = 3 * torch.randn(4, 2, generator=torch.Generator().manual_seed(7), dtype=F64)
    model = optimal_model(diffusion, GaussianMixture.empirical(points))
    x_T = torch.randn(8, 2, generator=torch.Generator().manual_seed(8), dtype=F64)
    out = diffusion.sample(model, (8, 2), sampler="ddim", x_T=x_T)
    assert float(torch.cdist(out, points).min(-1).values.max()) < 1e-3


def test_point_masses_refuse_a_density_but_keep_their_moments():
    points = torch.tensor([[0.0, 1.0], [2.0, 3.0]], dtype=F64)
    data = GaussianMixture.empirical(points)
    torch.testing.assert_close(data.mean, torch.tensor([1.0, 2.0], dtype=F64))
    torch.testing.assert_close(data.variance, torch.tensor([1.0, 1.0], dtype=F64))
    with pytest.raises(ValueError, match="point-mass components"):
        data.log_prob(points)
    with pytest.raises(ValueError, match="point-mass components"):
        data.score(points)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: d(torch.zeros(2, 3, dtype=F64), -1.0), "sigma must be >= 0"),
        (lambda d: d(torch.zeros(2, 3, dtype=F64), math.nan), "sigma must be >= 0"),
        (lambda d: d(torch.zeros(2, 3, dtype=F64), torch.ones(3)), r"shape \(\) or \(B,\)"),
        (lambda d: d(torch.zeros(2, 3, dtype=F64), "1"), "sigma must be a float"),
        (lambda d: d(torch.zeros(2, 4, dtype=F64), 1.0), "x must have shape"),
        (lambda d: d(torch.zeros(2, 3), 1.0), "x must have data's dtype"),
    ],
)
def test_bad_denoiser_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call(optimal_denoiser(gaussians()["dense"]))


def test_bad_data_raises():
    with pytest.raises(TypeError, match="data must be"):
        optimal_denoiser(torch.distributions.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match="batch_shape"):
        optimal_denoiser(gaussians()["dense"].expand((2,)))
