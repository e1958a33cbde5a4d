"""affine, marginal, condition, product and convolve against independent references: dense
float64 linear algebra written here with numpy (np.linalg.solve / inv), scipy.stats, 1-D
quadrature with scipy.integrate.quad, and Monte Carlo with tolerances of 5 standard errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gausslab
from gausslab import Gaussian
from gausslab.covariance import Dense, Diagonal, Isotropic
from tests.structures import STRUCTURES, random_gaussian

F64 = torch.float64
SETTINGS = settings(max_examples=25, deadline=None)


def spd(d: int, seed: int, *batch: int) -> torch.Tensor:
    """A random well-conditioned symmetric positive-definite (..., d, d) float64 matrix."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*batch, d, d))
    return torch.from_numpy(a @ np.swapaxes(a, -1, -2) / d + 0.5 * np.eye(d))


def dense(d: int, seed: int, *batch: int) -> Gaussian:
    rng = np.random.default_rng(seed + 1000)
    return Gaussian(torch.from_numpy(rng.standard_normal((*batch, d))), spd(d, seed, *batch))


def schur_reference(mu, sigma, idx, value):
    """Conditional N(x_1 | x_2 = value) by the textbook formula with np.linalg.solve."""
    mu, sigma, value = np.asarray(mu), np.asarray(sigma), np.asarray(value)
    rest = [i for i in range(len(mu)) if i not in idx]
    s11 = sigma[np.ix_(rest, rest)]
    s12 = sigma[np.ix_(rest, idx)]
    s22 = sigma[np.ix_(idx, idx)]
    gain = np.linalg.solve(s22, s12.T).T
    return mu[rest] + gain @ (value - mu[idx]), s11 - gain @ s12.T


def assert_within_se(estimate, exact, se, z: float = 5.0):
    estimate, exact, se = (np.asarray(v, dtype=float) for v in (estimate, exact, se))
    assert np.all(np.abs(estimate - exact) < z * se), (estimate, exact, se)


# ------------------------------------------------------------------------------ condition
def test_seed_exercise_conditional_is_n_1_05_0_51():
    """Seed exercise 2: mu = 0, Sigma = [[1, .7], [.7, 1]] gives x1 | x2 = 1.5 ~ N(1.05, 0.51)."""
    g = Gaussian(torch.zeros(2, dtype=F64), torch.tensor([[1.0, 0.7], [0.7, 1.0]], dtype=F64))
    conditional = g.condition([1], [1.5])
    assert conditional.event_shape == (1,)
    assert conditional.mean.item() == pytest.approx(1.05, abs=1e-15)
    assert conditional.variance.item() == pytest.approx(0.51, abs=1e-15)


def test_seed_exercise_by_sampling_the_joint_rejection_free():
    """Sampling the joint: r = x1 - 0.7 x2 is independent of x2 with law N(0, 0.51), so
    x1 | x2 = 1.5 has mean E[r] + 0.7 * 1.5 and variance Var r; checked within 5 SE."""
    torch.manual_seed(0)
    g = Gaussian(torch.zeros(2, dtype=F64), torch.tensor([[1.0, 0.7], [0.7, 1.0]], dtype=F64))
    n = 200_000
    x = g.sample((n,)).numpy()
    r = x[:, 0] - 0.7 * x[:, 1]
    conditional = g.condition([1], [1.5])
    assert_within_se(r.mean() + 0.7 * 1.5, conditional.mean.item(), r.std() / math.sqrt(n))
    variance_se = conditional.variance.item() * math.sqrt(2 / n)
    assert_within_se(r.var(), conditional.variance.item(), variance_se)
    assert_within_se(np.mean(r * x[:, 1]), 0.0, r.std() / math.sqrt(n))
    draws = conditional.sample((n,)).numpy()[:, 0]
    assert_within_se(draws.mean(), 1.05, math.sqrt(0.51 / n))


