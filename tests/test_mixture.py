"""GaussianMixture against scipy.stats, torch.distributions.MixtureSameFamily, numpy
quadrature, autograd and Monte Carlo (tolerances derived from standard errors)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch
from torch.distributions import (
    Categorical,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)

from gausslab import Gaussian, GaussianMixture, Isotropic
from tests.structures import STRUCTURES, from_matrix, random_gaussian

F64 = torch.float64


def parameters(structure: str, *batch: int, k: int = 3, d: int = 3, seed: int = 0):
    """(logits, means, covariance matrices) in float64, and the matching components."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(*batch, k, generator=g, dtype=F64)
    components = random_gaussian(structure, *batch, k, d=d, generator=g)
    return logits, components.loc, components.covariance_matrix, components


def scipy_density(logits, means, covs, x) -> np.ndarray:
    """sum_k w_k N(x; mu_k, Sigma_k) with scipy, for an unbatched mixture, in float64."""
    weights = scipy.special.softmax(logits.numpy())
    return sum(
        w * scipy.stats.multivariate_normal(m, c).pdf(x.numpy())
        for w, m, c in zip(weights, means.numpy(), covs.numpy(), strict=True)
    )


def torch_reference(logits, means, covs, structure):
    """torch's MixtureSameFamily over MultivariateNormal components (any structure)."""
    return MixtureSameFamily(Categorical(logits=logits), MultivariateNormal(means, covs))


# ----------------------------------------------------------------------------- densities
@pytest.mark.parametrize("structure", STRUCTURES)
def test_log_prob_matches_scipy_weighted_sum_of_pdfs(structure):
    """log p(x) = log sum_k w_k N(x; mu_k, Sigma_k), with the sum done by scipy in float64."""
    logits, means, covs, components = parameters(structure)
    x = 2 * torch.randn(50, 3, dtype=F64)
    expected = np.log(scipy_density(logits, means, covs, x))
    mixture = GaussianMixture(logits, components)
    np.testing.assert_allclose(mixture.log_prob(x).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(mixture.prob(x).numpy(), np.exp(expected), rtol=1e-12)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_batched_log_prob_matches_mixture_same_family(structure):
    """A (2,)-batch of mixtures evaluated on (5, 2, d) points agrees with torch's
    MixtureSameFamily over MultivariateNormal."""
    logits, means, covs, components = parameters(structure, 2)
    x = torch.randn(5, 2, 3, dtype=F64)
    mixture = GaussianMixture(logits, components)
    reference = torch_reference(logits, means, covs, structure)
    assert mixture.batch_shape == (2,) and mixture.event_shape == (3,)
    torch.testing.assert_close(mixture.log_prob(x), reference.log_prob(x), rtol=1e-12, atol=0)


def test_logits_broadcast_against_component_batch():
    """logits (K,) shared by a (2, K) batch of components: batch_shape (2,), and each batch
    element is the mixture with those weights."""
    logits, means, covs, components = parameters("isotropic", 2)
    shared = logits[0]
    mixture = GaussianMixture(shared, components)
    assert mixture.batch_shape == (2,)
    x = torch.randn(4, 3, dtype=F64)
    for b in range(2):
        expected = np.log(scipy_density(shared, means[b], covs[b], x))
        np.testing.assert_allclose(mixture.log_prob(x[:, None])[:, b].numpy(), expected)


def test_image_event_log_prob_matches_independent_normal_mixture():
    """An isotropic mixture over (2, 3, 4) events agrees with MixtureSameFamily over
    Independent(Normal, 3)."""
    g = torch.Generator().manual_seed(1)
    means = torch.randn(4, 2, 3, 4, generator=g, dtype=F64)
    std = 0.5 + torch.rand(4, generator=g, dtype=F64)
    logits = torch.randn(4, generator=g, dtype=F64)
    mixture = GaussianMixture.isotropic(means=means, stds=std, logits=logits)
    reference = MixtureSameFamily(
        Categorical(logits=logits),
        Independent(Normal(means, std[:, None, None, None].expand_as(means)), 3),
    )
    x = torch.randn(6, 2, 3, 4, generator=g, dtype=F64)
    assert mixture.event_shape == (2, 3, 4) and mixture.batch_shape == ()
    torch.testing.assert_close(mixture.log_prob(x), reference.log_prob(x), rtol=1e-12, atol=0)


def test_component_posterior_is_bayes_rule():
    """p(k | x) = w_k N_k(x) / sum_j w_j N_j(x), each term from scipy."""
    logits, means, covs, components = parameters("dense")
    x = torch.randn(20, 3, dtype=F64)
    weights = scipy.special.softmax(logits.numpy())
    joint = np.stack(
        [
            w * scipy.stats.multivariate_normal(m, c).pdf(x.numpy())
            for w, m, c in zip(weights, means.numpy(), covs.numpy(), strict=True)
        ],
        axis=-1,
    )
    posterior = GaussianMixture(logits, components).component_posterior(x)
    np.testing.assert_allclose(posterior.numpy(), joint / joint.sum(-1, keepdims=True))


@pytest.mark.parametrize("structure", STRUCTURES)
def test_far_from_every_mode_stays_finite_and_exact(structure):
    """At x 1000 sigma from every mode each density underflows, yet log p, p(k|x) and the
    score are finite and equal their dominant-term closed forms."""
    means = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=F64)
    mixture = GaussianMixture(
        torch.zeros(2, dtype=F64),
        from_matrix(structure, means, torch.eye(2, dtype=F64).expand(2, 2, 2)),
    )
    x = torch.tensor([[-1000.0, 0.0]], dtype=F64)
    # component 0 dominates by exp(-999.5): log p = log(1/2) + log N(x; 0, I)
    expected = math.log(0.5) - 0.5 * 1000.0**2 - math.log(2 * math.pi)
    assert mixture.log_prob(x).item() == pytest.approx(expected, rel=1e-14)
    torch.testing.assert_close(
        mixture.component_posterior(x), torch.tensor([[1.0, 0.0]], dtype=F64)
    )
    torch.testing.assert_close(mixture.score(x), torch.tensor([[1000.0, 0.0]], dtype=F64))


