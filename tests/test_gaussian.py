"""Gaussian against torch.distributions, scipy.stats and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import Independent, MultivariateNormal, Normal

from gausslab import Gaussian, UnivariateGaussian
from tests.structures import STRUCTURES, random_gaussian

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float64: dict(rtol=1e-10, atol=1e-10)}


def random_spd(*batch: int, d: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(*batch, d, d, generator=generator, dtype=torch.float64)
    return (a @ a.mT / d + 0.5 * torch.eye(d, dtype=torch.float64)).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_log_prob_and_entropy_match_multivariate_normal(dtype):
    """log p(x) and H agree with torch's MultivariateNormal on a broadcast batch."""
    cov = random_spd(3, d=4, dtype=dtype)
    loc = torch.randn(2, 1, 4, dtype=dtype)
    x = torch.randn(5, 2, 3, 4, dtype=dtype)
    ours, ref = Gaussian(loc, cov), MultivariateNormal(loc, cov)
    assert ours.batch_shape == ref.batch_shape == (2, 3)
    assert ours.event_shape == (4,)
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x), **TOL[dtype])
    torch.testing.assert_close(ours.entropy(), ref.entropy(), **TOL[dtype])
    assert ours.log_prob(x).dtype == dtype


def test_dense_log_prob_matches_scipy():
    """log p(x) agrees with scipy.stats.multivariate_normal.logpdf in float64."""
    cov = random_spd(d=5)
    loc = torch.randn(5, dtype=torch.float64)
    x = torch.randn(100, 5, dtype=torch.float64)
    expected = scipy.stats.multivariate_normal(loc.numpy(), cov.numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(Gaussian(loc, cov).log_prob(x).numpy(), expected, rtol=1e-11)
    entropy = scipy.stats.multivariate_normal(loc.numpy(), cov.numpy()).entropy()
    assert Gaussian(loc, cov).entropy().item() == pytest.approx(entropy, rel=1e-12)


def test_three_parameterizations_give_the_same_distribution():
    """covariance_matrix, scale_tril and precision_matrix describe one Gaussian."""
    cov = random_spd(2, d=3)
    loc = torch.randn(2, 3, dtype=torch.float64)
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    by_cov = Gaussian(loc, cov)
    by_tril = Gaussian(loc, scale_tril=torch.linalg.cholesky(cov))
    by_precision = Gaussian(loc, precision_matrix=torch.linalg.inv(cov))
    for other in (by_tril, by_precision):
        torch.testing.assert_close(other.log_prob(x), by_cov.log_prob(x))
        torch.testing.assert_close(other.covariance_matrix, cov)
        torch.testing.assert_close(other.precision_matrix, torch.linalg.inv(cov))
        torch.testing.assert_close(other.scale_tril, torch.linalg.cholesky(cov))


@pytest.mark.parametrize("dtype", DTYPES)
def test_diagonal_matches_independent_normal_for_image_events(dtype):
    """A (3, 8, 8) diagonal Gaussian is one event: log p is a sum of 192 normal terms."""
    loc = torch.randn(2, 3, 8, 8, dtype=dtype)
    std = torch.rand(3, 1, 1, dtype=dtype) + 0.5
    x = torch.randn(4, 2, 3, 8, 8, dtype=dtype)
    ours = Gaussian.diagonal(loc, std, event_ndims=3)
    ref = Independent(Normal(loc, std.expand_as(loc)), 3)
    assert ours.batch_shape == (2,) and ours.event_shape == (3, 8, 8)
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x), **TOL[dtype])
    torch.testing.assert_close(ours.entropy(), ref.entropy(), **TOL[dtype])
    torch.testing.assert_close(ours.variance, std.square().expand_as(loc))


@pytest.mark.parametrize("dtype", DTYPES)
def test_isotropic_matches_dense_with_scaled_identity(dtype):
    """N(mu, s^2 I) equals the dense Gaussian with covariance s^2 I, one s per batch element."""
    loc = torch.randn(3, 6, dtype=dtype)
    std = torch.tensor([0.5, 1.0, 2.0], dtype=dtype)
    x = torch.randn(10, 3, 6, dtype=dtype)
    ours = Gaussian.isotropic(loc, std)
    dense = MultivariateNormal(loc, std[:, None, None] ** 2 * torch.eye(6, dtype=dtype))
    torch.testing.assert_close(ours.log_prob(x), dense.log_prob(x), **TOL[dtype])
    torch.testing.assert_close(ours.entropy(), dense.entropy(), **TOL[dtype])
    torch.testing.assert_close(ours.covariance_matrix, dense.covariance_matrix)