@pytest.mark.parametrize("idx", [[0, 1], [3], [4, 1], [2, 0, 3], [-1, 1]])
def test_condition_matches_the_textbook_schur_complement(idx):
    """Dense conditioning (prefix, single, unsorted and negative idx) equals
    mu_1 + S12 S22^{-1} (v - mu_2), S11 - S12 S22^{-1} S21 from np.linalg.solve."""
    g = dense(5, seed=3)
    value = np.random.default_rng(1).standard_normal(len(idx))
    result = g.condition(idx, torch.from_numpy(value))
    normalized = [i % 5 for i in idx]
    mu, sigma = schur_reference(g.loc.numpy(), g.covariance_matrix.numpy(), normalized, value)
    np.testing.assert_allclose(result.mean.numpy(), mu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.covariance_matrix.numpy(), sigma, rtol=1e-11, atol=1e-12)
    assert isinstance(result.covariance, Dense)


def test_condition_broadcasts_value_batch_with_distribution_batch():
    """value of shape (4, 1, k) and a batch (3,) of Gaussians give a (4, 3) batch whose every
    member is the Schur complement of its own pair."""
    g = dense(4, 7, 3)
    values = torch.from_numpy(np.random.default_rng(2).standard_normal((4, 1, 2)))
    result = g.condition([2, 0], values)
    assert result.batch_shape == (4, 3) and result.event_shape == (2,)
    for i in range(4):
        for j in range(3):
            mu, sigma = schur_reference(
                g.loc[j].numpy(), g.covariance_matrix[j].numpy(), [2, 0], values[i, 0].numpy()
            )
            np.testing.assert_allclose(result.mean[i, j].numpy(), mu, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(result.covariance_matrix[i, j].numpy(), sigma, atol=1e-12)


def test_condition_monte_carlo_residual_is_independent_of_the_observed_part():
    """Rejection-free check in d = 3: r = x_1 - K x_2 with K = S12 S22^{-1} from numpy is
    uncorrelated with x_2, has covariance Sigma_{1|2}, and E[r] + K v = mu_{1|2} (5 SE)."""
    torch.manual_seed(1)
    g = dense(3, 11)
    value = np.array([0.3])
    result = g.condition([1], torch.from_numpy(value))
    sigma = g.covariance_matrix.numpy()
    gain = np.linalg.solve(sigma[np.ix_([1], [1])], sigma[np.ix_([1], [0, 2])]).T
    n = 200_000
    x = g.sample((n,)).numpy()
    r = x[:, [0, 2]] - x[:, [1]] @ gain.T
    cov_r = np.cov(r.T)
    assert_within_se(r.mean(0) + gain @ value, result.mean.numpy(), np.sqrt(np.diag(cov_r) / n))
    exact = result.covariance_matrix.numpy()
    se = np.sqrt((np.outer(np.diag(exact), np.diag(exact)) + exact**2) / n)
    assert_within_se(cov_r, exact, se)
    x2 = x[:, 1] - x[:, 1].mean()
    cross = (r - r.mean(0)) * x2[:, None]
    assert_within_se(cross.mean(0), 0.0, cross.std(0) / math.sqrt(n))


@pytest.mark.parametrize(
    "make",
    [
        lambda loc: Gaussian.isotropic(loc, torch.tensor([0.5, 2.0], dtype=F64)),
        lambda loc: Gaussian.diagonal(loc, torch.linspace(0.5, 2.0, 8, dtype=F64).reshape(2, 4)),
    ],
    ids=["isotropic", "diagonal"],
)
def test_condition_of_independent_coordinates_is_the_marginal_of_the_rest(make):
    """With isotropic/diagonal covariance the coordinates are independent: the conditional is
    the marginal of the other coordinates (values from the dense float64 Schur formula),
    structure kept, batch broadcast with value's batch."""
    loc = torch.arange(8, dtype=F64).reshape(2, 4)
    g = make(loc)
    value = torch.tensor([[[1.0, -2.0]]] * 3, dtype=F64)  # (3, 1, 2)
    result = g.condition([3, 1], value)
    assert type(result.covariance) is type(g.covariance)
    assert result.batch_shape == (3, 2)
    for j in range(2):
        mu, sigma = schur_reference(
            g.mean[j].numpy(), g.covariance_matrix[j].numpy(), [3, 1], value[0, 0].numpy()
        )
        np.testing.assert_allclose(result.mean[0, j].numpy(), mu)
        np.testing.assert_allclose(result.covariance_matrix[2, j].numpy(), sigma)


@SETTINGS
@given(
    d=st.integers(3, 6),
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_condition_and_marginal_commute(d, seed, data):
    """For disjoint sets S and T: marginal(condition(g, T, v), S') equals
    condition(marginal(g, S + T), T', v), computed by two different routes."""
    perm = data.draw(st.permutations(range(d)))
    t_size = data.draw(st.integers(1, d - 2))
    s_size = data.draw(st.integers(1, d - t_size))
    observed, kept = list(perm[:t_size]), list(perm[t_size : t_size + s_size])
    g = dense(d, seed)
    value = torch.from_numpy(np.random.default_rng(seed).standard_normal(t_size))
    conditional = g.condition(observed, value)
    others = [i for i in range(d) if i not in observed]
    route_1 = conditional.marginal([others.index(i) for i in kept])
    joint = g.marginal(kept + observed)
    route_2 = joint.condition(list(range(s_size, s_size + t_size)), value)
    torch.testing.assert_close(route_1.mean, route_2.mean, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(
        route_1.covariance_matrix, route_2.covariance_matrix, rtol=1e-9, atol=1e-9
    )


def test_condition_gradcheck():
    """condition is differentiable in float64 w.r.t. loc, scale_tril and value
    (torch.autograd.gradcheck against finite differences), on a non-prefix index."""
    tril = torch.linalg.cholesky(spd(4, 5)).requires_grad_()
    loc = torch.randn(4, dtype=F64, requires_grad=True)
    value = torch.randn(2, dtype=F64, requires_grad=True)

    def conditional_moments(loc, tril, value):
        g = Gaussian(loc, scale_tril=torch.tril(tril))
        result = g.condition([3, 1], value)
        return result.mean, result.covariance_matrix

    assert torch.autograd.gradcheck(conditional_moments, (loc, tril, value))


# ------------------------------------------------------------------------------ marginal
def test_marginal_matches_the_submatrix_and_keeps_the_order():
    """marginal(idx) has mean mu[idx] and covariance Sigma[idx][:, idx] (numpy indexing),
    in the order of idx, for a prefix and for a permuted selection."""
    g = dense(5, 2, 2)
    for idx in ([0, 1, 2], [4, 0, 2], torch.tensor([3, 1])):
        result = g.marginal(idx)
        rows = np.asarray(idx)
        sigma = g.covariance_matrix.numpy()[:, rows][:, :, rows]
        np.testing.assert_allclose(result.covariance_matrix.numpy(), sigma, atol=1e-12)
        np.testing.assert_allclose(result.mean.numpy(), g.loc.numpy()[:, rows])


def test_marginal_keeps_isotropic_and_diagonal_structure():
    """Marginals of isotropic/diagonal Gaussians stay isotropic/diagonal with the right stds."""
    loc = torch.arange(4.0, dtype=F64)
    iso = Gaussian.isotropic(loc, 3.0).marginal([2, 0])
    assert isinstance(iso.covariance, Isotropic)
    np.testing.assert_allclose(iso.variance.numpy(), [9.0, 9.0])
    np.testing.assert_allclose(iso.mean.numpy(), [2.0, 0.0])
    diag = Gaussian.diagonal(loc, torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64)).marginal([3, 1])
    assert isinstance(diag.covariance, Diagonal)
    np.testing.assert_allclose(diag.variance.numpy(), [16.0, 4.0])


# ------------------------------------------------------------------------------ affine
def test_affine_matrix_matches_dense_algebra_and_scipy():
    """A wide matrix (3 x 5) maps N(mu, S) to N(A mu + b, A S A^T): compared with numpy
    products and with scipy.stats.multivariate_normal log densities."""
    g = dense(5, 4)
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((3, 5)), rng.standard_normal(3)
    result = g.affine(torch.from_numpy(a), torch.from_numpy(b))
    mu = a @ g.loc.numpy() + b
    sigma = a @ g.covariance_matrix.numpy() @ a.T
    np.testing.assert_allclose(result.mean.numpy(), mu, rtol=1e-12)
    np.testing.assert_allclose(result.covariance_matrix.numpy(), sigma, rtol=1e-11)
    x = rng.standard_normal((10, 3))
    expected = scipy.stats.multivariate_normal(mu, sigma).logpdf(x)
    np.testing.assert_allclose(result.log_prob(torch.from_numpy(x)).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_affine_scalar_and_vector_maps_keep_structure(structure):
    """c x scales Sigma by c^2 (isotropic stays isotropic); diag(a) x gives
    diag(a) Sigma diag(a) (isotropic becomes diagonal, others keep their structure), against
    numpy."""
    g = random_gaussian(structure, d=3, seed=8)
    sigma = g.covariance_matrix.numpy()
    scaled = g.affine(-2.0, 1.0)
    assert type(scaled.covariance) is type(g.covariance)
    np.testing.assert_allclose(scaled.covariance_matrix.numpy(), 4 * sigma, rtol=1e-12)
    np.testing.assert_allclose(scaled.mean.numpy(), 1.0 - 2.0 * g.mean.numpy())
    a = np.array([0.5, -1.0, 3.0])
    mapped = g.affine(torch.from_numpy(a))
    expected_type = Diagonal if g.covariance.is_diagonal else type(g.covariance)
    assert isinstance(mapped.covariance, expected_type)
    np.testing.assert_allclose(
        mapped.covariance_matrix.numpy(), np.diag(a) @ sigma @ np.diag(a), rtol=1e-12
    )


def test_affine_elementwise_on_image_events_and_batched_scalars():
    """For (C, H, W) events an elementwise A of shape (C, 1, 1) scales each channel
    (variance a_c^2 s^2); for scalar events a batch of scalars maps each member."""
    loc = torch.zeros(2, 3, 4, dtype=F64)
    g = Gaussian.isotropic(loc, 0.5, event_ndims=3)
    a = torch.tensor([2.0, 3.0], dtype=F64).reshape(2, 1, 1)
    result = g.affine(a, torch.ones(4, dtype=F64))
    assert isinstance(result.covariance, Diagonal) and result.event_shape == (2, 3, 4)
    np.testing.assert_allclose(result.variance[0].numpy(), np.full((3, 4), 1.0))
    np.testing.assert_allclose(result.variance[1].numpy(), np.full((3, 4), 2.25))
    np.testing.assert_allclose(result.mean.numpy(), np.ones((2, 3, 4)))
    uni = Gaussian.univariate(torch.zeros(3, dtype=F64), 1.0).affine(
        torch.tensor([1.0, 2, 3], dtype=F64)
    )
    np.testing.assert_allclose(uni.variance.numpy(), [1.0, 4.0, 9.0])


def test_affine_monte_carlo_moments():
    """Mean and covariance of A x + b over 200k draws of x match A mu + b and A S A^T
    within 5 standard errors."""
    torch.manual_seed(2)
    g = dense(3, 9)
    a = torch.tensor([[1.0, -1.0, 0.5], [0.0, 2.0, 1.0]], dtype=F64)
    b = torch.tensor([0.5, -0.5], dtype=F64)
    n = 200_000
    y = (g.sample((n,)) @ a.T + b).numpy()
    result = g.affine(a, b)
    exact = result.covariance_matrix.numpy()
    assert_within_se(y.mean(0), result.mean.numpy(), np.sqrt(np.diag(exact) / n))
    se = np.sqrt((np.outer(np.diag(exact), np.diag(exact)) + exact**2) / n)
    assert_within_se(np.cov(y.T), exact, se)


@SETTINGS
@given(seed=st.integers(0, 10_000), d=st.integers(2, 5), data=st.data())
def test_affine_composition_equals_the_composed_map(seed, d, data):
    """affine(affine(g, A1, b1), A2, b2) = affine(g, A2 A1, A2 b1 + b2)."""
    d_mid = data.draw(st.integers(1, d))
    d_out = data.draw(st.integers(1, d_mid))
    rng = np.random.default_rng(seed)
    a1, a2 = rng.standard_normal((d_mid, d)), rng.standard_normal((d_out, d_mid))
    b1, b2 = rng.standard_normal(d_mid), rng.standard_normal(d_out)
    g = dense(d, seed)
    t = torch.from_numpy
    twice = g.affine(t(a1), t(b1)).affine(t(a2), t(b2))
    once = g.affine(t(a2 @ a1), t(a2 @ b1 + b2))
    torch.testing.assert_close(twice.mean, once.mean, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(
        twice.covariance_matrix, once.covariance_matrix, rtol=1e-8, atol=1e-8
    )


def test_affine_matrix_gradcheck():
    """affine with a matrix is differentiable w.r.t. A and the scale (through the QR)."""
    tril = torch.linalg.cholesky(spd(3, 1)).requires_grad_()
    a = torch.randn(2, 3, dtype=F64, requires_grad=True)

    def mapped(a, tril):
        return (
            Gaussian(torch.zeros(3, dtype=F64), scale_tril=torch.tril(tril))
            .affine(a)
            .covariance_matrix
        )

    assert torch.autograd.gradcheck(mapped, (a, tril))


def test_affine_keeps_float32():
    """A float32 Gaussian mapped by Python numbers stays float32."""
    g = Gaussian(torch.zeros(2), torch.eye(2))
    assert g.affine([[1.0, 2.0]], [3.0]).mean.dtype == torch.float32


# ------------------------------------------------------------------------------ product
def product_structure(left: str, right: str) -> type:
    """The structure a product keeps: isotropic for two isotropic, diagonal for two
    diagonal ones, dense otherwise."""
    if left == right == "isotropic":
        return Isotropic
    return Diagonal if {left, right} <= {"isotropic", "diagonal"} else Dense


@pytest.mark.parametrize(("left", "right"), itertools.product(STRUCTURES, STRUCTURES))
def test_product_matches_precision_formula_and_scipy_normalizer(left, right):
    """S = (S_g^-1 + S_h^-1)^-1 and mu = S (S_g^-1 mu_g + S_h^-1 mu_h) by np.linalg.inv; log Z
    equals scipy's logpdf of mu_g under N(mu_h, S_g + S_h); structure kept where possible."""
    g, h = random_gaussian(left, d=3, seed=1), random_gaussian(right, d=3, seed=2)
    loc_g, loc_h = g.loc.numpy(), h.loc.numpy()
    result, log_z = gausslab.product(g, h)
    sg, sh = g.covariance_matrix.numpy(), h.covariance_matrix.numpy()
    sigma = np.linalg.inv(np.linalg.inv(sg) + np.linalg.inv(sh))
    mu = sigma @ (np.linalg.solve(sg, loc_g) + np.linalg.solve(sh, loc_h))
    np.testing.assert_allclose(result.covariance_matrix.numpy(), sigma, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(result.mean.numpy(), mu, rtol=1e-11, atol=1e-13)
    expected = scipy.stats.multivariate_normal(loc_h, sg + sh).logpdf(loc_g)
    assert log_z.item() == pytest.approx(expected, rel=1e-12)
    assert isinstance(result.covariance, product_structure(left, right))


def test_product_density_is_g_times_h_over_z_batched():
    """Pointwise, log N(x; mu, S) = log g(x) + log h(x) - log Z, on a broadcast batch."""
    g, h = dense(3, 1, 2, 1), dense(3, 2, 4)
    result, log_z = gausslab.product(g, h)
    assert result.batch_shape == log_z.shape == (2, 4)
    x = torch.randn(5, 2, 4, 3, dtype=F64)
    torch.testing.assert_close(result.log_prob(x), g.log_prob(x) + h.log_prob(x) - log_z)


def test_product_of_image_events_is_elementwise():
    """For (C, H, W) events, iso x diag is diagonal with per-pixel variance
    v_g v_h / (v_g + v_h) and mean (v_h mu_g + v_g mu_h) / (v_g + v_h) (numpy), and log Z
    is the sum of the per-pixel 1-D normalizers from scipy.stats.norm."""
    rng = np.random.default_rng(6)
    loc_g, loc_h = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    std_h = rng.uniform(0.5, 2.0, (2, 3, 4))
    g = Gaussian.isotropic(torch.from_numpy(loc_g), 0.8, event_ndims=3)
    h = Gaussian.diagonal(torch.from_numpy(loc_h), torch.from_numpy(std_h), event_ndims=3)
    result, log_z = gausslab.product(g, h)
    assert isinstance(result.covariance, Diagonal) and result.event_shape == (2, 3, 4)
    v_g, v_h = 0.64, std_h**2
    np.testing.assert_allclose(result.variance.numpy(), v_g * v_h / (v_g + v_h), rtol=1e-13)
    np.testing.assert_allclose(
        result.mean.numpy(), (v_h * loc_g + v_g * loc_h) / (v_g + v_h), rtol=1e-12, atol=1e-14
    )
    expected = scipy.stats.norm.logpdf(loc_g, loc_h, np.sqrt(v_g + v_h)).sum()
    assert log_z.item() == pytest.approx(expected, rel=1e-12)


@SETTINGS
@given(mu_g=st.floats(-3, 3), mu_h=st.floats(-3, 3), s_g=st.floats(0.2, 3), s_h=st.floats(0.2, 3))
def test_product_normalizer_integrates_by_quadrature(mu_g, mu_h, s_g, s_h):
    """exp(log Z) = integral of g(x) h(x) dx by scipy.integrate.quad, and the product's mean
    and variance equal the quadrature moments of g h / Z, in 1-D."""
    g = Gaussian.univariate(torch.tensor(mu_g, dtype=F64), s_g)
    h = Gaussian.univariate(torch.tensor(mu_h, dtype=F64), s_h)
    result, log_z = gausslab.product(g, h)

    def gh(x: float) -> float:
        return scipy.stats.norm.pdf(x, mu_g, s_g) * scipy.stats.norm.pdf(x, mu_h, s_h)

    z = scipy.integrate.quad(gh, -np.inf, np.inf, epsabs=0, epsrel=1e-12)[0]
    mean = scipy.integrate.quad(lambda x: x * gh(x) / z, -np.inf, np.inf, epsabs=1e-13)[0]
    m2 = scipy.integrate.quad(lambda x: (x - mean) ** 2 * gh(x) / z, -np.inf, np.inf)[0]
    assert math.exp(log_z.item()) == pytest.approx(z, rel=1e-8)
    assert result.mean.item() == pytest.approx(mean, rel=1e-7, abs=1e-9)
    assert result.variance.item() == pytest.approx(m2, rel=1e-7)


# ------------------------------------------------------------------------------ convolve
def test_convolve_adds_means_and_covariances_keeping_structure():
    """X + Y has mean mu_g + mu_h and covariance S_g + S_h (numpy sum); iso + iso stays
    isotropic with std hypot(s_g, s_h), iso + diag is diagonal, anything + dense is dense."""
    loc = torch.tensor([1.0, 2.0], dtype=F64)
    iso_a, iso_b = Gaussian.isotropic(loc, 3.0), Gaussian.isotropic(-loc, 4.0)
    iso = iso_a.convolve(iso_b)
    assert isinstance(iso.covariance, Isotropic)
    np.testing.assert_allclose(iso.variance.numpy(), [25.0, 25.0])
    np.testing.assert_allclose(iso.mean.numpy(), [0.0, 0.0])
    diag = Gaussian.diagonal(loc, torch.tensor([1.0, 2.0], dtype=F64))
    assert isinstance(iso_a.convolve(diag).covariance, Diagonal)
    full = dense(2, 5)
    total = diag.convolve(full)
    assert isinstance(total.covariance, Dense)
    expected = diag.covariance_matrix.numpy() + full.covariance_matrix.numpy()
    np.testing.assert_allclose(total.covariance_matrix.numpy(), expected, rtol=1e-12)


def test_convolve_monte_carlo_moments():
    """The sum of independent draws X ~ g, Y ~ h has the moments of g.convolve(h) (5 SE)."""
    torch.manual_seed(3)
    g, h = (
        dense(2, 12),
        Gaussian.diagonal(
            torch.tensor([1.0, -1.0], dtype=F64), torch.tensor([0.5, 2.0], dtype=F64)
        ),
    )
    n = 200_000
    s = (g.sample((n,)) + h.sample((n,))).numpy()
    result = g.convolve(h)
    exact = result.covariance_matrix.numpy()
    assert_within_se(s.mean(0), result.mean.numpy(), np.sqrt(np.diag(exact) / n))
    se = np.sqrt((np.outer(np.diag(exact), np.diag(exact)) + exact**2) / n)
    assert_within_se(np.cov(s.T), exact, se)


# ------------------------------------------------------------------------------ errors
G3 = Gaussian(torch.zeros(3, dtype=F64), torch.eye(3, dtype=F64))
IMAGE = Gaussian.isotropic(torch.zeros(2, 3, dtype=F64), 1.0, event_ndims=2)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: G3.affine(torch.ones(4, dtype=F64)), ["A", "(4,)"]),
        (lambda: G3.affine(torch.ones(2, 4, dtype=F64)), ["A", "(2, 4)"]),
        (lambda: G3.affine(torch.ones(4, 3, dtype=F64)), ["A", "d_out <= 3"]),
        (lambda: G3.affine(torch.ones(2, 3, dtype=F64)), ["A", "full row rank"]),
        (lambda: G3.affine(0.0), ["A", "nonzero"]),
        (lambda: G3.affine(torch.tensor([1.0, 0.0, 2.0], dtype=F64)), ["A", "nonzero"]),
        (lambda: G3.affine(1.0, torch.ones(2, dtype=F64)), ["b", "(2,)"]),
        (lambda: G3.affine(torch.ones(3, 3, dtype=torch.float32)), ["A", "dtype"]),
        (lambda: G3.affine(float("nan")), ["A", "finite"]),
        (lambda: IMAGE.affine(torch.ones(6, 6, dtype=F64)), ["A", "(6, 6)", "vector events"]),
        (lambda: IMAGE.affine(torch.ones(3, 2, dtype=F64)), ["A", "(3, 2)"]),
        (lambda: G3.marginal([3]), ["idx", "3"]),
        (lambda: G3.marginal([0, 0]), ["idx", "repeat"]),
        (lambda: G3.marginal([]), ["idx", "empty"]),
        (lambda: IMAGE.marginal([0]), ["marginal", "vector events", "(2, 3)"]),
        (lambda: G3.condition([-4], [1.0]), ["idx", "-4"]),
        (lambda: G3.condition([1, 1], [1.0, 1.0]), ["idx", "repeat"]),
        (lambda: G3.condition([], []), ["idx", "empty"]),
        (lambda: G3.condition([0, 1, 2], [1.0, 1.0, 1.0]), ["idx", "leave"]),
        (lambda: G3.condition([0], [1.0, 2.0]), ["value", "(2,)", "(..., 1)"]),
        (lambda: G3.condition([0], 1.0), ["value", "()"]),
        (lambda: dense(3, 0, 2).condition([0], torch.ones(3, 1, dtype=F64)), ["value", "(3,)"]),
        (lambda: IMAGE.condition([0], [1.0]), ["condition", "vector events"]),
        (lambda: G3.convolve(Gaussian.isotropic(torch.zeros(2, dtype=F64), 1.0)), ["h", "(2,)"]),
        (lambda: gausslab.product(dense(3, 0, 2), dense(3, 1, 4)), ["batch", "(2,)", "(4,)"]),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, words):
    """Every invalid argument raises ValueError whose message names it and what was received."""
    with pytest.raises(ValueError) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_wrong_kinds_raise_type_error():
    """A non-Gaussian partner or a float index is a TypeError naming the argument."""
    with pytest.raises(TypeError, match=r"h must be a gausslab\.Gaussian"):
        G3.convolve(torch.zeros(3))
    with pytest.raises(TypeError, match="idx"):
        G3.marginal(torch.tensor([0.0]))


def test_a_single_int_index_means_that_one_coordinate():
    """condition(1, v) and marginal(0) equal their one-element-list forms."""
    g = Gaussian(
        torch.zeros(2, dtype=torch.float64), torch.tensor([[1.0, 0.7], [0.7, 1.0]]).double()
    )
    value = torch.tensor([1.5], dtype=torch.float64)
    torch.testing.assert_close(
        g.condition(1, value).mean, torch.tensor([1.05], dtype=torch.float64)
    )
    torch.testing.assert_close(
        g.condition(1, value).variance, torch.tensor([0.51], dtype=torch.float64)
    )
    torch.testing.assert_close(g.marginal(0).covariance_matrix, g.marginal([0]).covariance_matrix)
