"""Covariance structures against dense float64 linear algebra."""

from __future__ import annotations

import pytest
import torch

from gausslab.covariance import Dense, Diagonal, Isotropic


def random_spd(*batch: int, d: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(*batch, d, d, generator=generator, dtype=torch.float64)
    return a @ a.mT / d + 0.5 * torch.eye(d, dtype=torch.float64)


def structures() -> dict[str, object]:
    return {
        "isotropic": Isotropic(torch.tensor([0.5, 2.0], dtype=torch.float64), torch.Size([3])),
        "diagonal": Diagonal(torch.rand(2, 3, dtype=torch.float64) + 0.5, torch.Size([3])),
        "dense": Dense.from_matrix(random_spd(2, d=3)),
    }


@pytest.mark.parametrize("name", ["isotropic", "diagonal", "dense"])
def test_interface_agrees_with_the_dense_matrix(name):
    """whiten, scale_mul, mahalanobis_sq, log_det, variance and precision match Sigma."""
    cov = structures()[name]
    sigma = cov.to_matrix()
    scale = cov.scale_tril_matrix()
    torch.testing.assert_close(scale @ scale.mT, sigma)
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(cov.scale_mul(cov.whiten(x)), x)
    torch.testing.assert_close(cov.whiten(x), torch.linalg.solve(scale, x[..., None])[..., 0])
    expected = (x[..., None, :] @ torch.linalg.solve(sigma, x[..., None]))[..., 0, 0]
    torch.testing.assert_close(cov.mahalanobis_sq(x), expected)
    torch.testing.assert_close(cov.log_det(), torch.linalg.slogdet(sigma).logabsdet)
    torch.testing.assert_close(cov.variance().expand(2, 3), sigma.diagonal(dim1=-2, dim2=-1))
    torch.testing.assert_close(cov.precision_matrix(), torch.linalg.inv(sigma))


def test_dense_whitening_folds_sample_dims_and_broadcasts_batches():
    """Sample dims in front of broadcast batch dims give the per-vector triangular solve."""
    cov = Dense.from_matrix(random_spd(3, 1, d=4))
    x = torch.randn(5, 1, 2, 4, dtype=torch.float64)  # batch (1, 2) broadcasts with (3, 1)
    scale = cov.scale_tril_matrix()
    expected = torch.linalg.solve_triangular(scale, x[..., None], upper=False)[..., 0]
    assert expected.shape == (5, 3, 2, 4)
    torch.testing.assert_close(cov.whiten(x), expected)
    torch.testing.assert_close(cov.scale_mul(cov.whiten(x)), x.expand(5, 3, 2, 4))
    single = x[0, 0]  # fewer dims than the batch: (2, 4)
    torch.testing.assert_close(cov.whiten(single), expected[0])


@pytest.mark.parametrize("name", ["isotropic", "diagonal", "dense"])
def test_scaled_is_the_covariance_of_elementwise_scaling(name):
    """Cov(c * x) = diag(c) Sigma diag(c), including negative entries of c."""
    cov = structures()[name]
    c = torch.tensor([2.0, -0.5, 1.5], dtype=torch.float64)
    expected = c[:, None] * cov.to_matrix() * c[None, :]
    scaled = cov.scaled(c)
    torch.testing.assert_close(scaled.to_matrix(), expected)
    assert bool((scaled.scale_tril_matrix().diagonal(dim1=-2, dim2=-1) > 0).all())


def test_scaling_by_a_scalar_keeps_isotropy():
    """An isotropic covariance times a scalar is still isotropic (std * |c|)."""
    cov = Isotropic(torch.tensor([1.0, 2.0]), torch.Size([3, 4, 4]))
    scaled = cov.scaled(torch.tensor(-3.0))
    assert isinstance(scaled, Isotropic)
    torch.testing.assert_close(scaled.std, torch.tensor([3.0, 6.0]))
    assert isinstance(cov.scaled(torch.rand(3, 1, 1) + 1), Diagonal)


@pytest.mark.parametrize("left", ["isotropic", "diagonal", "dense"])
@pytest.mark.parametrize("right", ["isotropic", "diagonal", "dense"])
def test_add_sums_covariances_and_keeps_the_simplest_structure(left, right):
    """Sigma_X + Sigma_Y; iso+iso is isotropic, diag/iso mixes are diagonal, else dense."""
    a, b = structures()[left], structures()[right]
    total = a.add(b)
    torch.testing.assert_close(total.to_matrix(), a.to_matrix() + b.to_matrix())
    kinds = {left, right}
    expected = Isotropic if kinds == {"isotropic"} else Dense if "dense" in kinds else Diagonal
    assert isinstance(total, expected)


def test_transformed_by_a_wide_matrix_uses_qr_of_the_scale():
    """Cov(A x) = A Sigma A^T for a (2, 3) map A: one QR, lower-triangular positive factor."""
    cov = Dense.from_matrix(random_spd(d=3, seed=2))
    a = torch.tensor([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]], dtype=torch.float64)
    out = cov.transformed(a)
    torch.testing.assert_close(out.to_matrix(), a @ cov.to_matrix() @ a.T)
    factor = out.scale_tril_matrix()
    torch.testing.assert_close(factor, torch.tril(factor))
    assert bool((factor.diagonal() > 0).all())


def test_rank_deficient_transform_and_zero_scale_are_refused():
    """A map that loses rank gives a degenerate Gaussian: a clear error, not a NaN."""
    cov = Dense.from_matrix(random_spd(d=2))
    with pytest.raises(ValueError, match="singular"):
        cov.transformed(torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="nonzero"):
        cov.scaled(torch.tensor([1.0, 0.0], dtype=torch.float64))


def test_non_square_matrix_is_refused_with_its_shape():
    """A (2, 3) covariance is refused and the message shows the shape."""
    with pytest.raises(ValueError, match=r"square matrix .* got shape \(2, 3\)"):
        Dense.from_matrix(torch.ones(2, 3))


def test_dense_whiten_transpose_completes_the_precision_product():
    """Sigma^{-1} x = L^{-T} (L^{-1} x) for batched x with sample dims."""
    cov = Dense.from_matrix(random_spd(2, d=3, seed=4))
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    expected = torch.linalg.solve(cov.to_matrix(), x[..., None])[..., 0]
    torch.testing.assert_close(cov.whiten_transpose(cov.whiten(x)), expected)