def test_univariate_matches_scipy_norm():
    """pdf, log pdf, cdf, log cdf and quantiles agree with scipy.stats.norm."""
    loc = torch.tensor([-1.0, 0.0, 3.0], dtype=torch.float64)
    std = torch.tensor([0.5, 1.0, 4.0], dtype=torch.float64)
    g = Gaussian.univariate(loc, std)
    assert isinstance(g, UnivariateGaussian) and g.event_shape == ()
    x = torch.linspace(-8, 8, 33, dtype=torch.float64)[:, None]
    ref = scipy.stats.norm(loc.numpy(), std.numpy())
    np.testing.assert_allclose(g.log_prob(x).numpy(), ref.logpdf(x.numpy()), rtol=1e-12)
    np.testing.assert_allclose(g.prob(x).numpy(), ref.pdf(x.numpy()), rtol=1e-12)
    np.testing.assert_allclose(g.cdf(x).numpy(), ref.cdf(x.numpy()), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(g.log_cdf(x).numpy(), ref.logcdf(x.numpy()), rtol=1e-12)
    p = torch.tensor([[1e-10], [0.01], [0.5], [0.975]], dtype=torch.float64)
    np.testing.assert_allclose(g.icdf(p).numpy(), ref.ppf(p.numpy()), rtol=1e-10)
    assert g.entropy().numpy() == pytest.approx(ref.entropy(), rel=1e-12)


def test_standardization_maps_to_standard_normal_coordinates():
    """Z = (X - mu) / sigma for a univariate Gaussian; Z = L^{-1}(x - mu) in general."""
    g = Gaussian.univariate(torch.tensor(2.0), torch.tensor(3.0))
    torch.testing.assert_close(g.standardize(torch.tensor(8.0)), torch.tensor(2.0))
    cov = random_spd(d=3)
    dense = Gaussian(torch.zeros(3, dtype=torch.float64), cov)
    x = torch.randn(4, 3, dtype=torch.float64)
    expected = torch.linalg.solve(torch.linalg.cholesky(cov), x.T).T
    torch.testing.assert_close(dense.standardize(x), expected)


def test_mahalanobis_matches_eigendecomposition():
    """sqrt((x-mu)^T Sigma^{-1} (x-mu)) = sqrt(sum_i (v_i . (x-mu))^2 / lambda_i)."""
    cov = random_spd(d=4, seed=3)
    loc = torch.randn(4, dtype=torch.float64)
    x = torch.randn(20, 4, dtype=torch.float64)
    eigenvalues, eigenvectors = np.linalg.eigh(cov.numpy())
    projected = (x - loc).numpy() @ eigenvectors
    expected = np.sqrt((projected**2 / eigenvalues).sum(-1))
    np.testing.assert_allclose(Gaussian(loc, cov).mahalanobis(x).numpy(), expected, rtol=1e-11)


def test_principal_axes_are_sorted_eigenpairs():
    """Variances descend and each direction is a unit eigenvector of Sigma."""
    cov = torch.tensor([[2.0, 0.8], [0.8, 1.0]], dtype=torch.float64)
    variances, directions = Gaussian(torch.zeros(2, dtype=torch.float64), cov).principal_axes()
    expected = np.sort(np.linalg.eigvalsh(cov.numpy()))[::-1]
    np.testing.assert_allclose(variances.numpy(), expected, rtol=1e-12)
    torch.testing.assert_close(cov @ directions, directions * variances)
    torch.testing.assert_close(directions.mT @ directions, torch.eye(2, dtype=torch.float64))


def test_principal_axes_of_diagonal_and_isotropic_structures():
    """Diagonal: sorted variances along coordinate axes; isotropic: all equal (a circle)."""
    diagonal = Gaussian.diagonal(torch.zeros(3), torch.tensor([1.0, 3.0, 2.0]))
    variances, directions = diagonal.principal_axes()
    torch.testing.assert_close(variances, torch.tensor([9.0, 4.0, 1.0]))
    torch.testing.assert_close(diagonal.covariance_matrix @ directions, directions * variances)
    isotropic = Gaussian.isotropic(torch.zeros(2), 1.5)
    variances, directions = isotropic.principal_axes()
    torch.testing.assert_close(variances, torch.tensor([2.25, 2.25]))
    torch.testing.assert_close(directions, torch.eye(2))


@pytest.mark.parametrize("structure", STRUCTURES)
def test_sample_moments_match_within_standard_error(structure):
    """Sample mean and covariance are within 5 standard errors of mu and Sigma.

    SE(mean_i) = sqrt(Sigma_ii / N); SE(cov_ij) = sqrt((Sigma_ii Sigma_jj + Sigma_ij^2) / N).
    """
    torch.manual_seed(1)
    g = random_gaussian(structure, d=3, seed=5)
    loc = g.loc
    n = 200_000
    draws = g.sample((n,))
    assert draws.shape == (n, 3)
    cov = g.covariance_matrix
    variance = cov.diagonal()
    assert ((draws.mean(0) - loc).abs() < 5 * (variance / n).sqrt()).all()
    empirical = torch.cov(draws.T)
    se = ((variance[:, None] * variance[None, :] + cov**2) / n).sqrt()
    assert ((empirical - cov).abs() < 5 * se).all()


def test_reparameterized_gradients_match_the_seed_vae_example():
    """z = mu + sigma eps and L = z^2 give dL/dmu = 2z and dL/dlog_sigma = 2 z sigma eps."""
    mu = torch.tensor([1.0], requires_grad=True)
    log_sigma = torch.tensor([0.3], requires_grad=True)
    g = Gaussian.diagonal(mu, log_sigma.exp())
    torch.manual_seed(7)
    z = g.rsample()
    torch.manual_seed(7)
    eps = torch.randn(1)
    (z**2).sum().backward()
    torch.testing.assert_close(mu.grad, 2 * z.detach())
    torch.testing.assert_close(log_sigma.grad, 2 * z.detach() * log_sigma.exp().detach() * eps)


def test_reparameterized_gradient_of_expected_loss_matches_analytic_value():
    """d/dmu E[|z|^2] = 2 mu for z ~ N(mu, L L^T): Monte Carlo mean within 5 SE."""
    mu = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    scale_tril = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=torch.float64)
    torch.manual_seed(3)
    n = 100_000
    z = Gaussian(mu, scale_tril=scale_tril).rsample((n,))
    per_sample_grad = 2 * z.detach()  # dL/dmu for each draw
    (z.square().sum(-1).mean()).backward()
    se = per_sample_grad.std(0) / math.sqrt(n)
    assert ((mu.grad - 2 * mu.detach()).abs() < 5 * se).all()