# ----------------------------------------------------------------------------- one component
@pytest.mark.parametrize("structure", STRUCTURES)
def test_single_component_mixture_is_the_gaussian(structure):
    """With K = 1 the mixture is its component: log p, mean, covariance and score
    -Sigma^{-1}(x - mu) (dense numpy solve) agree."""
    _, means, covs, components = parameters(structure, k=1)
    mixture = GaussianMixture(torch.zeros(1, dtype=F64), components)
    gaussian = Gaussian(means[0], covs[0])
    x = torch.randn(10, 3, dtype=F64)
    torch.testing.assert_close(mixture.log_prob(x), gaussian.log_prob(x))
    torch.testing.assert_close(mixture.mean, means[0])
    torch.testing.assert_close(mixture.covariance_matrix, covs[0])
    torch.testing.assert_close(mixture.variance, covs[0].diagonal())
    pull = np.linalg.solve(covs[0].numpy(), (x - means[0]).numpy().T).T
    np.testing.assert_allclose(mixture.score(x).numpy(), -pull, rtol=1e-11, atol=1e-12)


# ----------------------------------------------------------------------------- score
@pytest.mark.parametrize("structure", STRUCTURES)
def test_score_matches_autograd_of_log_prob(structure):
    """score(x) = grad_x log p(x): closed form vs autograd of our log_prob and of torch's
    MixtureSameFamily.log_prob, on a batched mixture, float64."""
    logits, means, covs, components = parameters(structure, 2, k=4)
    mixture = GaussianMixture(logits, components)
    x = 2 * torch.randn(7, 2, 3, dtype=F64)
    for log_prob in (mixture.log_prob, torch_reference(logits, means, covs, structure).log_prob):
        point = x.clone().requires_grad_()
        (grad,) = torch.autograd.grad(log_prob(point).sum(), point)
        torch.testing.assert_close(mixture.score(x), grad, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("event", [(), (2, 3)])
def test_score_matches_autograd_for_scalar_and_image_events(event):
    """The closed-form score is the gradient of log p for scalar and (2, 3) events."""
    g = torch.Generator().manual_seed(2)
    means = torch.randn(3, *event, generator=g, dtype=F64)
    stds = 0.5 + torch.rand(3, generator=g, dtype=F64)
    logits = torch.randn(3, generator=g, dtype=F64)
    if event:
        mixture = GaussianMixture.isotropic(means=means, stds=stds, logits=logits)
    else:
        mixture = GaussianMixture.univariate(means=means, stds=stds, logits=logits)
    x = torch.randn(5, *event, generator=g, dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(mixture.log_prob(x).sum(), x)
    torch.testing.assert_close(mixture.score(x.detach()), grad, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_score_in_float32_tracks_float64(structure):
    """The float32 score stays float32 and matches the float64 one to float32 accuracy at
    points near the modes of narrow components (std ~ 0.1 at |mu| ~ 8, where expanding
    |x - mu|^2 would cancel)."""
    logits, means, covs, _ = parameters(structure, k=8, d=16, seed=3)
    covs = 0.01 * covs
    g = torch.Generator().manual_seed(0)
    x = means[torch.arange(200) % 8] + 0.1 * torch.randn(200, 16, generator=g, dtype=F64)
    expected = GaussianMixture(logits, from_matrix(structure, means, covs)).score(x)
    mixture32 = GaussianMixture(logits.float(), from_matrix(structure, means.float(), covs.float()))
    score32 = mixture32.score(x.float())
    assert score32.dtype == torch.float32
    error = (score32.double() - expected).abs().max() / expected.abs().max()
    assert error.item() < 1e-4


# ----------------------------------------------------------------------------- sampling
def test_sample_moments_match_mean_and_covariance_within_standard_errors():
    """Sample mean and covariance of 200k draws lie within 5 SE of the law of total
    (co)variance; SE of each covariance entry from the spread of the centered products."""
    logits, _, _, components = parameters("dense", seed=4)
    mixture = GaussianMixture(logits, components)
    n = 200_000
    x = mixture.sample((n,), generator=torch.Generator().manual_seed(0))
    assert x.shape == (n, 3) and x.dtype == F64
    mean_se = x.std(0) / math.sqrt(n)
    assert ((x.mean(0) - mixture.mean).abs() < 5 * mean_se).all()
    centered = x - mixture.mean
    products = centered[:, :, None] * centered[:, None, :]
    cov_se = products.std(0) / math.sqrt(n)
    assert ((products.mean(0) - mixture.covariance_matrix).abs() < 5 * cov_se).all()


def test_component_frequencies_match_weights_within_binomial_se():
    """Draws from well separated components (means 100 sigma apart) fall to component k
    with frequency w_k within 5 binomial SE sqrt(w (1 - w) / n)."""
    weights = torch.tensor([0.1, 0.25, 0.65], dtype=F64)
    mixture = GaussianMixture.univariate(
        weights, torch.tensor([-100.0, 0.0, 100.0], dtype=F64), torch.ones(3, dtype=F64)
    )
    n = 100_000
    x = mixture.sample((n,), generator=torch.Generator().manual_seed(1))
    counts = torch.stack([(x < -50).sum(), ((x > -50) & (x < 50)).sum(), (x > 50).sum()])
    frequencies = counts.double() / n
    se = (weights * (1 - weights) / n).sqrt()
    assert ((frequencies - weights).abs() < 5 * se).all()


def test_sample_shape_dtype_and_generator_reproducibility():
    """Draws have shape sample + batch + event, keep the dtype, and a seeded generator
    reproduces them."""
    _, _, _, components = parameters("diagonal", 2)
    mixture = GaussianMixture(torch.zeros(3, dtype=F64), components)
    first = mixture.sample((4, 5), generator=torch.Generator().manual_seed(7))
    second = mixture.sample((4, 5), generator=torch.Generator().manual_seed(7))
    assert first.shape == (4, 5, 2, 3) and first.dtype == F64
    torch.testing.assert_close(first, second, rtol=0, atol=0)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_rsample_gradient_flows_to_means_not_to_weights(structure):
    """x = mu_k + L_k eps: d(sum of draws)/d mu sums to the number of draws per
    coordinate (each draw uses exactly one mean), and the logits receive no gradient."""
    logits, means, covs, _ = parameters(structure)
    means = means.clone().requires_grad_()
    logits = logits.clone().requires_grad_()
    components = from_matrix(structure, means, covs)
    n = 1000
    draws = GaussianMixture(logits, components).rsample((n,))
    draws.sum().backward()
    torch.testing.assert_close(means.grad.sum(0), torch.full((3,), float(n), dtype=F64))
    assert logits.grad is None


def test_rsample_gradient_reaches_the_scales():
    """For isotropic components d x / d s_k = eps for the draws from component k, so the
    gradient of sum(x^2) w.r.t. the stds is nonzero and finite."""
    std = torch.tensor([0.5, 2.0], dtype=F64, requires_grad=True)
    mixture = GaussianMixture.isotropic(means=torch.zeros(2, 3, dtype=F64), stds=std)
    mixture.rsample((500,)).square().sum().backward()
    assert torch.isfinite(std.grad).all() and (std.grad > 0).all()


# ----------------------------------------------------------------------------- moments
def test_variance_of_image_events_is_the_law_of_total_variance():
    """variance = sum_k w_k (s_k^2 + mu_k^2) - m^2 elementwise (computed here with numpy)
    for (2, 3) events, and within 5 SE of a Monte Carlo variance."""
    g = torch.Generator().manual_seed(5)
    means = torch.randn(3, 2, 3, generator=g, dtype=F64)
    std = 0.5 + torch.rand(3, generator=g, dtype=F64)
    logits = torch.randn(3, generator=g, dtype=F64)
    mixture = GaussianMixture.isotropic(means=means, stds=std, logits=logits)
    w = scipy.special.softmax(logits.numpy())[:, None, None]
    mu = means.numpy()
    mean = (w * mu).sum(0)
    variance = (w * (std.numpy()[:, None, None] ** 2 + mu**2)).sum(0) - mean**2
    np.testing.assert_allclose(mixture.mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(mixture.variance.numpy(), variance, rtol=1e-12)
    n = 100_000
    x = mixture.sample((n,), generator=torch.Generator().manual_seed(2))
    squared = (x - mixture.mean).square()
    se = squared.std(0) / math.sqrt(n)
    assert ((squared.mean(0) - mixture.variance).abs() < 5 * se).all()


def test_covariance_matrix_is_the_law_of_total_covariance():
    """covariance_matrix = sum_k w_k (Sigma_k + mu_k mu_k^T) - m m^T, summed in numpy."""
    logits, means, covs, components = parameters("dense", 2)
    mixture = GaussianMixture(logits, components)
    w = scipy.special.softmax(logits.numpy(), axis=-1)[..., None, None]
    mu = means.numpy()
    second = (w * (covs.numpy() + mu[..., :, None] * mu[..., None, :])).sum(-3)
    mean = (w[..., 0] * mu).sum(-2)
    expected = second - mean[..., :, None] * mean[..., None, :]
    np.testing.assert_allclose(mixture.covariance_matrix.numpy(), expected, rtol=1e-11)


# ----------------------------------------------------------------------------- algebra
@pytest.mark.parametrize("structure", STRUCTURES)
def test_affine_matches_independently_transformed_parameters(structure):
    """A x + b has components N(A mu_k + b, A Sigma_k A^T) (built here with numpy), same
    weights; checked on log p with scipy."""
    logits, means, covs, components = parameters(structure)
    a = torch.tensor([[1.0, 0.5, 0.0], [0.0, 2.0, -1.0]], dtype=F64)
    b = torch.tensor([0.3, -1.0], dtype=F64)
    mapped = GaussianMixture(logits, components).affine(a, b)
    a_np = a.numpy()
    new_means = torch.from_numpy(means.numpy() @ a_np.T + b.numpy())
    new_covs = torch.from_numpy(a_np @ covs.numpy() @ a_np.T)
    y = torch.randn(20, 2, dtype=F64)
    expected = np.log(scipy_density(logits, new_means, new_covs, y))
    np.testing.assert_allclose(mapped.log_prob(y).numpy(), expected, rtol=1e-11)


def test_batched_affine_lines_up_with_the_mixture_batch():
    """A (2,)-batch of matrices and offsets maps mixture[b] by A[b] x + b[b] (their batch
    dim pairs with the mixture's, not with the component axis)."""
    logits, means, covs, components = parameters("diagonal", 2, k=4)
    g = torch.Generator().manual_seed(10)
    a = torch.randn(2, 3, 3, generator=g, dtype=F64) + 3 * torch.eye(3, dtype=F64)
    b = torch.randn(2, 3, generator=g, dtype=F64)
    mapped = GaussianMixture(logits, components).affine(a, b)
    assert mapped.batch_shape == (2,)
    y = torch.randn(5, 3, dtype=F64)
    for i in range(2):
        new_means = means[i] @ a[i].T + b[i]
        new_covs = a[i] @ covs[i] @ a[i].T
        expected = scipy_density(logits[i], new_means, new_covs, y)
        np.testing.assert_allclose(mapped.prob(y[:, None])[:, i].numpy(), expected, rtol=1e-11)


def test_affine_matches_monte_carlo_of_the_mapped_draws():
    """Mean and variance of A x + b over 100k draws of x lie within 5 SE of those of
    mixture.affine(A, b)."""
    logits, _, _, components = parameters("diagonal", seed=6)
    mixture = GaussianMixture(logits, components)
    a = torch.tensor([[1.0, -1.0, 0.5], [0.2, 0.0, 1.5]], dtype=F64)
    b = torch.tensor([1.0, 2.0], dtype=F64)
    n = 100_000
    y = mixture.sample((n,), generator=torch.Generator().manual_seed(3)) @ a.T + b
    mapped = mixture.affine(a, b)
    assert ((y.mean(0) - mapped.mean).abs() < 5 * y.std(0) / math.sqrt(n)).all()
    squared = (y - mapped.mean).square()
    assert ((squared.mean(0) - mapped.variance).abs() < 5 * squared.std(0) / math.sqrt(n)).all()


def univariate_density(weights, means, stds, x: np.ndarray) -> np.ndarray:
    return sum(
        w * scipy.stats.norm(m, s).pdf(x) for w, m, s in zip(weights, means, stds, strict=True)
    )


def test_diffusion_marginal_matches_numerical_convolution():
    """x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps: the density of
    mixture.affine(sqrt(abar)).convolve(N(0, 1 - abar)) equals the quadrature of
    integral p_0(x0) N(z; sqrt(abar) x0, 1 - abar) dx0, and stays a univariate mixture."""
    weights = np.array([0.2, 0.5, 0.3])
    means, stds = np.array([-2.0, 0.5, 3.0]), np.array([0.3, 0.6, 0.2])
    mixture = GaussianMixture.univariate(
        torch.tensor(weights), torch.tensor(means), torch.tensor(stds)
    )
    abar = 0.6
    noise = Gaussian.univariate(
        torch.tensor(0.0, dtype=F64), torch.tensor(math.sqrt(1 - abar), dtype=F64)
    )
    marginal = mixture.affine(math.sqrt(abar)).convolve(noise)
    z = np.linspace(-4, 4, 9)
    x0 = np.linspace(-8, 8, 40_001)
    kernel = scipy.stats.norm(math.sqrt(abar) * x0[None, :], math.sqrt(1 - abar)).pdf(z[:, None])
    density = scipy.integrate.trapezoid(univariate_density(weights, means, stds, x0) * kernel, x0)
    assert marginal.event_shape == () and marginal.batch_shape == ()
    np.testing.assert_allclose(marginal.prob(torch.tensor(z)).numpy(), density, rtol=1e-9)


def test_convolve_with_isotropic_noise_keeps_structure_and_adds_variance():
    """X + Y with Y ~ N(c, s^2 I): components N(mu_k + c, (s_k^2 + s^2) I), isotropic."""
    logits, means, covs, components = parameters("isotropic")
    noise = Gaussian.isotropic(torch.tensor([0.1, 0.2, 0.3], dtype=F64), 0.7)
    result = GaussianMixture(logits, components).convolve(noise)
    assert isinstance(result.components.covariance, Isotropic)
    y = torch.randn(10, 3, dtype=F64)
    expected = scipy_density(logits, means + noise.loc, covs + 0.49 * torch.eye(3, dtype=F64), y)
    np.testing.assert_allclose(result.prob(y).numpy(), expected, rtol=1e-11)


@pytest.mark.parametrize("noise_structure", STRUCTURES)
def test_convolve_with_a_batched_gaussian_lines_up_with_the_mixture_batch(noise_structure):
    """A (2,)-batch Gaussian Y (one noise level per batch element, as for a batch of
    diffusion times) convolved with a (2,)-batch mixture: batch element b is mixture[b]
    convolved with Y[b] (Y's batch dim pairs with the mixture's, not with the components)."""
    logits, means, covs, components = parameters("isotropic", 2)
    noise_covs = torch.stack([torch.eye(3, dtype=F64), 4 * torch.eye(3, dtype=F64)])
    noise_covs = (
        noise_covs
        * torch.tensor([1.0, 1.5, 2.0], dtype=F64)[: 1 if noise_structure == "isotropic" else 3]
    )
    noise_means = torch.tensor([[0.0, 1.0, 0.0], [-1.0, 0.0, 2.0]], dtype=F64)
    noise = from_matrix(noise_structure, noise_means, noise_covs)
    result = GaussianMixture(logits, components).convolve(noise)
    assert result.batch_shape == (2,)
    y = torch.randn(5, 3, dtype=F64)
    for b in range(2):
        expected = scipy_density(logits[b], means[b] + noise_means[b], covs[b] + noise_covs[b], y)
        np.testing.assert_allclose(result.prob(y[:, None])[:, b].numpy(), expected, rtol=1e-11)


def test_convolve_matches_monte_carlo_of_summed_draws():
    """Mean and variance of X + Y from 100k independent draws lie within 5 SE of
    mixture.convolve(gaussian)'s."""
    logits, _, _, components = parameters("dense", seed=8)
    mixture = GaussianMixture(logits, components)
    other = Gaussian.diagonal(torch.tensor([1.0, 0.0, -1.0], dtype=F64), torch.tensor(0.5))
    n = 100_000
    g = torch.Generator().manual_seed(4)
    total = (
        mixture.sample((n,), generator=g)
        + other.loc
        + 0.5 * torch.randn(n, 3, generator=g, dtype=F64)
    )
    result = mixture.convolve(other)
    assert ((total.mean(0) - result.mean).abs() < 5 * total.std(0) / math.sqrt(n)).all()
    squared = (total - result.mean).square()
    assert ((squared.mean(0) - result.variance).abs() < 5 * squared.std(0) / math.sqrt(n)).all()


def test_marginal_matches_scipy_on_the_selected_coordinates():
    """x[idx] ~ sum_k w_k N(mu_k[idx], Sigma_k[idx][:, idx]), in the order of idx."""
    logits, means, covs, components = parameters("dense")
    idx = [2, 0]
    marginal = GaussianMixture(logits, components).marginal(idx)
    y = torch.randn(10, 2, dtype=F64)
    expected = scipy_density(logits, means[:, idx], covs[:, idx][:, :, idx], y)
    np.testing.assert_allclose(marginal.prob(y).numpy(), expected, rtol=1e-11)


@pytest.mark.parametrize("structure", ["diagonal", "dense"])
def test_condition_matches_brute_force_bayes_on_a_grid(structure):
    """p(x_1 | x_2 = v) for a 2-D mixture equals p(x_1, v) / integral p(x_1, v) dx_1 with
    the joint from scipy on a fine grid (trapezoid); the weights are updated by each
    component's marginal likelihood of v."""
    logits, means, covs, components = parameters(structure, d=2, seed=9)
    v = 0.7
    conditional = GaussianMixture(logits, components).condition([1], torch.tensor([v], dtype=F64))
    grid = np.linspace(-15, 15, 30_001)
    points = np.stack([grid, np.full_like(grid, v)], axis=-1)
    joint = scipy_density(logits, means, covs, torch.from_numpy(points))
    brute = joint / scipy.integrate.trapezoid(joint, grid)
    coarse = slice(0, None, 1000)
    ours = conditional.prob(torch.from_numpy(grid[coarse, None])).numpy()
    np.testing.assert_allclose(ours, brute[coarse], rtol=1e-8, atol=1e-14)
    mean = scipy.integrate.trapezoid(grid * brute, grid)
    assert conditional.mean.item() == pytest.approx(mean, rel=1e-8)


def test_condition_broadcasts_a_batch_of_values():
    """value of shape (4, 1) gives a (4,)-batch of conditionals, element i conditioned on
    value[i]."""
    logits, _, _, components = parameters("dense", d=2)
    mixture = GaussianMixture(logits, components)
    values = torch.tensor([[-1.0], [0.0], [0.5], [2.0]], dtype=F64)
    batched = mixture.condition([1], values)
    assert batched.batch_shape == (4,) and batched.event_shape == (1,)
    for i in range(4):
        single = mixture.condition([1], values[i])
        torch.testing.assert_close(batched.mean[i], single.mean)
        torch.testing.assert_close(batched.weights[i], single.weights)


# ----------------------------------------------------------------------------- entropy
def test_entropy_estimate_within_five_se_of_quadrature():
    """The Monte Carlo entropy of a 1-D mixture is within 5 SE of -integral p log p dx by
    adaptive quadrature (scipy.integrate.quad on scipy's density)."""
    weights = np.array([0.3, 0.7])
    means, stds = np.array([-1.0, 2.0]), np.array([0.5, 1.0])
    mixture = GaussianMixture.univariate(
        torch.tensor(weights), torch.tensor(means), torch.tensor(stds)
    )

    def integrand(x: float) -> float:
        p = univariate_density(weights, means, stds, np.array(x))
        return float(-p * np.log(p)) if p > 0 else 0.0

    exact, _ = scipy.integrate.quad(integrand, -15, 15, limit=200, points=[-1.0, 2.0])
    estimate, se = mixture.entropy_estimate(20_000, generator=torch.Generator().manual_seed(5))
    assert 0 < se.item() < 0.05
    assert abs(estimate.item() - exact) < 5 * se.item()


def test_entropy_has_no_closed_form():
    """entropy() refuses and points to entropy_estimate."""
    _, _, _, components = parameters("isotropic")
    with pytest.raises(NotImplementedError, match="entropy_estimate"):
        GaussianMixture(torch.zeros(3, dtype=F64), components).entropy()


# ----------------------------------------------------------------------------- constructors
def test_univariate_from_weights_equals_from_logits():
    """univariate(weights, ...) and univariate(..., logits=log weights + c) are the same
    mixture, with scalar events."""
    weights = torch.tensor([0.2, 0.8], dtype=F64)
    means, stds = torch.tensor([0.0, 1.0], dtype=F64), torch.tensor([1.0, 0.5], dtype=F64)
    by_weights = GaussianMixture.univariate(weights, means, stds)
    by_logits = GaussianMixture.univariate(means=means, stds=stds, logits=weights.log() + 3.0)
    assert by_weights.event_shape == () and by_weights.batch_shape == ()
    x = torch.linspace(-3, 3, 7, dtype=F64)
    torch.testing.assert_close(by_weights.log_prob(x), by_logits.log_prob(x))
    torch.testing.assert_close(by_logits.weights, weights)


def test_weights_and_logits_mean_the_same_in_every_constructor():
    """The issue's example: isotropic([0.3, 0.7], ...) has weights [0.3, 0.7] (it used to read
    them as logits and give [0.401, 0.599]); weights=, logits= and the positional first
    argument agree across univariate, isotropic and the raw constructor, compared with
    torch's MixtureSameFamily built from the same probabilities."""
    weights = torch.tensor([0.3, 0.7], dtype=F64)
    means = torch.tensor([[-1.0, 0.0], [2.0, 1.0]], dtype=F64)
    stds = torch.tensor([0.5, 1.5], dtype=F64)
    reference = MixtureSameFamily(
        Categorical(probs=weights), Independent(Normal(means, stds[:, None].expand(2, 2)), 1)
    )
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    components = Gaussian.isotropic(means, stds)
    built = [
        GaussianMixture.isotropic([0.3, 0.7], means, stds),
        GaussianMixture.isotropic(weights=weights, means=means, stds=stds),
        GaussianMixture.isotropic(means=means, stds=stds, logits=weights.log() - 2.0),
        GaussianMixture(weights.log() + 1.0, components),
        GaussianMixture(components=components, weights=weights),
    ]
    for mixture in built:
        torch.testing.assert_close(mixture.weights, weights)
        torch.testing.assert_close(mixture.log_prob(x), reference.log_prob(x))
    scalar = GaussianMixture.univariate([0.3, 0.7], means[:, 0], stds)
    torch.testing.assert_close(scalar.weights, weights)


def test_no_weights_means_equal_weights():
    """Neither weights nor logits: w_k = 1/K in every constructor."""
    means, stds = torch.zeros(4, 3, dtype=F64), torch.ones(4, dtype=F64)
    quarter = torch.full((4,), 0.25, dtype=F64)
    torch.testing.assert_close(GaussianMixture.isotropic(means=means, stds=stds).weights, quarter)
    torch.testing.assert_close(GaussianMixture.univariate(None, means[:, 0], stds).weights, quarter)
    components = Gaussian.isotropic(means, stds)
    torch.testing.assert_close(GaussianMixture(components=components).weights, quarter)


def test_ambiguous_weight_arguments_are_refused_by_name():
    """Both weights and logits, the old logits=True flag, logits passed where weights go (they
    do not sum to 1) and a missing means each raise an error that names the argument."""
    means, stds = torch.zeros(2, 1), torch.ones(2)
    with pytest.raises(ValueError, match=r"either weights .* or logits .*not both"):
        GaussianMixture.isotropic([0.5, 0.5], means, stds, logits=torch.zeros(2))
    with pytest.raises(TypeError, match="logits must be a tensor of log weights, got the bool"):
        GaussianMixture.univariate(torch.zeros(2), torch.zeros(2), stds, logits=True)
    with pytest.raises(ValueError, match=r"weights must sum to 1.*pass logits=\.\.\."):
        GaussianMixture.isotropic(torch.tensor([0.2, 1.3]), means, stds)
    with pytest.raises(ValueError, match=r"weights must be strictly positive.*pass logits"):
        GaussianMixture.isotropic(torch.tensor([-0.2, 1.2]), means, stds)
    with pytest.raises(TypeError, match="means is required"):
        GaussianMixture.univariate([0.5, 0.5], stds=stds)
    with pytest.raises(ValueError, match=r"weights must have shape \(\.\.\., K\) with K = 2"):
        GaussianMixture(components=Gaussian.isotropic(means, stds), weights=torch.ones(3) / 3)


def test_expand_repeats_the_mixture():
    """expand((4,)) gives 4 copies with the same density."""
    logits, _, _, components = parameters("diagonal")
    mixture = GaussianMixture(logits, components)
    expanded = mixture.expand((4,))
    x = torch.randn(3, 3, dtype=F64)
    assert expanded.batch_shape == (4,)
    torch.testing.assert_close(
        expanded.log_prob(x[:, None]), mixture.log_prob(x)[:, None].expand(3, 4)
    )


# ----------------------------------------------------------------------------- bad input
def test_bad_logits_raise_naming_logits():
    """NaN/inf logits and a K that differs from the components' are refused."""
    _, _, _, components = parameters("isotropic")
    with pytest.raises(ValueError, match=r"logits must be finite.*nan"):
        GaussianMixture(torch.tensor([0.0, float("nan"), 0.0], dtype=F64), components)
    with pytest.raises(ValueError, match=r"logits must be finite.*inf"):
        GaussianMixture(torch.tensor([0.0, float("inf"), 0.0], dtype=F64), components)
    with pytest.raises(
        ValueError, match=r"logits must have shape \(\.\.\., K\) with K = 3.*\(2,\)"
    ):
        GaussianMixture(torch.zeros(2, dtype=F64), components)


def test_components_must_be_a_batched_gaussian():
    """components without a batch dim is a ValueError, a non-Gaussian a TypeError."""
    single = Gaussian.isotropic(torch.zeros(3, dtype=F64), 1.0)
    with pytest.raises(ValueError, match="components must have at least one batch dim"):
        GaussianMixture(torch.zeros(1, dtype=F64), single)
    with pytest.raises(TypeError, match=r"components must be a gausslab.Gaussian"):
        GaussianMixture(torch.zeros(2), Normal(torch.zeros(2), torch.ones(2)))


def test_weights_must_be_a_distribution():
    """Negative weights and weights whose sum is far from 1 are refused, naming weights."""
    means, stds = torch.zeros(2), torch.ones(2)
    with pytest.raises(ValueError, match=r"weights must be strictly positive.*-0.5"):
        GaussianMixture.univariate(torch.tensor([1.5, -0.5]), means, stds)
    with pytest.raises(ValueError, match=r"weights must sum to 1.*0.2"):
        GaussianMixture.univariate(torch.tensor([0.5, 0.7]), means, stds)


def test_constructor_arguments_are_checked():
    """isotropic needs (K, *event) means and (K,) stds; univariate refuses scalar means and
    non-positive stds; entropy_estimate needs at least 2 samples."""
    with pytest.raises(ValueError, match=r"stds must have shape \(K,\) = \(3,\).*\(2,\)"):
        GaussianMixture.isotropic(None, torch.zeros(3, 2), torch.ones(2))
    with pytest.raises(ValueError, match=r"means must have shape \(K, \*event_shape\)"):
        GaussianMixture.isotropic(None, torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="means must have shape"):
        GaussianMixture.univariate(torch.ones(1), 0.0, 1.0)
    with pytest.raises(ValueError, match=r"stds must be strictly positive.*-1"):
        GaussianMixture.univariate(
            torch.tensor([0.5, 0.5]), torch.zeros(2), torch.tensor([1.0, -1.0])
        )
    mixture = GaussianMixture.univariate(torch.tensor([0.5, 0.5]), torch.zeros(2), torch.ones(2))
    with pytest.raises(ValueError, match="num_samples must be an int >= 2"):
        mixture.entropy_estimate(1)


def test_float64_points_on_a_float32_mixture_are_promoted_not_truncated():
    """x in float64 on a float32 mixture gives float64 log p and score (torch promotion),
    equal to the float32 mixture's parameters evaluated in float64."""
    logits, means, covs, _ = parameters("isotropic")
    x = torch.randn(4, 3, dtype=F64)
    exact = GaussianMixture(
        logits.float().double(),
        from_matrix("isotropic", means.float().double(), covs.float().double()),
    )
    for structure in ("isotropic", "diagonal"):
        mixture32 = GaussianMixture(
            logits.float(), from_matrix(structure, means.float(), covs.float())
        )
        assert mixture32.log_prob(x).dtype == F64 and mixture32.score(x).dtype == F64
        torch.testing.assert_close(mixture32.log_prob(x), exact.log_prob(x), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(mixture32.score(x), exact.score(x), rtol=1e-6, atol=1e-6)


def test_value_of_the_wrong_event_shape_is_refused():
    """x, and the value conditioned on, must match the event."""
    logits, _, _, components = parameters("dense")
    mixture = GaussianMixture(logits, components)
    with pytest.raises(ValueError, match=r"x must end with the event shape \(3,\).*\(5, 2\)"):
        mixture.log_prob(torch.zeros(5, 2, dtype=F64))
    with pytest.raises(ValueError, match=r"x must end with the event shape"):
        mixture.score(torch.zeros(4, dtype=F64))
    with pytest.raises(ValueError, match=r"value must have shape \(\.\.\., 1\).*\(2,\)"):
        mixture.condition([0], torch.zeros(2, dtype=F64))
    with pytest.raises(ValueError, match="other must have the mixture's event shape"):
        mixture.convolve(Gaussian.isotropic(torch.zeros(2, dtype=F64), 1.0))


def test_a_zero_weight_is_refused_by_name():
    """A weight of 0 (log weight -inf) is reported as a bad weight, not as a bad logit."""
    with pytest.raises(
        ValueError, match=r"weights must be strictly positive.*got a smallest entry of 0"
    ):
        GaussianMixture.univariate([0.0, 1.0], [0.0, 1.0], [1.0, 1.0])


# ----------------------------------------------------------------------------- empirical
def test_empirical_samples_are_the_points_with_their_weights():
    """Point masses: every draw is one of the points; frequencies within 5 binomial SE."""
    points = torch.tensor([[0.0, 1.0], [2.0, -1.0], [5.0, 5.0]], dtype=F64)
    weights = torch.tensor([0.2, 0.3, 0.5], dtype=F64)
    data = GaussianMixture.empirical(points, weights=weights)
    n = 20000
    draws = data.sample((n,), generator=torch.Generator().manual_seed(0))
    which = torch.cdist(draws, points).argmin(-1)
    assert torch.equal(draws, points[which])
    frequencies = torch.bincount(which, minlength=3).to(F64) / n
    se = (weights * (1 - weights) / n).sqrt()
    assert bool(((frequencies - weights).abs() < 5 * se).all())


def test_smoothed_empirical_is_the_isotropic_mixture_and_scalar_points_work():
    points = torch.tensor([[0.0, 1.0], [2.0, -1.0]], dtype=F64)
    smooth = GaussianMixture.empirical(points, 0.5)
    reference = Independent(Normal(points, 0.5), 1)
    mixture = MixtureSameFamily(Categorical(logits=torch.zeros(2, dtype=F64)), reference)
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    torch.testing.assert_close(smooth.log_prob(x), mixture.log_prob(x))
    scalar = GaussianMixture.empirical(torch.tensor([1.0, 3.0], dtype=F64), 0.5)
    expected = np.log(0.5 * scipy.stats.norm.pdf(2.2, [1.0, 3.0], 0.5).sum())
    np.testing.assert_allclose(float(scalar.log_prob(torch.tensor(2.2, dtype=F64))), expected)


def test_empirical_arguments_are_checked():
    points = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="std must be one number >= 0"):
        GaussianMixture.empirical(points, -0.1)
    with pytest.raises(ValueError, match="std must be one number >= 0"):
        GaussianMixture.empirical(points, torch.ones(3))
    with pytest.raises(ValueError, match=r"weights must have shape \(\.\.\., K\) with K = 3"):
        GaussianMixture.empirical(points, weights=torch.full((2,), 0.5))
    with pytest.raises(ValueError, match="points must be finite"):
        GaussianMixture.empirical(torch.tensor([[0.0, math.inf]]))
    with pytest.raises(ValueError, match="points must have shape"):
        GaussianMixture.empirical(torch.tensor(1.0))
    with pytest.raises(ValueError, match="point-mass components"):
        GaussianMixture.empirical(torch.zeros(2, 2)).condition(0, torch.tensor([1.0]))
