"""Gaussian: a torch.distributions.Distribution over one covariance structure.

    p(x) = (2 pi)^(-d/2) |Sigma|^(-1/2) exp(-1/2 (x - mu)^T Sigma^{-1} (x - mu))
    log p(x) = -1/2 [ d log(2 pi) + log|Sigma| + (x - mu)^T Sigma^{-1} (x - mu) ]

The covariance is an ``Isotropic``, ``Diagonal`` or ``Dense`` structure (see
``gausslab.covariance``), factorized once at construction. Events may have several dims:
``Gaussian.isotropic(loc, std, event_ndims=3)`` treats a (C, H, W) image as one event without
ever forming a (CHW x CHW) matrix.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from gausslab import functional, kernels
from gausslab._validation import (
    as_float_tensor,
    broadcast_shapes,
    check_event_ndims,
    check_finite,
    check_value_shape,
    common_float,
)
from gausslab.covariance import Covariance, Dense, Diagonal, Isotropic

__all__ = ["Gaussian", "UnivariateGaussian"]

_LOG_2PI = math.log(2 * math.pi)


def _default_validate(validate_args: bool | None) -> bool:
    return Distribution._validate_args if validate_args is None else bool(validate_args)


class Gaussian(Distribution):
    """A Gaussian N(loc, Sigma) with batch and event shapes, as torch users expect.

    Build it with exactly one of ``covariance_matrix``, ``scale_tril`` or
    ``precision_matrix`` (as ``torch.distributions.MultivariateNormal``), or with the
    structured constructors ``Gaussian.isotropic``, ``Gaussian.diagonal`` and
    ``Gaussian.univariate``. Parameters are checked once, at construction, unless
    ``validate_args=False``.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}
    has_rsample = True

    def __init__(
        self,
        loc: Any,
        covariance_matrix: Any = None,
        *,
        scale_tril: Any = None,
        precision_matrix: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        given = {
            name: value
            for name, value in (
                ("covariance_matrix", covariance_matrix),
                ("scale_tril", scale_tril),
                ("precision_matrix", precision_matrix),
            )
            if value is not None
        }
        if len(given) != 1:
            raise ValueError(
                "Gaussian needs exactly one of covariance_matrix, scale_tril or "
                f"precision_matrix, got {sorted(given) or 'none'}"
            )
        ((name, matrix),) = given.items()
        loc = as_float_tensor(loc, "loc")
        matrix = as_float_tensor(matrix, name, like=loc)
        loc, matrix = common_float(("loc", loc), (name, matrix))
        if loc.dim() < 1:
            raise ValueError("loc must have shape (..., d), got a scalar; use Gaussian.univariate")
        if matrix.dim() < 2 or matrix.shape[-1] != loc.shape[-1]:
            raise ValueError(
                f"{name} must have shape (..., d, d) with d = loc.shape[-1] = {loc.shape[-1]}, "
                f"got {name} of shape {tuple(matrix.shape)}"
            )
        if _default_validate(validate_args):
            check_finite(loc, "loc")
            check_finite(matrix, name)
        build = {
            "covariance_matrix": Dense.from_matrix,
            "scale_tril": Dense.from_scale_tril,
            "precision_matrix": Dense.from_precision,
        }[name]
        self._init(loc, build(matrix, name), validate_args)

    def _init(self, loc: Tensor, covariance: Covariance, validate_args: bool | None) -> None:
        event_shape = covariance.event_shape
        k = len(event_shape)
        loc_batch = loc.shape[: loc.dim() - k]
        if tuple(loc.shape[loc.dim() - k :]) != tuple(event_shape):
            raise ValueError(
                f"loc must end with the event shape {tuple(event_shape)}, "
                f"got loc of shape {tuple(loc.shape)}"
            )
        batch_shape = broadcast_shapes(
            "loc and the covariance batch shapes",
            loc=loc_batch,
            covariance=covariance.batch_shape,
        )
        self.loc = loc
        self.covariance = covariance
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_covariance(
        cls, loc: Tensor, covariance: Covariance, *, validate_args: bool | None = None
    ) -> Gaussian:
        """A Gaussian over an already built covariance structure (no re-factorization).

        Returns a ``UnivariateGaussian`` when the event is a scalar.
        """
        target = UnivariateGaussian if len(covariance.event_shape) == 0 else Gaussian
        instance = target.__new__(target)
        if _default_validate(validate_args):
            check_finite(loc, "loc")
        instance._init(loc, covariance, validate_args)
        return instance

    @classmethod
    def isotropic(
        cls, loc: Any, std: Any, event_ndims: int = 1, *, validate_args: bool | None = None
    ) -> Gaussian:
        """N(loc, std^2 I) with the last `event_ndims` dims of loc as the event; `std`
        broadcasts with the batch shape loc.shape[:-event_ndims]."""
        loc = as_float_tensor(loc, "loc")
        std = as_float_tensor(std, "std", like=loc)
        loc, std = common_float(("loc", loc), ("std", std))
        k = check_event_ndims(event_ndims, loc.dim())
        event_shape = loc.shape[loc.dim() - k :]
        broadcast_shapes(
            "std must broadcast with the batch shape loc.shape[:-event_ndims]",
            std=std.shape,
            loc_batch=loc.shape[: loc.dim() - k],
        )
        validate = _default_validate(validate_args)
        return cls.from_covariance(
            loc, Isotropic(std, event_shape, validate=validate), validate_args=validate_args
        )

    @classmethod
    def diagonal(
        cls, loc: Any, std: Any, event_ndims: int = 1, *, validate_args: bool | None = None
    ) -> Gaussian:
        """N(loc, diag(std^2)) with the last `event_ndims` dims as the event; `std`
        broadcasts with loc."""
        loc = as_float_tensor(loc, "loc")
        std = as_float_tensor(std, "std", like=loc)
        loc, std = common_float(("loc", loc), ("std", std))
        full = broadcast_shapes("std must broadcast with loc", loc=loc.shape, std=std.shape)
        k = check_event_ndims(event_ndims, len(full))
        event_shape = full[len(full) - k :]
        if loc.shape[loc.dim() - k :] != event_shape:
            loc = loc.expand(loc.shape[: loc.dim() - k] + event_shape)
        validate = _default_validate(validate_args)
        return cls.from_covariance(
            loc, Diagonal(std, event_shape, validate=validate), validate_args=validate_args
        )

    @classmethod
    def univariate(
        cls, loc: Any, std: Any, *, validate_args: bool | None = None
    ) -> UnivariateGaussian:
        """N(loc, std^2) with scalar events; adds cdf, log_cdf and icdf."""
        result = cls.diagonal(loc, std, event_ndims=0, validate_args=validate_args)
        assert isinstance(result, UnivariateGaussian)
        return result

    # ------------------------------------------------------------------ properties
    @property
    def support(self) -> constraints.Constraint:
        return constraints.independent(constraints.real, len(self.event_shape))

    @property
    def dim(self) -> int:
        """Number of scalar coordinates in one event, prod(event_shape)."""
        return self.covariance.dim

    @property
    def mean(self) -> Tensor:
        return self.loc.expand(self.batch_shape + self.event_shape)

    @property
    def mode(self) -> Tensor:
        return self.mean

    @property
    def variance(self) -> Tensor:
        return self.covariance.variance().expand(self.batch_shape + self.event_shape)

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    @property
    def covariance_matrix(self) -> Tensor:
        """Sigma as a (..., d, d) matrix; events of several dims are flattened."""
        return self._dense(self.covariance.to_matrix())

    @property
    def scale_tril(self) -> Tensor:
        """L with L L^T = Sigma, lower triangular, as a (..., d, d) matrix."""
        return self._dense(self.covariance.scale_tril_matrix())

    @property
    def precision_matrix(self) -> Tensor:
        """Sigma^{-1} as a (..., d, d) matrix."""
        return self._dense(self.covariance.precision_matrix())

    def _dense(self, matrix: Tensor) -> Tensor:
        return matrix.expand(*self.batch_shape, self.dim, self.dim)

    @cached_property
    def log_normalizer(self) -> Tensor:
        """log Z = log((2 pi)^(d/2) |Sigma|^(1/2)) = 1/2 (d log(2 pi) + log|Sigma|)."""
        return 0.5 * (self.covariance.rank * _LOG_2PI + self.covariance.log_det())

    # ------------------------------------------------------------------ densities
    def _value(self, value: Any) -> Tensor:
        value = as_float_tensor(value, "x", like=self.loc)
        check_value_shape(value, self.event_shape, "x")
        return value

    def _refuse_nan(self, result: Tensor) -> Tensor:
        if self._validate_args and bool(torch.isnan(result).any()):
            raise ValueError("x contains NaN: the density of NaN is undefined")
        return result

    def log_prob(self, value: Any) -> Tensor:
        """log p(x) = -1/2 [d log(2 pi) + log|Sigma| + (x - mu)^T Sigma^{-1} (x - mu)]."""
        squared = self.covariance.mahalanobis_sq(self._value(value), self.loc)
        return self._refuse_nan(-0.5 * squared - self.log_normalizer)

    def prob(self, value: Any) -> Tensor:
        """p(x) = exp(log p(x))."""
        return self.log_prob(value).exp()

    def mahalanobis(self, value: Any) -> Tensor:
        """The Mahalanobis distance sqrt((x - mu)^T Sigma^{-1} (x - mu)) (not squared)."""
        squared = self.covariance.mahalanobis_sq(self._value(value), self.loc)
        return self._refuse_nan(squared.sqrt())

    def standardize(self, value: Any) -> Tensor:
        """z = L^{-1} (x - mu): maps x ~ N(mu, Sigma) to z ~ N(0, I)."""
        return self.covariance.whiten(self._value(value) - self.loc)

    def entropy(self) -> Tensor:
        """H = d/2 (1 + log(2 pi)) + 1/2 log|Sigma|."""
        return (0.5 * self.covariance.rank + self.log_normalizer).expand(self.batch_shape)

    # ------------------------------------------------------------------ sampling
    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> Tensor:
        """Reparameterized draw z = mu + L eps with eps ~ N(0, I): gradients flow to the
        mean and the scale."""
        shape = self._extended_shape(torch.Size(sample_shape))
        # drawn into the output's own buffer (the same numbers as torch.randn(shape))
        eps = torch.empty(shape, dtype=self.loc.dtype, device=self.loc.device).normal_()
        if self.covariance.is_diagonal:  # one fused pass over eps, in place without autograd
            return kernels.affine_(eps, self.loc, self.covariance.elementwise_std())
        return self.loc + self.covariance.scale_mul(eps)

    def sample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape)

    # ------------------------------------------------------------------ geometry
    def principal_axes(self) -> tuple[Tensor, Tensor]:
        """(variances, directions): the eigenvalues of Sigma in descending order and the
        unit eigenvectors as columns. The contour ellipsoid's semi-axes point along the
        directions with lengths proportional to sqrt(variances)."""
        variances, directions = self.covariance.principal_axes()
        d = self.dim
        return (
            variances.expand(*self.batch_shape, d),
            directions.expand(*self.batch_shape, d, d),
        )

    # ------------------------------------------------------------------ algebra
    # Thin delegations: the math lives in gausslab.algebra (imported lazily, it imports us).
    def affine(self, A: Any, b: Any = None) -> Gaussian:
        """The law of A x + b: N(A mu + b, A Sigma A^T); see ``gausslab.algebra.affine``."""
        from gausslab.algebra import affine

        return affine(self, A, b)

    def marginal(self, idx: Any) -> Gaussian:
        """The law of x[idx]; see ``gausslab.algebra.marginal``."""
        from gausslab.algebra import marginal

        return marginal(self, idx)

    def condition(self, idx: Any, value: Any) -> Gaussian:
        """The law of the other coordinates given x[idx] = value (Schur complement); see
        ``gausslab.algebra.condition``."""
        from gausslab.algebra import condition

        return condition(self, idx, value)

    def convolve(self, other: Gaussian) -> Gaussian:
        """The law of X + Y for independent X ~ self, Y ~ other; see
        ``gausslab.algebra.convolve``."""
        from gausslab.algebra import convolve

        return convolve(self, other)

    # ------------------------------------------------------------------ batching
    def expand(self, batch_shape: Any, _instance: Gaussian | None = None) -> Gaussian:
        batch_shape = torch.Size(batch_shape)
        broadcast_shapes("expand", batch_shape=batch_shape, current=self.batch_shape)
        loc = self.loc.expand(batch_shape + self.event_shape)
        return Gaussian.from_covariance(
            loc, self.covariance.expand(batch_shape), validate_args=False
        )

    def __repr__(self) -> str:
        kind = type(self.covariance).__name__
        return (
            f"{type(self).__name__}({kind}, batch_shape={tuple(self.batch_shape)}, "
            f"event_shape={tuple(self.event_shape)}, dtype={self.loc.dtype})"
        )


class UnivariateGaussian(Gaussian):
    """N(loc, std^2) with scalar events: adds the cdf, its log and its inverse.

    cdf(x) = Phi((x - mu) / sigma);  icdf(p) = mu + sigma Phi^{-1}(p).
    """

    @property
    def std(self) -> Tensor:
        return self.stddev

    def cdf(self, value: Any) -> Tensor:
        value = as_float_tensor(value, "x", like=self.loc)
        return functional.normal_cdf(value, self.loc, self.stddev)

    def log_cdf(self, value: Any) -> Tensor:
        value = as_float_tensor(value, "x", like=self.loc)
        return functional.normal_log_cdf(value, self.loc, self.stddev)

    def icdf(self, value: Any) -> Tensor:
        p = as_float_tensor(value, "p", like=self.loc)
        return functional.normal_icdf(p, self.loc, self.stddev, validate=self._validate_args)