def test_log_prob_gradcheck_in_float64():
    """Autograd gradients of log p w.r.t. x, loc and covariance agree with finite differences."""
    a = torch.randn(3, 3, dtype=torch.float64)
    base = a @ a.T + torch.eye(3, dtype=torch.float64)

    def log_prob(x, loc, perturbation):
        cov = base + perturbation @ perturbation.T
        return Gaussian(loc, cov).log_prob(x)

    inputs = (
        torch.randn(4, 3, dtype=torch.float64, requires_grad=True),
        torch.randn(3, dtype=torch.float64, requires_grad=True),
        (0.1 * torch.randn(3, 3, dtype=torch.float64)).requires_grad_(),
    )
    assert torch.autograd.gradcheck(log_prob, inputs)
    std = torch.tensor([0.7, 1.3], dtype=torch.float64, requires_grad=True)
    x = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, s: Gaussian.diagonal(0.0, s).log_prob(x), (x, std))


def test_expand_broadcasts_batch_without_copying_parameters():
    """expand gives the requested batch shape and the same densities."""
    g = Gaussian(torch.zeros(3), random_spd(d=3, dtype=torch.float32))
    expanded = g.expand((4, 2))
    assert expanded.batch_shape == (4, 2) and expanded.event_shape == (3,)
    x = torch.randn(3)
    torch.testing.assert_close(expanded.log_prob(x), g.log_prob(x).expand(4, 2))
    with pytest.raises(ValueError, match="expand"):
        Gaussian(torch.zeros(2, 3), random_spd(d=3, dtype=torch.float32)).expand((5,))


def test_dtype_is_kept_and_integers_become_default_float():
    """float32 stays float32, float64 stays float64, integer loc becomes the default float."""
    assert Gaussian.isotropic(torch.zeros(2, dtype=torch.float64), 1.0).mean.dtype == torch.float64
    assert Gaussian.diagonal(torch.zeros(2), 1.0).sample().dtype == torch.float32
    assert Gaussian.diagonal([1, 2], [1, 1]).mean.dtype == torch.get_default_dtype()


