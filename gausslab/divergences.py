"""KL divergence and the 2-Wasserstein distance between Gaussians.

    KL(p || q) = 1/2 [ tr(S_q^{-1} S_p) + (mu_q - mu_p)^T S_q^{-1} (mu_q - mu_p) - d
                       + log|S_q| - log|S_p| ]
    W2(p, q)^2 = |mu_p - mu_q|^2 + tr(S_p + S_q - 2 (S_p^{1/2} S_q S_p^{1/2})^{1/2})

Both exploit the covariance structure (no dense matrix between isotropic/diagonal pairs) and
are written as sums of non-negative terms, so nearly identical p and q keep their digits.
``kl_divergence`` is registered with ``torch.distributions.kl`` on ``import gausslab`` for
Gaussian pairs and, both ways, between a Gaussian and torch's ``Normal`` (scalar events),
``Independent(Normal)`` and ``MultivariateNormal``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal
from torch.distributions.kl import register_kl

from gausslab import functional, kernels
from gausslab.algebra import check_pair
from gausslab.covariance import (
    Covariance,
    Dense,
    Diagonal,
    Elementwise,
    dispatch,
    register,
    sum_over_event,
)
from gausslab.gaussian import Gaussian

__all__ = ["kl_divergence", "wasserstein2"]


def kl_divergence(p: Gaussian, q: Gaussian) -> Tensor:
    """KL(p || q) for Gaussians of one event shape, of the broadcast batch shape.

    With M = L_q^{-1} L_p (lower triangular, M_ii = L_p,ii / L_q,ii) the covariance part
    tr(S_q^{-1} S_p) - d - log|S_q^{-1} S_p| = |M|_F^2 - d - 2 sum log M_ii splits into
        sum_i (M_ii^2 - 1 - log M_ii^2) + sum_{i > j} M_ij^2,
    non-negative terms, the first computed as ``functional.normal_kl`` does (r - 1 - log r
    via a series / expm1), so nearly identical p and q lose no digits. So

        KL = sum_i normal_kl(0, L_p,ii, 0, L_q,ii) + 1/2 sum_{i>j} M_ij^2
             + 1/2 |L_q^{-1} (mu_p - mu_q)|^2.

    Isotropic/diagonal pairs (any event shape) reduce to the elementwise sum of
    ``normal_kl`` with no matrix; a diagonal q needs no solve; a dense q needs one triangular
    solve whose lower-triangular right-hand side halves its cost (no inverse is formed).
    """
    batch = check_pair(p, q, ("p", "q"))
    mean_term = 0.5 * q.covariance.mahalanobis_sq(p.loc - q.loc)
    return (mean_term + dispatch("kl", p.covariance, q.covariance)).expand(batch)


@register("kl", Elementwise, Elementwise)
def _kl_elementwise(cp: Elementwise, cq: Elementwise) -> Tensor:
    """sum_i normal_kl(0, s_p,i, 0, s_q,i): no matrix."""
    per_coordinate = functional.normal_kl(0.0, cp.elementwise_std(), 0.0, cq.elementwise_std())
    return sum_over_event(per_coordinate, cp.event_shape)


@register("kl", Covariance, Dense)
def _kl_dense_q(cp: Covariance, cq: Dense) -> Tensor:
    """The Cholesky route above with a dense q: the strictly lower part of L_q^{-1} L_p by
    the blocked solve with a lower-triangular right-hand side, which never computes the zero
    upper block (``gausslab.kernels.strict_lower_sq_norm``: half the flops of one full
    triangular solve, mostly in GEMMs)."""
    tril_p, tril_q = cp.scale_tril_matrix(), cq.scale_tril_matrix()
    off_diagonal = kernels.strict_lower_sq_norm(tril_q, tril_p)
    return _diagonal_kl(tril_p, tril_q) + 0.5 * off_diagonal


@register("kl", Dense, Elementwise)
def _kl_diagonal_q(cp: Dense, cq: Elementwise) -> Tensor:
    """The Cholesky route above with a diagonal q: M = L_p / s_q row by row, no solve."""
    tril_p, tril_q = cp.scale_tril_matrix(), cq.scale_tril_matrix()
    diag_q = tril_q.diagonal(dim1=-2, dim2=-1)
    off_diagonal = (tril_p.tril(-1) / diag_q[..., :, None]).square().sum((-2, -1))
    return _diagonal_kl(tril_p, tril_q) + 0.5 * off_diagonal


def _diagonal_kl(tril_p: Tensor, tril_q: Tensor) -> Tensor:
    """sum_i normal_kl(0, L_p,ii, 0, L_q,ii): the diagonal terms of the Cholesky route."""
    diag_p, diag_q = (t.diagonal(dim1=-2, dim2=-1) for t in (tril_p, tril_q))
    return functional.normal_kl(0.0, diag_p, 0.0, diag_q).sum(-1)


@register("kl", Covariance, Covariance)
def _kl_any(cp: Covariance, cq: Covariance) -> Tensor:
    """1/2 [tr(S_q^{-1} S_p) - d + log|S_q| - log|S_p|] from the structures' own trace
    solve and log-determinants (no digit-keeping split: nearly identical p and q lose
    digits to the cancellation, as in torch)."""
    return 0.5 * (cq.trace_solve(cp) - cp.dim + cq.log_det() - cp.log_det())


def wasserstein2(p: Gaussian, q: Gaussian) -> Tensor:
    """The 2-Wasserstein distance W2(p, q) (not squared), of the broadcast batch shape.

        W2^2 = |mu_p - mu_q|^2 + tr(S_p + S_q - 2 (S_p^{1/2} S_q S_p^{1/2})^{1/2})

    Isotropic/diagonal pairs: the covariance part is sum_i (s_p,i - s_q,i)^2, exact and
    O(d). Otherwise, with M = L_q^T L_p = U Sigma V^T (an SVD; the singular values of M are
    the square roots of the eigenvalues of S_p^{1/2} S_q S_p^{1/2}), the covariance part is
    tr S_p + tr S_q - 2 sum(Sigma) = min over orthogonal R of |L_p - L_q R|_F^2, attained at
    R = U V^T, and is computed as that squared norm: a sum of squares, so it never comes out
    negative (no clamping is needed before the square root) and nearly equal covariances
    keep their digits. R is held fixed for gradients (at the minimum its own derivative
    vanishes), which keeps them finite when singular values repeat. The gradient of W2
    itself is undefined where W2 = 0.
    """
    batch = check_pair(p, q, ("p", "q"))
    mean_sq = sum_over_event((p.loc - q.loc).square(), p.event_shape)
    covariance_sq = dispatch("w2", p.covariance, q.covariance)
    return (mean_sq + covariance_sq).sqrt().expand(batch)


@register("w2", Elementwise, Elementwise)
def _w2_elementwise(cp: Elementwise, cq: Elementwise) -> Tensor:
    """sum_i (s_p,i - s_q,i)^2: exact and O(d)."""
    difference = cp.elementwise_std() - cq.elementwise_std()
    return sum_over_event(difference.square(), cp.event_shape)


@register("w2", Covariance, Covariance)
def _w2_any(cp: Covariance, cq: Covariance) -> Tensor:
    """min over orthogonal R of |S_p - S_q R|_F^2 for the structures' square roots, R = U V^T
    from the SVD of S_q^T S_p (held fixed for gradients)."""
    scale_p, scale_q = cp.scale_matrix(), cq.scale_matrix()
    with torch.no_grad():
        u, _, vh = torch.linalg.svd(scale_q.mT @ scale_p)
        rotation = u @ vh
    return (scale_p - scale_q @ rotation).square().sum((-2, -1))


# ------------------------------------------------------------------ torch.distributions.kl
def _as_gaussian(distribution: Distribution) -> Gaussian:
    """The Gaussian that a torch Normal, Independent(Normal) or MultivariateNormal is,
    sharing its tensors (MultivariateNormal's Cholesky factor is reused, not recomputed)."""
    if isinstance(distribution, Gaussian):
        return distribution
    if isinstance(distribution, Normal):
        covariance: Covariance = Diagonal(distribution.scale, torch.Size(), validate=False)
        loc = distribution.loc
    elif isinstance(distribution, Independent) and isinstance(distribution.base_dist, Normal):
        base = distribution.base_dist
        event = distribution.event_shape
        covariance, loc = Diagonal(base.scale, event, validate=False), base.loc
    elif isinstance(distribution, MultivariateNormal):
        covariance, loc = Dense(distribution.scale_tril), distribution.loc
    else:
        raise NotImplementedError(
            f"no Gaussian KL for {type(distribution).__name__}"
            " (Independent needs a Normal base distribution)"
        )
    return Gaussian.from_covariance(loc, covariance, validate_args=False)


def _registered_kl(p: Distribution, q: Distribution) -> Tensor:
    return kl_divergence(_as_gaussian(p), _as_gaussian(q))


for _torch_family in (Normal, Independent, MultivariateNormal):
    register_kl(Gaussian, _torch_family)(_registered_kl)
    register_kl(_torch_family, Gaussian)(_registered_kl)
register_kl(Gaussian, Gaussian)(kl_divergence)
