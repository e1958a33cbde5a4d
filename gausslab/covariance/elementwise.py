"""Diagonal covariances over events of any shape: no matrix ever, O(d) per vector.

- ``Isotropic``: Sigma = std^2 I over `event_shape` (an image (C, H, W) is one event), one
  std per batch member.
- ``Diagonal``: Sigma = diag(std^2), std broadcastable to batch_shape + event_shape.

The square root is S = diag(std) (symmetric), so whitening, its transpose and scaling are
elementwise products with precomputed 1/std and std.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from functools import cached_property
from typing import ClassVar

import torch
from torch import Tensor

from gausslab import kernels
from gausslab._validation import check_positive, describe
from gausslab.covariance.base import (
    Covariance,
    event_flat,
    sum_over_event,
)
from gausslab.covariance.registry import register

__all__ = ["Diagonal", "Elementwise", "Isotropic"]


class Elementwise(Covariance):
    """Sigma = diag(s^2) for a positive scale s that broadcasts to batch + event (the common
    base of the diagonal structures, for pair rules)."""

    is_diagonal: ClassVar[bool] = True
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

    def whiten_transpose(self, z: Tensor) -> Tensor:
        return z * self._inv_scale

    def scale_mul(self, z: Tensor) -> Tensor:
        return z * self._scale

    def matvec(self, x: Tensor) -> Tensor:
        return x * self.variance()

    def mahalanobis_sq(
        self, x: Tensor, loc: Tensor | None = None, *, overwrite_x: bool = False
    ) -> Tensor:
        """sum_i ((x_i - loc_i) / s_i)^2 over the event, fused: one read of x and no
        full-size intermediate (``gausslab.kernels.sq_norm_centered``); an isotropic scale
        divides the reduced sum instead. x is never written, so overwrite_x changes nothing."""
        flat = event_flat(x, self.event_ndims)
        center = None if loc is None else self._event_flat_param(loc)
        if self.is_isotropic:
            return kernels.sq_norm_centered(flat, center) / self.std.square()
        return kernels.sq_norm_centered(flat, center, self._event_flat_param(self._inv_scale))

    def _event_flat_param(self, param: Tensor) -> Tensor:
        """A parameter broadcastable to batch + event, with its event dims expanded to the
        event shape and flattened to (..., d) like x."""
        k = self.event_ndims
        if k == 0:
            return param.unsqueeze(-1)
        full = param.expand(*param.shape[: param.dim() - k], *self.event_shape)
        return full.flatten(-k) if k > 1 else full

    def variance(self) -> Tensor:
        return self._scale.square()

    def _full_std(self) -> Tensor:
        """std broadcast to batch_shape + event_shape, event flattened to (..., d)."""
        std = self._scale.expand(self.batch_shape + self.event_shape)
        return event_flat(std, self.event_ndims)

    def scale_matrix(self) -> Tensor:
        return torch.diag_embed(self._full_std())

    def scale_tril_matrix(self) -> Tensor:
        return self.scale_matrix()

    def to_matrix(self) -> Tensor:
        return torch.diag_embed(self._full_std().square())

    def precision_matrix(self) -> Tensor:
        return torch.diag_embed(self._full_std().square().reciprocal())

    def sandwich(self, matrix: Tensor) -> Tensor:
        """A diag(s^2) A^T = (A diag(s)) (A diag(s))^T: columns scaled, one matmul."""
        scaled = matrix * self._full_std()[..., None, :]
        return scaled @ scaled.mT

    def trace_solve(self, other: Covariance) -> Tensor:
        """tr(diag(s^2)^{-1} Sigma_other) = sum_i Sigma_other,ii / s_i^2."""
        ratio = other.variance() * self._inv_scale.square()
        return sum_over_event(ratio, self.event_shape)

    def transformed(self, matrix: Tensor) -> Covariance:
        """A diag(s^2) A^T = (A diag(s))(A diag(s))^T: columns scaled, no matmul."""
        from gausslab.covariance.dense import Dense

        return Dense.from_scale(matrix * self._full_std()[..., None, :])

    def condition(
        self, observed: Sequence[int], others: Sequence[int], residual: Tensor
    ) -> tuple[Tensor, Covariance]:
        """Independent coordinates: no shift, and the covariance of the others is their
        marginal (structure kept)."""
        batch = torch.broadcast_shapes(residual.shape[:-1], self.batch_shape)
        shift = residual.new_zeros(()).expand(*batch, len(others))
        return shift, self.select(others)

    def product_shift(self, total: Covariance, delta: Tensor) -> Tensor:
        """s^2 / (s^2 + s_other^2) * delta when the total is diagonal too."""
        if total.is_diagonal:
            return self.variance() / total.variance() * delta
        return super().product_shift(total, delta)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(std: {describe(self.std)}, "
            f"event_shape={tuple(self.event_shape)})"
        )


class Isotropic(Elementwise):
    """Sigma = std^2 I over `event_shape`; `std` has the batch shape."""

    is_isotropic: ClassVar[bool] = True

    def __init__(self, std: Tensor, event_shape: torch.Size, *, validate: bool = True) -> None:
        self.batch_shape = std.shape
        super().__init__(std, event_shape, validate)

    def log_det(self) -> Tensor:
        return 2 * self.dim * self.std.log()

    def to_matrix(self) -> Tensor:
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return self.std.square()[..., None, None] * eye

    def precision_matrix(self) -> Tensor:
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return self.std.square().reciprocal()[..., None, None] * eye

    def scale_matrix(self) -> Tensor:
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return self.std[..., None, None] * eye

    def principal_axes(self) -> tuple[Tensor, Tensor]:
        variances = self.std.square()[..., None].expand(*self.batch_shape, self.dim)
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return variances, eye.expand(*self.batch_shape, self.dim, self.dim)

    def expand(self, batch_shape: torch.Size) -> Isotropic:
        return Isotropic(self.std.expand(batch_shape), self.event_shape, validate=False)

    def unsqueeze_batch(self, dim: int) -> Isotropic:
        return Isotropic(self.std.unsqueeze(dim), self.event_shape, validate=False)

    def elementwise_std(self) -> Tensor:
        """std with event_ndims trailing singleton dims: broadcasts to batch + event."""
        return self.std.reshape(self.std.shape + (1,) * self.event_ndims)

    def select(self, index: Sequence[int]) -> Isotropic:
        return Isotropic(self.std, torch.Size([len(index)]), validate=False)

    def transformed(self, matrix: Tensor) -> Covariance:
        """A (std^2 I) A^T = (std A)(std A)^T: no matrix product with L."""
        from gausslab.covariance.dense import Dense

        return Dense.from_scale(matrix * self.std[..., None, None])

    def scaled(self, c: Tensor) -> Covariance:
        _check_nonzero(c)  # then a positive std stays positive, and a zero std (a point
        # mass, GaussianMixture.empirical) stays zero: no second validation
        if self.event_ndims == 0 or all(size == 1 for size in c.shape[-self.event_ndims :]):
            factor = c.reshape(c.shape[: max(c.dim() - self.event_ndims, 0)]).abs()
            return Isotropic(self.std * factor, self.event_shape, validate=False)
        return Diagonal(self._scale * c.abs(), self.event_shape, validate=False)


class Diagonal(Elementwise):
    """Sigma = diag(std^2); `std` broadcasts to batch_shape + event_shape."""

    def __init__(self, std: Tensor, event_shape: torch.Size, *, validate: bool = True) -> None:
        self.batch_shape = std.shape[: max(std.dim() - len(event_shape), 0)]
        super().__init__(std, event_shape, validate)

    @cached_property
    def _log_det(self) -> Tensor:
        return 2 * self._full_std().log().sum(-1)

    def log_det(self) -> Tensor:
        return self._log_det

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

    def unsqueeze_batch(self, dim: int) -> Diagonal:
        std = self.elementwise_std()
        if std.dim() > self.event_ndims:  # a std without batch dims broadcasts as it is
            std = std.unsqueeze(dim - self.event_ndims if dim < 0 else dim)
        return Diagonal(std, self.event_shape, validate=False)

    def scaled(self, c: Tensor) -> Diagonal:
        _check_nonzero(c)
        return Diagonal(self.std * c.abs(), self.event_shape, validate=False)

    def elementwise_std(self) -> Tensor:
        """std with at least event_ndims dims: broadcasts to batch + event."""
        missing = self.event_ndims - self.std.dim()
        return self.std.reshape((1,) * missing + self.std.shape) if missing > 0 else self.std

    def select(self, index: Sequence[int]) -> Diagonal:
        std = self.elementwise_std()
        if std.shape[-1] != 1:
            std = std[..., torch.as_tensor(index, device=std.device)]
        return Diagonal(std, torch.Size([len(index)]), validate=False)


def _check_nonzero(c: Tensor) -> None:
    if bool((c == 0).any()):
        raise ValueError("the scale c must be nonzero everywhere: c * x would be degenerate")


# ---------------------------------------------------------------------- pair rules
@register("add", Isotropic, Isotropic)
def _add_isotropic(a: Isotropic, b: Isotropic) -> Isotropic:
    """std^2 I + std_b^2 I = hypot(std, std_b)^2 I."""
    return Isotropic(torch.hypot(a.std, b.std), a.event_shape)


@register("add", Elementwise, Elementwise)
def _add_elementwise(a: Elementwise, b: Elementwise) -> Diagonal:
    """diag(s_a^2) + diag(s_b^2) = diag(s_a^2 + s_b^2)."""
    return Diagonal(torch.sqrt(a.variance() + b.variance()), a.event_shape)


def _parallel_std(std_a: Tensor, std_b: Tensor) -> Tensor:
    """sqrt(s_a^2 s_b^2 / (s_a^2 + s_b^2)) = s_a s_b / hypot(s_a, s_b), without overflow."""
    return std_a * (std_b / torch.hypot(std_a, std_b))


@register("parallel", Isotropic, Isotropic)
def _parallel_isotropic(a: Isotropic, b: Isotropic) -> Isotropic:
    return Isotropic(_parallel_std(a.std, b.std), a.event_shape, validate=False)


@register("parallel", Elementwise, Elementwise)
def _parallel_elementwise(a: Elementwise, b: Elementwise) -> Diagonal:
    std = _parallel_std(a.elementwise_std(), b.elementwise_std())
    return Diagonal(std, a.event_shape, validate=False)
