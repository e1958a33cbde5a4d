"""Covariance structures against dense float64 linear algebra: every capability of every
structure in tests/structures.py, the pair registry, and the factorization diagnostics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from gausslab.covariance import (
    CapabilityError,
    Covariance,
    Dense,
    Diagonal,
    Isotropic,
    dispatch,
    register,
)
from gausslab.covariance.registry import rules
from tests.structures import STRUCTURES, random_gaussian

F64 = torch.float64


def random_spd(*batch: int, d: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(*batch, d, d, generator=generator, dtype=F64)
    return a @ a.mT / d + 0.5 * torch.eye(d, dtype=F64)


def covariance(name: str, seed: int = 0, d: int = 3) -> Covariance:
    """A (2,)-batch covariance of the named structure over vector events of size d."""
    return random_gaussian(name, 2, d=d, seed=seed).covariance


@pytest.mark.parametrize("name", STRUCTURES)
def test_interface_agrees_with_the_dense_matrix(name):
    """whiten, its transpose, scale_mul, solve, matvec, mahalanobis_sq, log_det, variance,
    precision, the square root, the Cholesky factor, sandwich and principal axes all match
    Sigma = S S^T by dense float64 algebra (torch.linalg.solve / inv / slogdet / eigh)."""
    cov = covariance(name)
    sigma = cov.to_matrix()
    scale = cov.scale_matrix()
    torch.testing.assert_close(scale @ scale.mT, sigma)
    x = torch.randn(4, 2, 3, dtype=F64)
    torch.testing.assert_close(cov.scale_mul(cov.whiten(x)), x)
    torch.testing.assert_close(cov.whiten(x), torch.linalg.solve(scale, x[..., None])[..., 0])
    z = torch.randn(4, 2, 3, dtype=F64)
    torch.testing.assert_close(cov.scale_mul(z), (scale @ z[..., None])[..., 0])
    transposed = torch.linalg.solve(scale.mT, z[..., None])[..., 0]
    torch.testing.assert_close(cov.whiten_transpose(z), transposed)
    solved = torch.linalg.solve(sigma, x[..., None])[..., 0]
    torch.testing.assert_close(cov.solve(x), solved)
    torch.testing.assert_close(cov.matvec(x), (sigma @ x[..., None])[..., 0])
    expected = (x[..., None, :] @ torch.linalg.solve(sigma, x[..., None]))[..., 0, 0]
    torch.testing.assert_close(cov.mahalanobis_sq(x), expected)
    shift = torch.randn(2, 3, dtype=F64)
    torch.testing.assert_close(cov.mahalanobis_sq(x + shift, shift), expected)
    pair = cov.solve_and_mahalanobis_sq(x)
    torch.testing.assert_close(pair[0], solved)
    torch.testing.assert_close(pair[1], expected)
    torch.testing.assert_close(cov.log_det(), torch.linalg.slogdet(sigma).logabsdet)
    torch.testing.assert_close(cov.variance().expand(2, 3), sigma.diagonal(dim1=-2, dim2=-1))
    torch.testing.assert_close(cov.precision_matrix(), torch.linalg.inv(sigma))
    torch.testing.assert_close(cov.scale_tril_matrix(), torch.linalg.cholesky(sigma))
    a = torch.randn(2, 5, 3, dtype=F64)
    torch.testing.assert_close(cov.sandwich(a), a @ sigma @ a.mT)
    variances, directions = cov.principal_axes()
    eigenvalues = torch.linalg.eigvalsh(sigma).flip(-1)
    torch.testing.assert_close(variances.expand(2, 3), eigenvalues)
    torch.testing.assert_close(sigma @ directions, directions * variances[..., None, :])
    assert int(torch.as_tensor(cov.rank).min()) == 3


@pytest.mark.parametrize(("left", "right"), itertools.product(STRUCTURES, STRUCTURES))
def test_trace_solve_is_the_trace_of_the_solved_product(left, right):
    """tr(Sigma_a^{-1} Sigma_b) against torch.linalg.solve, for every pair."""
    a, b = covariance(left, seed=1), covariance(right, seed=2)
    expected = torch.linalg.solve(a.to_matrix(), b.to_matrix()).diagonal(dim1=-2, dim2=-1)
    torch.testing.assert_close(a.trace_solve(b), expected.sum(-1))


def test_dense_whitening_folds_sample_dims_and_broadcasts_batches():
    """Sample dims in front of broadcast batch dims give the per-vector triangular solve."""
    cov = Dense.from_matrix(random_spd(3, 1, d=4))
    x = torch.randn(5, 1, 2, 4, dtype=F64)  # batch (1, 2) broadcasts with (3, 1)
    scale = cov.scale_tril_matrix()
    expected = torch.linalg.solve_triangular(scale, x[..., None], upper=False)[..., 0]
    assert expected.shape == (5, 3, 2, 4)
    torch.testing.assert_close(cov.whiten(x), expected)
    torch.testing.assert_close(cov.scale_mul(cov.whiten(x)), x.expand(5, 3, 2, 4))
    single = x[0, 0]  # fewer dims than the batch: (2, 4)
    torch.testing.assert_close(cov.whiten(single), expected[0])


@pytest.mark.parametrize("name", STRUCTURES)
def test_scaled_is_the_covariance_of_elementwise_scaling(name):
    """Cov(c * x) = diag(c) Sigma diag(c), including negative entries of c."""
    cov = covariance(name)
    c = torch.tensor([2.0, -0.5, 1.5], dtype=F64)
    expected = c[:, None] * cov.to_matrix() * c[None, :]
    scaled = cov.scaled(c)
    torch.testing.assert_close(scaled.to_matrix(), expected)
    assert bool((scaled.scale_tril_matrix().diagonal(dim1=-2, dim2=-1) > 0).all())


@pytest.mark.parametrize("name", STRUCTURES)
def test_select_and_transformed_are_blocks_and_congruences(name):
    """select(index) = Sigma[index][:, index] (any order); transformed(A) = A Sigma A^T for
    a wide A; expand and unsqueeze_batch only reshape the batch."""
    cov = covariance(name, seed=3, d=4)
    sigma = cov.to_matrix()
    index = [3, 0, 2]
    torch.testing.assert_close(cov.select(index).to_matrix(), sigma[..., index, :][..., index])
    a = torch.randn(2, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(cov.transformed(a).to_matrix(), a @ sigma @ a.T)
    expanded = cov.expand(torch.Size([5, 2]))
    assert expanded.batch_shape == (5, 2)
    torch.testing.assert_close(expanded.to_matrix(), sigma.expand(5, 2, 4, 4))
    unsqueezed = cov.unsqueeze_batch(-1)
    assert unsqueezed.batch_shape == (2, 1)
    torch.testing.assert_close(unsqueezed.to_matrix(), sigma[:, None])


@pytest.mark.parametrize("name", STRUCTURES)
def test_condition_is_the_schur_complement(name):
    """shift = S12 S22^{-1} r and Sigma_{1|2} = S11 - S12 S22^{-1} S21, with np.linalg.solve,
    for a non-leading observed block and a batch of residuals."""
    cov = covariance(name, seed=4, d=4)
    observed, others = [2, 0], [1, 3]
    residual = torch.randn(5, 2, 2, dtype=F64)
    shift, conditional = cov.condition(observed, others, residual)
    sigma = cov.to_matrix().numpy()
    for b in range(2):
        s = sigma[b]
        gain = np.linalg.solve(s[np.ix_(observed, observed)], s[np.ix_(observed, others)]).T
        schur = s[np.ix_(others, others)] - gain @ s[np.ix_(observed, others)]
        np.testing.assert_allclose(conditional.to_matrix()[b].numpy(), schur, atol=1e-12)
        expected_shift = residual[:, b].numpy() @ gain.T
        np.testing.assert_allclose(shift[:, b].numpy(), expected_shift, atol=1e-12)


@pytest.mark.parametrize(("left", "right"), itertools.product(STRUCTURES, STRUCTURES))
def test_add_and_parallel_are_the_sum_and_the_harmonic_sum(left, right):
    """add: Sigma_a + Sigma_b; parallel: (Sigma_a^{-1} + Sigma_b^{-1})^{-1} (numpy inv)."""
    a, b = covariance(left, seed=5), covariance(right, seed=6)
    ma, mb = a.to_matrix(), b.to_matrix()
    torch.testing.assert_close(a.add(b).to_matrix(), ma + mb)
    harmonic = torch.linalg.inv(torch.linalg.inv(ma) + torch.linalg.inv(mb))
    torch.testing.assert_close(a.parallel(b).to_matrix(), harmonic)


@pytest.mark.parametrize("left", ["isotropic", "diagonal", "dense"])
@pytest.mark.parametrize("right", ["isotropic", "diagonal", "dense"])
def test_add_keeps_the_simplest_structure(left, right):
    """iso+iso is isotropic, diag/iso mixes are diagonal, anything with dense is dense."""
    total = covariance(left).add(covariance(right))
    kinds = {left, right}
    expected = Isotropic if kinds == {"isotropic"} else Dense if "dense" in kinds else Diagonal
    assert isinstance(total, expected)


def test_scaling_by_a_scalar_keeps_isotropy():
    """An isotropic covariance times a scalar is still isotropic (std * |c|)."""
    cov = Isotropic(torch.tensor([1.0, 2.0]), torch.Size([3, 4, 4]))
    scaled = cov.scaled(torch.tensor(-3.0))
    assert isinstance(scaled, Isotropic)
    torch.testing.assert_close(scaled.std, torch.tensor([3.0, 6.0]))
    assert isinstance(cov.scaled(torch.rand(3, 1, 1) + 1), Diagonal)


def test_transformed_by_a_wide_matrix_uses_qr_of_the_scale():
    """Cov(A x) = A Sigma A^T for a (2, 3) map A: one QR, lower-triangular positive factor."""
    cov = Dense.from_matrix(random_spd(d=3, seed=2))
    a = torch.tensor([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]], dtype=F64)
    out = cov.transformed(a)
    torch.testing.assert_close(out.to_matrix(), a @ cov.to_matrix() @ a.T)
    factor = out.scale_tril_matrix()
    torch.testing.assert_close(factor, torch.tril(factor))
    assert bool((factor.diagonal() > 0).all())


def test_rank_deficient_transform_and_zero_scale_are_refused():
    """A map that loses rank gives a degenerate Gaussian: a clear error, not a NaN."""
    cov = Dense.from_matrix(random_spd(d=2))
    with pytest.raises(ValueError, match="singular"):
        cov.transformed(torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=F64))
    with pytest.raises(ValueError, match="nonzero"):
        cov.scaled(torch.tensor([1.0, 0.0], dtype=F64))


def test_non_square_matrix_is_refused_with_its_shape():
    """A (2, 3) covariance is refused and the message shows the shape."""
    with pytest.raises(ValueError, match=r"square matrix .* got shape \(2, 3\)"):
        Dense.from_matrix(torch.ones(2, 3))


def test_a_structure_without_the_capability_says_so():
    """Asking a non-diagonal structure for an elementwise std is a CapabilityError (a
    ValueError) that names the structure."""
    with pytest.raises(CapabilityError, match="Dense covariance cannot give an elementwise std"):
        covariance("dense").elementwise_std()
    assert issubclass(CapabilityError, ValueError)


def test_registry_picks_the_most_specific_rule_and_falls_back():
    """dispatch walks both method resolution orders: a rule for (Isotropic, Isotropic) beats
    (Elementwise, Elementwise), which beats the (Covariance, Covariance) fallback; a pair
    with no rule at all raises NotImplementedError naming the operation."""
    iso, diag, dense = covariance("isotropic"), covariance("diagonal"), covariance("dense")
    assert isinstance(dispatch("add", iso, iso), Isotropic)
    assert isinstance(dispatch("add", iso, diag), Diagonal)
    assert isinstance(dispatch("add", diag, dense), Dense)
    assert (Covariance, Covariance) in rules("add")

    class Special(Isotropic):
        pass

    @register("__test_op", Isotropic, Covariance)
    def _iso_any(a, b):
        return "iso-any"

    @register("__test_op", Covariance, Dense, symmetric=True)
    def _any_dense(a, b):
        return ("any-dense", type(a).__name__, type(b).__name__)

    special = Special(torch.tensor([1.0, 2.0], dtype=F64), torch.Size([3]))
    assert dispatch("__test_op", special, diag) == "iso-any"
    assert dispatch("__test_op", dense, diag) == ("any-dense", "Diagonal", "Dense")
    with pytest.raises(NotImplementedError, match="__test_op"):
        dispatch("__test_op", diag, diag)


def test_dense_whiten_transpose_completes_the_precision_product():
    """Sigma^{-1} x = L^{-T} (L^{-1} x) for batched x with sample dims."""
    cov = Dense.from_matrix(random_spd(2, d=3, seed=4))
    x = torch.randn(5, 2, 3, dtype=F64)
    expected = torch.linalg.solve(cov.to_matrix(), x[..., None])[..., 0]
    torch.testing.assert_close(cov.whiten_transpose(cov.whiten(x)), expected)