def test_is_a_torch_distribution_with_rsample_and_support():
    """Gaussian plugs into torch.distributions: has_rsample, support, sample shapes."""
    g = Gaussian.isotropic(torch.zeros(2, 3, 4, 4), 1.0, event_ndims=3)
    assert isinstance(g, torch.distributions.Distribution) and g.has_rsample
    assert g.sample((5,)).shape == (5, 2, 3, 4, 4)
    assert g.support.event_dim == 3
    assert g.dim == 48


# ---------------------------------------------------------------- bad input


def spd2() -> torch.Tensor:
    return torch.tensor([[1.0, 0.5], [0.5, 1.0]])


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Gaussian(torch.zeros(2)), "exactly one of"),
        (lambda: Gaussian(torch.zeros(2), spd2(), scale_tril=spd2()), "exactly one of"),
        (lambda: Gaussian(torch.zeros(2), torch.ones(2, 3)), "covariance_matrix must have shape"),
        (lambda: Gaussian(torch.zeros(3), spd2()), "d = loc.shape"),
        (lambda: Gaussian(torch.zeros(2), torch.tensor([[1.0, 0.9], [0.1, 1.0]])), "symmetric"),
        (
            lambda: Gaussian(torch.zeros(2), torch.tensor([[1.0, 2.0], [2.0, 1.0]])),
            "positive definite, but its smallest eigenvalue is -1",
        ),
        (lambda: Gaussian(torch.tensor([0.0, float("nan")]), spd2()), "loc must be finite"),
        (
            lambda: Gaussian(torch.zeros(2), torch.tensor([[1.0, float("inf")], [0.0, 1.0]])),
            "covariance_matrix must be finite",
        ),
        (
            lambda: Gaussian(torch.zeros(2), scale_tril=torch.tensor([[1.0, 1.0], [0.0, 1.0]])),
            "scale_tril must be lower triangular",
        ),
        (
            lambda: Gaussian(torch.zeros(2), scale_tril=torch.tensor([[1.0, 0.0], [0.0, -1.0]])),
            "diagonal of scale_tril must be strictly positive",
        ),
        (
            lambda: Gaussian(torch.zeros(2), precision_matrix=-spd2()),
            "precision_matrix must be positive definite",
        ),
        (lambda: Gaussian(torch.tensor(0.0), torch.ones(1, 1)), "loc must have shape"),
        (lambda: Gaussian.diagonal(torch.zeros(3), torch.tensor([1.0, -1.0, 1.0])), "std must"),
        (lambda: Gaussian.diagonal(torch.zeros(3), torch.zeros(3)), "std must be strictly"),
        (lambda: Gaussian.isotropic(torch.zeros(3), float("nan")), "std must be finite"),
        (lambda: Gaussian.diagonal(torch.zeros(3), torch.ones(2)), "std must broadcast"),
        (lambda: Gaussian.isotropic(torch.zeros(2, 3), torch.ones(3)), "std must broadcast"),
        (lambda: Gaussian.isotropic(torch.zeros(3), 1.0, event_ndims=2), "event_ndims must be"),
        (lambda: Gaussian.univariate(0.0, -2.0), "std must be strictly positive"),
        (lambda: Gaussian.diagonal(torch.zeros(2), "wide"), "std must be a tensor"),
        (lambda: Gaussian.diagonal(torch.zeros(2, dtype=torch.bool), 1.0), "real floating"),
    ],
)
def test_bad_parameters_raise_clear_value_errors(build, match):
    """Each bad constructor argument raises an error that names it and says what was wrong."""
    with pytest.raises((ValueError, TypeError), match=match):
        build()


def test_log_prob_refuses_wrong_event_shape_and_nan():
    """x must end with the event shape; NaN x is refused while validating."""
    g = Gaussian(torch.zeros(2), spd2())
    with pytest.raises(ValueError, match=r"x must end with the event shape \(2,\)"):
        g.log_prob(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="NaN"):
        g.log_prob(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="p must"):
        Gaussian.univariate(0.0, 1.0).icdf(1.5)


def test_validate_args_false_skips_parameter_checks():
    """validate_args=False builds without checking (the caller vouches for the parameters)."""
    g = Gaussian.isotropic(torch.zeros(2), -1.0, validate_args=False)
    assert g.batch_shape == ()
