"""Dense covariances: Sigma = L L^T with L lower triangular (the Cholesky factor), vector
events. L is computed once at construction and reused for whitening, log-det, sampling,
precision, marginals and conditionals. float16/bfloat16 covariances keep L in float32 and
return results in their own dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from gausslab import kernels
from gausslab._validation import check_positive, describe
from gausslab.covariance.base import (
    Covariance,
    centered,
    compute_dtype,
    needs_grad,
    sum_squares,
)
from gausslab.covariance.factor import check_square, cholesky
from gausslab.covariance.registry import register

__all__ = ["Dense"]


def _rowwise(matrix: Tensor, x: Tensor, op: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """Apply op(matrix, rows) with every vector of x (..., d) as a row of one big matrix.

    Sample dims in front of the batch dims are folded into the rows so that one batched
    triangular solve or matmul serves all of them (instead of one tiny solve per vector).
    """
    d = x.shape[-1]
    batch = matrix.shape[:-2]
    if not batch:
        rows = x.reshape(-1, d)
        return op(matrix, rows).reshape(x.shape)
    x_batch = x.shape[max(x.dim() - 1 - len(batch), 0) : -1]
    full_batch = torch.broadcast_shapes(batch, x_batch)
    sample = x.shape[: max(x.dim() - 1 - len(full_batch), 0)]
    x = x.expand(*sample, *full_batch, d).reshape(-1, *full_batch, d).movedim(0, -2)
    out = op(matrix.expand(*full_batch, d, d), x)
    return out.movedim(-2, 0).reshape(*sample, *full_batch, d)


def _solve_rows(scale_tril: Tensor, rows: Tensor) -> Tensor:
    """Rows z_i = L^{-1} x_i, i.e. Z = X L^{-T}, by one triangular solve."""
    return torch.linalg.solve_triangular(scale_tril.mT, rows, upper=True, left=False)


def _solve_transposed_rows(scale_tril: Tensor, rows: Tensor) -> Tensor:
    """Rows y_i = L^{-T} z_i, i.e. Y = Z L^{-1}, by one triangular solve."""
    return torch.linalg.solve_triangular(scale_tril, rows, upper=False, left=False)


def _mul_rows(scale_tril: Tensor, rows: Tensor) -> Tensor:
    """Rows y_i = L z_i, i.e. Y = Z L^T."""
    return rows @ scale_tril.mT


def _covariance_rows(scale_tril: Tensor, rows: Tensor) -> Tensor:
    """Rows y_i = L L^T x_i, i.e. Y = X L L^T."""
    return (rows @ scale_tril) @ scale_tril.mT


class Dense(Covariance):
    """Sigma = L L^T with L lower triangular with a positive diagonal (vector events).

    `dtype` is the dtype results come back in (default: L's); L itself is kept in
    ``compute_dtype(dtype)``.
    """

    def __init__(
        self, scale_tril: Tensor, dtype: torch.dtype | None = None, *, matrix: Tensor | None = None
    ) -> None:
        self._dtype = dtype or scale_tril.dtype
        self._scale_tril = scale_tril.to(compute_dtype(self._dtype))
        self.event_shape = torch.Size(scale_tril.shape[-1:])
        self.batch_shape = scale_tril.shape[:-2]
        # Sigma itself when it was given (from_matrix): conditioning then needs no new
        # factorization of the reordered joint, only Cholesky factors of two blocks.
        self._matrix = None if matrix is None else matrix.to(self._scale_tril.dtype)

    # ----- constructors (each validates its input and factorizes once) -----
    @classmethod
    def from_matrix(
        cls, matrix: Tensor, name: str = "covariance_matrix", *, singular_hint: str = ""
    ) -> Dense:
        """Cholesky-factorize a symmetric positive-definite matrix, or say why not
        (``gausslab.covariance.factor``)."""
        factor = cholesky(matrix, name, singular_hint=singular_hint)
        return cls(factor, matrix.dtype, matrix=matrix)

    @classmethod
    def from_scale_tril(cls, scale_tril: Tensor, name: str = "scale_tril") -> Dense:
        """Use a given lower-triangular factor with a positive diagonal."""
        check_square(scale_tril, name)
        upper_part = torch.triu(scale_tril, diagonal=1)
        if bool((upper_part != 0).any()):
            raise ValueError(
                f"{name} must be lower triangular, but it has nonzero entries above the "
                f"diagonal (largest {upper_part.abs().max().item():.3g})"
            )
        check_positive(scale_tril.diagonal(dim1=-2, dim2=-1), f"the diagonal of {name}")
        return cls(scale_tril)

    @classmethod
    def from_precision(cls, precision: Tensor, name: str = "precision_matrix") -> Dense:
        """Sigma = P^{-1}: with J the reversal permutation and K K^T = J P J,
        L = J K^{-T} J is lower triangular and L L^T = P^{-1}. One factorization."""
        flipped = cholesky(precision.flip(-2, -1), name)
        eye = torch.eye(flipped.shape[-1], dtype=flipped.dtype, device=flipped.device)
        inverse = torch.linalg.solve_triangular(flipped, eye, upper=False)
        return cls(inverse.mT.flip(-2, -1), precision.dtype)

    @classmethod
    def from_scale(cls, scale: Tensor) -> Dense:
        """Sigma = S S^T for any (..., d, k) factor S of full row rank, by QR of S^T
        (no squaring of the condition number): S^T = Q R gives L = R^T up to signs."""
        work = scale.to(compute_dtype(scale.dtype))
        # mode="r" skips Q but has no backward; differentiate through the reduced QR.
        _, r = torch.linalg.qr(work.mT, mode="reduced" if needs_grad(work) else "r")
        signs = torch.sign(r.diagonal(dim1=-2, dim2=-1))
        diagonal = r.diagonal(dim1=-2, dim2=-1).abs()
        smallest = diagonal.min().item() if diagonal.numel() else 1.0
        # numpy.linalg.matrix_rank's tolerance, with |R_ii| standing in for singular values
        tolerance = max(scale.shape[-2:]) * torch.finfo(scale.dtype).eps
        if smallest <= tolerance * max(diagonal.max().item(), 1e-300):
            raise ValueError(
                "the transformed covariance is singular: the linear map does not have full "
                f"row rank (scale of shape {tuple(scale.shape)})"
            )
        return cls((signs[..., :, None] * r).mT, scale.dtype)

    # ----- interface -----
    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def device(self) -> torch.device:
        return self._scale_tril.device

    def _like(self, scale_tril: Tensor) -> Dense:
        """Another Dense over a factor derived from this one, results in the same dtype."""
        return Dense(scale_tril, self._dtype)

    def _apply(self, x: Tensor, op: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
        work = x.to(self._scale_tril.dtype)
        return _rowwise(self._scale_tril, work, op).to(self._dtype)

    def whiten(self, x: Tensor) -> Tensor:
        return self._apply(x, _solve_rows)

    def whiten_transpose(self, z: Tensor) -> Tensor:
        return self._apply(z, _solve_transposed_rows)

    def scale_mul(self, z: Tensor) -> Tensor:
        return self._apply(z, _mul_rows)

    def matvec(self, x: Tensor) -> Tensor:
        return self._apply(x, _covariance_rows)

    def mahalanobis_sq(
        self, x: Tensor, loc: Tensor | None = None, *, overwrite_x: bool = False
    ) -> Tensor:
        if loc is not None and not self.batch_shape:
            # centered and whitened chunk by chunk in cache (gausslab.kernels)
            dtype = self._scale_tril.dtype
            squared = kernels.sq_norm_whitened(x.to(dtype), loc.to(dtype), self._scale_tril)
            return squared.to(self._dtype)
        x, overwrite_x = centered(x, loc, overwrite_x)
        work = x.to(self._scale_tril.dtype)
        fresh = overwrite_x or work is not x
        in_place = fresh and not self.batch_shape and work.is_contiguous()
        if in_place and not needs_grad(work, self._scale_tril):
            rows = work.view(-1, self.dim)  # solve into x's own buffer: no second allocation
            torch.linalg.solve_triangular(
                self._scale_tril.mT, rows, upper=True, left=False, out=rows
            )
            return sum_squares(work).to(self._dtype)
        return sum_squares(_rowwise(self._scale_tril, work, _solve_rows)).to(self._dtype)

    def log_det(self) -> Tensor:
        return (2 * self._scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)).to(self._dtype)

    def variance(self) -> Tensor:
        return self._scale_tril.square().sum(-1).to(self._dtype)

    def to_matrix(self) -> Tensor:
        return (self._scale_tril @ self._scale_tril.mT).to(self._dtype)

    def scale_matrix(self) -> Tensor:
        return self._scale_tril.to(self._dtype)

    def scale_tril_matrix(self) -> Tensor:
        return self._scale_tril.to(self._dtype)

    def precision_matrix(self) -> Tensor:
        eye = torch.eye(self.dim, dtype=self._scale_tril.dtype, device=self.device)
        inverse = torch.linalg.solve_triangular(self._scale_tril, eye, upper=False)
        return (inverse.mT @ inverse).to(self._dtype)

    def sandwich(self, matrix: Tensor) -> Tensor:
        scaled = matrix.to(self._scale_tril.dtype) @ self._scale_tril
        return (scaled @ scaled.mT).to(self._dtype)

    def expand(self, batch_shape: torch.Size) -> Dense:
        return self._like(self._scale_tril.expand(*batch_shape, self.dim, self.dim))

    def unsqueeze_batch(self, dim: int) -> Dense:
        return self._like(self._scale_tril.unsqueeze(dim - 2 if dim < 0 else dim))

    def select(self, index: Sequence[int]) -> Dense:
        """Sigma[index][:, index] = L[index] L[index]^T. A leading block (index = 0..k-1) is
        factorized by the leading block of L as is; any other selection or order gets one
        new factorization, by QR of the rows L[index] cut after the largest index (the
        columns beyond it are zero). With index a permutation of all coordinates this is the
        Cholesky factor of the reordered joint."""
        k = len(index)
        if list(index) == list(range(k)):
            return self._like(self._scale_tril[..., :k, :k])
        rows = torch.as_tensor(index, device=self.device)
        factor = Dense.from_scale(self._scale_tril[..., rows, : max(index) + 1])
        return self._like(factor._scale_tril)

    def condition(
        self, observed: Sequence[int], others: Sequence[int], residual: Tensor
    ) -> tuple[Tensor, Dense]:
        """From one Cholesky factor L' of the joint reordered with x_2 = x[observed] first
        (none is needed when observed is 0..k-1): L'_22 is the Cholesky factor of the Schur
        complement and the shift is L'_21 L'_11^{-1} residual, one triangular solve, no
        inverse and no subtraction.

        When Sigma was given as a matrix and the observed block is not leading, the two
        Cholesky factorizations of ``gausslab.kernels.schur_condition`` (of Sigma_22 and of
        the Schur complement) replace the QR of the reordered joint: about a quarter of its
        flops, mostly in GEMMs. The QR route remains for factors given otherwise and for a
        block that is not positive definite to working precision."""
        k = len(observed)
        leading = list(observed) == list(range(k))
        if self._matrix is not None and not leading:
            index = {"device": self.device}
            conditioned = kernels.schur_condition(
                self._matrix,
                torch.as_tensor(observed, **index),
                torch.as_tensor(others, **index),
                residual.to(self._matrix.dtype),
            )
            if conditioned is not None:
                shift, factor = conditioned
                return shift.to(self._dtype), self._like(factor)
        joint = self.select(list(observed) + list(others))._scale_tril
        # whiten folds the residuals' batch into the rows of one triangular solve (a batched
        # solve would copy L'_11 once per value); the product folds them into one matmul too.
        whitened = self._like(joint[..., :k, :k]).whiten(residual).to(joint.dtype)
        shift = (whitened.unsqueeze(-2) @ joint[..., k:, :k].mT).squeeze(-2)
        return shift.to(self._dtype), self._like(joint[..., k:, k:])

    def scaled(self, c: Tensor) -> Dense:
        """diag(c) L is still lower triangular; flipping column signs keeps its diagonal
        positive, so the scaled factor needs no new factorization."""
        c = c.expand(*c.shape[:-1], self.dim) if c.dim() else c.expand(self.dim)
        if bool((c == 0).any()):
            raise ValueError("the scale c must be nonzero everywhere: c * x would be degenerate")
        c = c.to(self._scale_tril.dtype)
        return self._like(c[..., :, None] * self._scale_tril * torch.sign(c)[..., None, :])

    def __repr__(self) -> str:
        return f"Dense(scale_tril: {describe(self._scale_tril)})"


# ---------------------------------------------------------------------- fallback rules
@register("add", Covariance, Covariance)
def _add_dense(a: Covariance, b: Covariance) -> Covariance:
    """Sigma_a + Sigma_b as a dense matrix, factorized once."""
    return Dense.from_matrix(a.to_matrix() + b.to_matrix(), "covariance of the sum")


@register("parallel", Covariance, Covariance)
def _parallel_dense(a: Covariance, b: Covariance) -> Covariance:
    """(Sigma_a^{-1} + Sigma_b^{-1})^{-1} from the summed precision, factorized once."""
    precision = a.precision_matrix() + b.precision_matrix()
    return Dense.from_precision(precision, "the precision of the product")
