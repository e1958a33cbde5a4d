"""Covariance structures, each factorized once: Sigma = L L^T.

Three structures share one interface so that a Gaussian never needs to know which it holds:

- ``Isotropic``: Sigma = std^2 I over an event of any shape (an image (C, H, W) is one event),
  one std per batch element. Cost O(d) per vector, no matrix ever.
- ``Diagonal``: Sigma = diag(std^2) over an event of any shape. O(d) per vector.
- ``Dense``: Sigma = L L^T with L lower triangular (the Cholesky factor), vector events.
  L is computed once at construction and reused for whitening, log-det, sampling and
  precision.

The interface, for x of shape (..., *event_shape):

- ``whiten(x) = L^{-1} x`` and ``scale_mul(z) = L z`` (the reparameterization map),
- ``mahalanobis_sq(x) = x^T Sigma^{-1} x = |L^{-1} x|^2``,
- ``log_det() = log|Sigma| = 2 sum_i log L_ii``,
- ``variance()`` (the diagonal of Sigma), ``to_matrix()``, ``scale_tril_matrix()``,
  ``precision_matrix()`` (dense, on demand; events of several dims are flattened),
- structure-keeping algebra: ``scaled(c)`` (covariance of c * x, elementwise c),
  ``transformed(A)`` (covariance of A x), ``add(other)`` (covariance of X + Y, independent),
  ``select(index)`` (covariance of x[index], vector events).

``Isotropic`` and ``Diagonal`` also give ``elementwise_std()``, the per-coordinate standard
deviation broadcastable to batch_shape + event_shape.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import cached_property

import torch
from torch import Tensor

from gausslab._validation import check_positive, describe

__all__ = ["Covariance", "Dense", "Diagonal", "Isotropic"]


def _event_flat(x: Tensor, event_ndims: int) -> Tensor:
    """View the trailing `event_ndims` dims of x as one (a scalar event becomes size 1)."""
    if event_ndims == 0:
        return x.unsqueeze(-1)
    return x.flatten(-event_ndims) if event_ndims > 1 else x


def _needs_grad(*tensors: Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def sum_squares(v: Tensor) -> Tensor:
    """sum_i v_i^2 over the last dim.

    Without autograd, |v|_2^2 by ``vector_norm`` (one fused pass, about 2x faster than
    ``vecdot`` on large CPU tensors); with autograd, ``vecdot``, whose derivatives stay exact
    at v = 0 to every order (the norm's second derivative there is masked to zero).
    """
    if _needs_grad(v):
        return torch.linalg.vecdot(v, v)
    return torch.linalg.vector_norm(v, dim=-1).square()


class Covariance(ABC):
    """A positive-definite covariance over `event_shape`, with batch dims in front."""

    batch_shape: torch.Size
    event_shape: torch.Size

    @property
    def event_ndims(self) -> int:
        return len(self.event_shape)

    @property
    def dim(self) -> int:
        """Number of scalar coordinates in one event: prod(event_shape)."""
        return math.prod(self.event_shape)

    @property
    @abstractmethod
    def dtype(self) -> torch.dtype: ...

    @property
    @abstractmethod
    def device(self) -> torch.device: ...

    @abstractmethod
    def whiten(self, x: Tensor) -> Tensor:
        """L^{-1} x for x of shape (..., *event_shape)."""

    @abstractmethod
    def scale_mul(self, z: Tensor) -> Tensor:
        """L z for z of shape (..., *event_shape): maps N(0, I) to N(0, Sigma)."""

    @abstractmethod
    def mahalanobis_sq(self, x: Tensor, *, overwrite_x: bool = False) -> Tensor:
        """x^T Sigma^{-1} x, reduced over the event dims. With overwrite_x the buffer of x
        may be reused (pass it only for a fresh intermediate)."""

    @abstractmethod
    def log_det(self) -> Tensor:
        """log|Sigma|, of shape batch_shape."""

    @abstractmethod
    def variance(self) -> Tensor:
        """diag(Sigma), broadcastable to batch_shape + event_shape."""

    @abstractmethod
    def scale_tril_matrix(self) -> Tensor:
        """L as a dense (..., d, d) lower-triangular matrix."""

    @abstractmethod
    def expand(self, batch_shape: torch.Size) -> Covariance:
        """The same covariance with its batch dims broadcast to `batch_shape`."""

    @abstractmethod
    def scaled(self, c: Tensor) -> Covariance:
        """Covariance of c * x for an elementwise, nonzero c broadcastable to the event."""

    @abstractmethod
    def select(self, index: Sequence[int]) -> Covariance:
        """Covariance of x[index] for vector events: Sigma[index][:, index]. `index` holds
        distinct coordinates in [0, d)."""

    def to_matrix(self) -> Tensor:
        """Sigma as a dense (..., d, d) matrix (events of several dims are flattened)."""
        variance = _event_flat(self.variance(), self.event_ndims)
        return torch.diag_embed(variance.expand(*self.batch_shape, self.dim))

    def precision_matrix(self) -> Tensor:
        """Sigma^{-1} as a dense (..., d, d) matrix."""
        variance = _event_flat(self.variance(), self.event_ndims)
        return torch.diag_embed(variance.expand(*self.batch_shape, self.dim).reciprocal())

    def transformed(self, matrix: Tensor) -> Dense:
        """Covariance of A x for a (..., d_out, d) matrix A of full row rank: A Sigma A^T."""
        return Dense.from_scale(matrix @ self.scale_tril_matrix())

    def add(self, other: Covariance) -> Covariance:
        """Covariance of X + Y for independent X, Y: Sigma_X + Sigma_Y, structure kept."""
        return Dense.from_matrix(self.to_matrix() + other.to_matrix(), "covariance of the sum")

    def principal_axes(self) -> tuple[Tensor, Tensor]:
        """(variances, directions): eigenvalues of Sigma in descending order and the
        matching unit eigenvectors as the columns of a (..., d, d) matrix."""
        eigenvalues, eigenvectors = torch.linalg.eigh(self.to_matrix())
        return eigenvalues.flip(-1), eigenvectors.flip(-1)


class _Elementwise(Covariance):
    """Sigma = diag(s^2) for a positive scale s that broadcasts to batch + event: whitening
    and scaling are elementwise products with precomputed 1/s and s."""

    std: Tensor

    def __init__(self, std: Tensor, event_shape: torch.Size, validate: bool) -> None:
        if validate:
            check_positive(std, "std")
        self.std = std
        self.event_shape = torch.Size(event_shape)
        self._scale = self.elementwise_std()
        self._inv_scale = self._scale.reciprocal()

    @abstractmethod
    def elementwise_std(self) -> Tensor:
        """The std, shaped to broadcast against batch_shape + event_shape."""

    @property
    def dtype(self) -> torch.dtype:
        return self.std.dtype

    @property
    def device(self) -> torch.device:
        return self.std.device

    def whiten(self, x: Tensor) -> Tensor:
        return x * self._inv_scale

    def scale_mul(self, z: Tensor) -> Tensor:
        return z * self._scale

    def variance(self) -> Tensor:
        return self._scale.square()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(std: {describe(self.std)}, "
            f"event_shape={tuple(self.event_shape)})"
        )


class Isotropic(_Elementwise):
    """Sigma = std^2 I over `event_shape`; `std` has the batch shape."""

    def __init__(self, std: Tensor, event_shape: torch.Size, *, validate: bool = True) -> None:
        self.batch_shape = std.shape
        super().__init__(std, event_shape, validate)

    def mahalanobis_sq(self, x: Tensor, *, overwrite_x: bool = False) -> Tensor:
        flat = _event_flat(x, self.event_ndims)
        return sum_squares(flat) / self.std.square()

    def log_det(self) -> Tensor:
        return 2 * self.dim * self.std.log()

    def to_matrix(self) -> Tensor:
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return self.std.square()[..., None, None] * eye

    def precision_matrix(self) -> Tensor:
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return self.std.square().reciprocal()[..., None, None] * eye

    def scale_tril_matrix(self) -> Tensor:
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return self.std[..., None, None] * eye

    def principal_axes(self) -> tuple[Tensor, Tensor]:
        variances = self.std.square()[..., None].expand(*self.batch_shape, self.dim)
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return variances, eye.expand(*self.batch_shape, self.dim, self.dim)

    def expand(self, batch_shape: torch.Size) -> Isotropic:
        return Isotropic(self.std.expand(batch_shape), self.event_shape, validate=False)

    def elementwise_std(self) -> Tensor:
        """std with event_ndims trailing singleton dims: broadcasts to batch + event."""
        return self.std.reshape(self.std.shape + (1,) * self.event_ndims)

    def select(self, index: Sequence[int]) -> Isotropic:
        return Isotropic(self.std, torch.Size([len(index)]), validate=False)

    def transformed(self, matrix: Tensor) -> Dense:
        """A (std^2 I) A^T = (std A)(std A)^T: no matrix product with L."""
        return Dense.from_scale(matrix * self.std[..., None, None])

    def scaled(self, c: Tensor) -> Covariance:
        if self.event_ndims == 0 or all(size == 1 for size in c.shape[-self.event_ndims :]):
            factor = c.reshape(c.shape[: max(c.dim() - self.event_ndims, 0)]).abs()
            return Isotropic(self.std * factor, self.event_shape)
        return Diagonal(self._scale * c.abs(), self.event_shape)

    def add(self, other: Covariance) -> Covariance:
        if isinstance(other, Isotropic) and other.event_shape == self.event_shape:
            return Isotropic(torch.hypot(self.std, other.std), self.event_shape)
        if isinstance(other, Diagonal):
            return other.add(self)
        return super().add(other)


class Diagonal(_Elementwise):
    """Sigma = diag(std^2); `std` broadcasts to batch_shape + event_shape."""

    def __init__(self, std: Tensor, event_shape: torch.Size, *, validate: bool = True) -> None:
        self.batch_shape = std.shape[: max(std.dim() - len(event_shape), 0)]
        super().__init__(std, event_shape, validate)

    def mahalanobis_sq(self, x: Tensor, *, overwrite_x: bool = False) -> Tensor:
        fits_in_place = x.shape == torch.broadcast_shapes(x.shape, self._inv_scale.shape)
        if overwrite_x and fits_in_place and not _needs_grad(x, self._inv_scale):
            z = x.mul_(self._inv_scale)  # one pass fewer over a large buffer
        else:
            z = x * self._inv_scale
        flat = _event_flat(z, self.event_ndims)
        return sum_squares(flat)

    @cached_property
    def _log_det(self) -> Tensor:
        return 2 * self._full_std().log().sum(-1)

    def log_det(self) -> Tensor:
        return self._log_det

    def _full_std(self) -> Tensor:
        """std broadcast to batch_shape + event_shape, event flattened to (..., d)."""
        std = self.std.expand(self.batch_shape + self.event_shape)
        return _event_flat(std, self.event_ndims)

    def scale_tril_matrix(self) -> Tensor:
        return torch.diag_embed(self._full_std())

    def principal_axes(self) -> tuple[Tensor, Tensor]:
        sorted_std, order = self._full_std().sort(dim=-1, descending=True)
        directions = torch.nn.functional.one_hot(order, self.dim).to(self.dtype).mT
        return sorted_std.square(), directions

    def expand(self, batch_shape: torch.Size) -> Diagonal:
        return Diagonal(
            self.std.expand(torch.Size(batch_shape) + self.event_shape),
            self.event_shape,
            validate=False,
        )

    def scaled(self, c: Tensor) -> Diagonal:
        return Diagonal(self.std * c.abs(), self.event_shape)

    def elementwise_std(self) -> Tensor:
        """std with at least event_ndims dims: broadcasts to batch + event."""
        missing = self.event_ndims - self.std.dim()
        return self.std.reshape((1,) * missing + self.std.shape) if missing > 0 else self.std

    def select(self, index: Sequence[int]) -> Diagonal:
        std = self.elementwise_std()
        if std.shape[-1] != 1:
            std = std[..., torch.as_tensor(index, device=std.device)]
        return Diagonal(std, torch.Size([len(index)]), validate=False)

    def transformed(self, matrix: Tensor) -> Dense:
        """A diag(std^2) A^T = (A diag(std))(A diag(std))^T: columns scaled, no matmul."""
        return Dense.from_scale(matrix * self._full_std()[..., None, :])

    def add(self, other: Covariance) -> Covariance:
        if isinstance(other, Diagonal | Isotropic) and other.event_shape == self.event_shape:
            return Diagonal(torch.sqrt(self.variance() + other.variance()), self.event_shape)
        return super().add(other)


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


class Dense(Covariance):
    """Sigma = L L^T with L lower triangular with a positive diagonal (vector events)."""

    def __init__(self, scale_tril: Tensor) -> None:
        self._scale_tril = scale_tril
        self.event_shape = torch.Size(scale_tril.shape[-1:])
        self.batch_shape = scale_tril.shape[:-2]

    # ----- constructors (each validates its input and factorizes once) -----
    @classmethod
    def from_matrix(cls, matrix: Tensor, name: str = "covariance_matrix") -> Dense:
        """Cholesky-factorize a symmetric positive-definite matrix, or say why not."""
        _check_square(matrix, name)
        asymmetry = (matrix - matrix.mT).abs().amax() if matrix.numel() else matrix.new_zeros(())
        tolerance = 64 * torch.finfo(matrix.dtype).eps * max(matrix.abs().amax().item(), 1e-300)
        if asymmetry.item() > tolerance:
            raise ValueError(
                f"{name} must be symmetric, but |M - M^T| reaches {asymmetry.item():.3g} "
                f"(tolerance {tolerance:.3g}) for {name} of shape {tuple(matrix.shape)}"
            )
        symmetric = 0.5 * (matrix + matrix.mT)
        scale_tril, info = torch.linalg.cholesky_ex(symmetric)
        if bool((info != 0).any()):
            smallest = torch.linalg.eigvalsh(symmetric.detach()).min().item()
            raise ValueError(
                f"{name} must be positive definite, but its smallest eigenvalue is "
                f"{smallest:.6g} (shape {tuple(matrix.shape)})"
            )
        return cls(scale_tril)

    @classmethod
    def from_scale_tril(cls, scale_tril: Tensor, name: str = "scale_tril") -> Dense:
        """Use a given lower-triangular factor with a positive diagonal."""
        _check_square(scale_tril, name)
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
        flipped = cls.from_matrix(precision.flip(-2, -1), name)._scale_tril
        eye = torch.eye(flipped.shape[-1], dtype=flipped.dtype, device=flipped.device)
        inverse = torch.linalg.solve_triangular(flipped, eye, upper=False)
        return cls(inverse.mT.flip(-2, -1))

    @classmethod
    def from_scale(cls, scale: Tensor) -> Dense:
        """Sigma = S S^T for any (..., d, k) factor S of full row rank, by QR of S^T
        (no squaring of the condition number): S^T = Q R gives L = R^T up to signs."""
        # mode="r" skips Q but has no backward; differentiate through the reduced QR.
        _, r = torch.linalg.qr(scale.mT, mode="reduced" if _needs_grad(scale) else "r")
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
        return cls((signs[..., :, None] * r).mT)

    # ----- interface -----
    @property
    def dtype(self) -> torch.dtype:
        return self._scale_tril.dtype

    @property
    def device(self) -> torch.device:
        return self._scale_tril.device

    def whiten(self, x: Tensor) -> Tensor:
        return _rowwise(self._scale_tril, x, _solve_rows)

    def whiten_transpose(self, z: Tensor) -> Tensor:
        """L^{-T} z, so that Sigma^{-1} x = whiten_transpose(whiten(x))."""
        return _rowwise(self._scale_tril, z, _solve_transposed_rows)

    def scale_mul(self, z: Tensor) -> Tensor:
        return _rowwise(self._scale_tril, z, _mul_rows)

    def mahalanobis_sq(self, x: Tensor, *, overwrite_x: bool = False) -> Tensor:
        in_place = overwrite_x and not self.batch_shape and x.is_contiguous()
        if in_place and not _needs_grad(x, self._scale_tril):
            rows = x.view(-1, self.dim)  # solve into x's own buffer: no second allocation
            torch.linalg.solve_triangular(
                self._scale_tril.mT, rows, upper=True, left=False, out=rows
            )
            return sum_squares(x)
        return sum_squares(self.whiten(x))

    def log_det(self) -> Tensor:
        return 2 * self._scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def variance(self) -> Tensor:
        return self._scale_tril.square().sum(-1)

    def to_matrix(self) -> Tensor:
        return self._scale_tril @ self._scale_tril.mT

    def scale_tril_matrix(self) -> Tensor:
        return self._scale_tril

    def precision_matrix(self) -> Tensor:
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        inverse = torch.linalg.solve_triangular(self._scale_tril, eye, upper=False)
        return inverse.mT @ inverse

    def expand(self, batch_shape: torch.Size) -> Dense:
        return Dense(self._scale_tril.expand(*batch_shape, self.dim, self.dim))

    def select(self, index: Sequence[int]) -> Dense:
        """Sigma[index][:, index] = L[index] L[index]^T. A leading block (index = 0..k-1) is
        factorized by the leading block of L as is; any other selection or order gets one
        new factorization, by QR of the rows L[index] cut after the largest index (the
        columns beyond it are zero). With index a permutation of all coordinates this is the
        Cholesky factor of the reordered joint."""
        k = len(index)
        if list(index) == list(range(k)):
            return Dense(self._scale_tril[..., :k, :k])
        rows = torch.as_tensor(index, device=self.device)
        return Dense.from_scale(self._scale_tril[..., rows, : max(index) + 1])

    def scaled(self, c: Tensor) -> Dense:
        """diag(c) L is still lower triangular; flipping column signs keeps its diagonal
        positive, so the scaled factor needs no new factorization."""
        c = c.expand(*c.shape[:-1], self.dim) if c.dim() else c.expand(self.dim)
        if bool((c == 0).any()):
            raise ValueError("the scale c must be nonzero everywhere: c * x would be degenerate")
        scale = c[..., :, None] * self._scale_tril * torch.sign(c)[..., None, :]
        return Dense(scale)

    def add(self, other: Covariance) -> Covariance:
        return Dense.from_matrix(self.to_matrix() + other.to_matrix(), "covariance of the sum")

    def __repr__(self) -> str:
        return f"Dense(scale_tril: {describe(self._scale_tril)})"


def _check_square(matrix: Tensor, name: str) -> None:
    if matrix.dim() < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(
            f"{name} must be a square matrix of shape (..., d, d), got shape {tuple(matrix.shape)}"
        )
    if matrix.shape[-1] == 0:
        raise ValueError(f"{name} must have d >= 1, got shape {tuple(matrix.shape)}")
