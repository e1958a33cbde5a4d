"""The capability interface every covariance structure implements.

A structure holds Sigma over ``event_shape`` (batch dims in front) through a square root S,
S S^T = Sigma, chosen by the structure (a Cholesky factor, a diagonal, a Woodbury form, an
eigenbasis). What a Gaussian, the algebra, the divergences and the mixtures need, each
structure answers here, or raises ``CapabilityError`` saying why it cannot:

- solves, on the hot path: ``whiten(x) = S^{-1} x``, ``whiten_transpose(z) = S^{-T} z``,
  ``scale_mul(z) = S z`` (the reparameterization map), ``solve(x) = Sigma^{-1} x``,
  ``mahalanobis_sq(x) = x^T Sigma^{-1} x``, ``log_det() = log|Sigma|``, ``rank``;
- dense views, on demand: ``variance()`` (the diagonal), ``to_matrix()``,
  ``scale_matrix()`` (S), ``scale_tril_matrix()`` (the Cholesky factor),
  ``precision_matrix()``, ``principal_axes()``, ``sandwich(A) = A Sigma A^T``;
- structure-keeping algebra: ``scaled(c)`` (c * x), ``transformed(A)`` (A x),
  ``select(index)`` (x[index]), ``condition(observed, others, residual)`` (Schur
  complement), ``add(other)`` (X + Y), ``parallel(other)`` ((Sigma^{-1} + Sigma_o^{-1})^{-1},
  the covariance of a product of densities), ``expand``, ``unsqueeze_batch``;
- divergence pieces: ``trace_solve(other) = tr(Sigma^{-1} Sigma_other)`` and the square
  root above (the KL and W2 rules of ``gausslab.divergences`` build on them).

Binary operations (add, parallel, and the KL and W2 rules) dispatch on the pair of structure
types through ``gausslab.covariance.registry``, like torch's ``register_kl``; every method
here has a default written with the capabilities alone, so a new structure is correct (if
not fastest) with no registration at all. No caller outside this package asks which
concrete structure it holds: ``is_diagonal`` and ``is_isotropic`` say what a structure can
do cheaply, not what it is.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from gausslab.covariance.registry import dispatch
from gausslab.kernels import sum_squares

__all__ = ["CapabilityError", "Covariance", "sum_over_event", "sum_squares"]


class CapabilityError(ValueError):
    """A covariance structure cannot answer the request (e.g. the precision matrix of a
    singular covariance); the message says which structure and why."""


def event_flat(x: Tensor, event_ndims: int) -> Tensor:
    """View the trailing `event_ndims` dims of x as one (a scalar event becomes size 1)."""
    if event_ndims == 0:
        return x.unsqueeze(-1)
    return x.flatten(-event_ndims) if event_ndims > 1 else x


def needs_grad(*tensors: Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def sum_over_event(values: Tensor, event_shape: torch.Size) -> Tensor:
    """Sum over the trailing event dims of `values`, whose event dims may be broadcast
    singletons (an isotropic std): each counts for the coordinates it stands for."""
    k = len(event_shape)
    if k == 0:
        return values
    repeats = math.prod(event_shape) // math.prod(values.shape[-k:])
    return values.sum(tuple(range(-k, 0))) * repeats


def centered(x: Tensor, loc: Tensor | None, overwrite_x: bool) -> tuple[Tensor, bool]:
    """(x - loc, True): a fresh buffer the caller may overwrite; (x, overwrite_x) when loc
    is None."""
    return (x, overwrite_x) if loc is None else (x - loc, True)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype factorizations run in: float32 for float16/bfloat16 (CPU LAPACK has no
    half-precision kernels, and half precision loses a factorization's digits), else the
    input's own dtype."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def as_columns(matrix: Tensor) -> Tensor:
    """The columns of a (*batch, d, k) matrix as k vectors (k, *batch, d): the layout the
    vector methods take (sample dims in front of batch dims)."""
    return matrix.movedim(-1, 0)


def from_columns(vectors: Tensor) -> Tensor:
    """Inverse of ``as_columns``: (k, *batch, d) vectors as a (*batch, d, k) matrix."""
    return vectors.movedim(0, -1)


class Covariance(ABC):
    """A positive-(semi)definite covariance over `event_shape`, with batch dims in front."""

    batch_shape: torch.Size
    event_shape: torch.Size
    #: Sigma is diagonal: whitening and scaling are elementwise products, and
    #: ``elementwise_std()`` answers.
    is_diagonal: ClassVar[bool] = False
    #: Sigma = std^2 I with one std per batch member (``elementwise_std()`` has singleton
    #: event dims).
    is_isotropic: ClassVar[bool] = False
    #: Sigma may be singular (a degenerate Gaussian on the affine support of Sigma).
    allows_singular: ClassVar[bool] = False

    # ------------------------------------------------------------------ shape
    @property
    def event_ndims(self) -> int:
        return len(self.event_shape)

    @property
    def dim(self) -> int:
        """Number of scalar coordinates in one event: prod(event_shape)."""
        return math.prod(self.event_shape)

    @property
    def rank(self) -> int | Tensor:
        """rank(Sigma): ``dim`` for a positive-definite structure; a tensor of batch_shape
        for one that may be singular."""
        return self.dim

    @property
    @abstractmethod
    def dtype(self) -> torch.dtype: ...

    @property
    @abstractmethod
    def device(self) -> torch.device: ...

    def cannot(self, what: str, why: str) -> CapabilityError:
        """The error for a request this structure cannot answer."""
        return CapabilityError(f"{type(self).__name__} covariance cannot {what}: {why}")

    # ------------------------------------------------------------------ solves (hot path)
    @abstractmethod
    def whiten(self, x: Tensor) -> Tensor:
        """S^{-1} x for x of shape (..., *event_shape): maps N(0, Sigma) to N(0, I)."""

    @abstractmethod
    def whiten_transpose(self, z: Tensor) -> Tensor:
        """S^{-T} z, so that Sigma^{-1} x = whiten_transpose(whiten(x))."""

    @abstractmethod
    def scale_mul(self, z: Tensor) -> Tensor:
        """S z for z of shape (..., *event_shape): maps N(0, I) to N(0, Sigma)."""

    def mahalanobis_sq(
        self, x: Tensor, loc: Tensor | None = None, *, overwrite_x: bool = False
    ) -> Tensor:
        """(x - loc)^T Sigma^{-1} (x - loc) = |S^{-1} (x - loc)|^2 (loc = 0 when None),
        reduced over the event dims. With overwrite_x the buffer of x may be reused (pass it
        only for a fresh intermediate). Structures may fuse the centering into their solve."""
        x, _ = centered(x, loc, overwrite_x)
        return sum_squares(event_flat(self.whiten(x), self.event_ndims))

    def solve(self, x: Tensor) -> Tensor:
        """Sigma^{-1} x = S^{-T} S^{-1} x."""
        return self.whiten_transpose(self.whiten(x))

    def solve_and_mahalanobis_sq(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(Sigma^{-1} x, x^T Sigma^{-1} x) from one whitening."""
        z = self.whiten(x)
        return self.whiten_transpose(z), sum_squares(event_flat(z, self.event_ndims))

    def matvec(self, x: Tensor) -> Tensor:
        """Sigma x for x of shape (..., *event_shape), through the dense matrix."""
        flat = event_flat(x, self.event_ndims).unsqueeze(-1)
        product = (self.to_matrix() @ flat).squeeze(-1)
        return product.reshape(product.shape[:-1] + self.event_shape)

    @abstractmethod
    def log_det(self) -> Tensor:
        """log|Sigma| (the log pseudo-determinant when singular), of shape batch_shape."""

    # ------------------------------------------------------------------ dense views
    @abstractmethod
    def variance(self) -> Tensor:
        """diag(Sigma), broadcastable to batch_shape + event_shape."""

    def elementwise_std(self) -> Tensor:
        """The per-coordinate std, broadcastable to batch_shape + event_shape (structures
        with ``is_diagonal`` only)."""
        raise self.cannot("give an elementwise std", "its covariance is not diagonal")

    def _identity_rows(self) -> Tensor:
        """The d unit vectors, shaped (d, *event_shape) to pass through the vector methods."""
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return eye.reshape(self.dim, *self.event_shape)

    def _as_matrix(self, columns: Tensor) -> Tensor:
        """Vectors (d, *batch, *event) from the vector methods as a (*batch, d, d) matrix
        whose column j is vector j."""
        flat = event_flat(columns, self.event_ndims)
        full = flat.expand(self.dim, *self.batch_shape, self.dim)
        return from_columns(full)

    def scale_matrix(self) -> Tensor:
        """S as a dense (..., d, d) matrix (events of several dims are flattened)."""
        return self._as_matrix(self.scale_mul(self._identity_rows()))

    def to_matrix(self) -> Tensor:
        """Sigma = S S^T as a dense (..., d, d) matrix (events of several dims are flattened)."""
        scale = self.scale_matrix()
        return scale @ scale.mT

    def precision_matrix(self) -> Tensor:
        """Sigma^{-1} as a dense (..., d, d) matrix."""
        return self._as_matrix(self.solve(self._identity_rows()))

    def scale_tril_matrix(self) -> Tensor:
        """The Cholesky factor L of Sigma (lower triangular, positive diagonal), (..., d, d)."""
        return torch.linalg.cholesky(self.to_matrix())

    def principal_axes(self) -> tuple[Tensor, Tensor]:
        """(variances, directions): eigenvalues of Sigma in descending order and the
        matching unit eigenvectors as the columns of a (..., d, d) matrix."""
        eigenvalues, eigenvectors = torch.linalg.eigh(self.to_matrix())
        return eigenvalues.flip(-1), eigenvectors.flip(-1)

    def sandwich(self, matrix: Tensor) -> Tensor:
        """A Sigma A^T as a dense (..., k, k) matrix, for A of shape (..., k, d)."""
        scaled = matrix @ self.scale_matrix()
        return scaled @ scaled.mT

    def trace_solve(self, other: Covariance) -> Tensor:
        """tr(Sigma^{-1} Sigma_other) = |S^{-1} S_other|_F^2, of the broadcast batch shape."""
        whitened = self.whiten(as_columns(other.scale_matrix()))
        return sum_squares(whitened).sum(0)

    # ------------------------------------------------------------------ algebra
    @abstractmethod
    def expand(self, batch_shape: torch.Size) -> Covariance:
        """The same covariance with its batch dims broadcast to `batch_shape`."""

    @abstractmethod
    def unsqueeze_batch(self, dim: int) -> Covariance:
        """The same covariance with a size-1 batch dim inserted at `dim` (counted in the
        batch dims; negative counts from the end)."""

    @abstractmethod
    def scaled(self, c: Tensor) -> Covariance:
        """Covariance of c * x for an elementwise c broadcastable to the event: diag(c) Sigma
        diag(c)."""

    @abstractmethod
    def select(self, index: Sequence[int]) -> Covariance:
        """Covariance of x[index] for vector events: Sigma[index][:, index]. `index` holds
        distinct coordinates in [0, d)."""

    def transformed(self, matrix: Tensor) -> Covariance:
        """Covariance of A x for a (..., d_out, d) matrix A of full row rank: A Sigma A^T,
        factorized from A S by one QR (no squaring of the condition number)."""
        from gausslab.covariance.dense import Dense

        return Dense.from_scale(matrix @ self.scale_matrix())

    def condition(
        self, observed: Sequence[int], others: Sequence[int], residual: Tensor
    ) -> tuple[Tensor, Covariance]:
        """The law of x[others] given x[observed], for vector events:

            shift       = Sigma_12 Sigma_22^{-1} residual
            Sigma_{1|2} = Sigma_11 - Sigma_12 Sigma_22^{-1} Sigma_21

        with residual = value - mu[observed] of shape (..., len(observed)). Returns (shift,
        Sigma_{1|2}); shift has shape (..., len(others)), its batch dims broadcast with
        batch_shape. This default factorizes the reordered joint once (one QR)."""
        from gausslab.covariance.dense import Dense

        return Dense.from_scale(self.scale_matrix()).condition(observed, others, residual)

    def add(self, other: Covariance) -> Covariance:
        """Covariance of X + Y for independent X, Y: Sigma_X + Sigma_Y, structure kept."""
        return dispatch("add", self, other)

    def parallel(self, other: Covariance) -> Covariance:
        """(Sigma^{-1} + Sigma_other^{-1})^{-1}: the covariance of the normalized product of
        two densities, structure kept."""
        return dispatch("parallel", self, other)

    def product_shift(self, total: Covariance, delta: Tensor) -> Tensor:
        """Sigma (Sigma + Sigma_other)^{-1} delta, with `total` = Sigma + Sigma_other: the
        move of the product's mean from this density's mean towards the other's."""
        return self.matvec(total.solve(delta))
