"""Posterior statistics of a Gaussian mixture seen through isotropic Gaussian noise, computed
in chunks over the components with an online log-sum-exp.

For p(x) = sum_k w_k N(x; mu_k, S_k) and y = x + sigma n, n ~ N(0, I), with one sigma per row
of y, the law of y is sum_k w_k N(y; mu_k, S_k + sigma^2 I). With

    l_k(y) = log w_k + log N(y; mu_k, S_k + sigma^2 I)        (log joint of component k)
    r_k(y) = softmax_k l_k(y) = p(k | y)                       (responsibility)

``MixturePosterior(mixture)(y, sigma_sq)`` returns

    log_prob = log p_sigma(y) = logsumexp_k l_k(y)
    pull     = sum_k r_k (S_k + sigma^2 I)^{-1} (y - mu_k) = -grad_y log p_sigma(y)
    mean     = E[x | y] = sum_k r_k (mu_k + S_k (S_k + sigma^2 I)^{-1} (y - mu_k))

so that y - E[x | y] = sigma^2 pull (Tweedie's formula); sigma = 0 gives the mixture's own
log density and score. Both ``pull`` and ``mean`` are sums of per-component terms, never the
difference of the two large numbers y and E[x | y]: each stays accurate where the other would
cancel (pull at small sigma, mean at large sigma).

Every covariance is used in its spectral form S_k = U_k diag(lambda_k) U_k^T (U_k = I for
isotropic and diagonal components), where adding sigma^2 I only shifts lambda_k: one
factorization per component, whatever the noise level of each row.

Components are visited ``chunk`` at a time. A running maximum m of the log joints and sums
rescaled by exp(m_old - m_new) (the online log-sum-exp) keep the memory at O(B d + B chunk d)
besides the mixture itself: no (B, K, d) tensor for all K components at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from gausslab.mixture import GaussianMixture

__all__ = ["MixturePosterior", "PosteriorStats"]

_LOG_2PI = math.log(2 * math.pi)
# Elements of one (B, chunk, d) float64 block of per-component terms (32 MiB).
_BLOCK_ELEMENTS = 1 << 22


class PosteriorStats(NamedTuple):
    """log p_sigma(y) of shape (B,); pull = -grad_y log p_sigma(y) and mean = E[x | y], each of
    y's shape (B, *event_shape)."""

    log_prob: Tensor
    pull: Tensor
    mean: Tensor


class _Spectrum(NamedTuple):
    """The components as S_k = U_k diag(lambda_k) U_k^T, events flattened to d coordinates:
    loc (K, d), variances lambda (K, d) or (K, 1) for isotropic ones, basis U (K, d, d) or None
    where U_k = I. All float64."""

    loc: Tensor
    log_weights: Tensor
    variances: Tensor
    basis: Tensor | None


def _spectrum(mixture: GaussianMixture) -> _Spectrum:
    components = mixture.components
    count, d = mixture.num_components, math.prod(mixture.event_shape)
    loc = components.loc.expand(count, *mixture.event_shape).reshape(count, d)
    covariance = components.covariance
    accurate = torch.promote_types(loc.dtype, torch.float64)
    if covariance.is_diagonal:  # diagonal in the standard basis
        std = covariance.elementwise_std()
        std = std.reshape(*std.shape[: std.dim() - len(mixture.event_shape)], -1)
        width = 1 if std.shape[-1] == 1 else d
        variances = std.to(accurate).square().expand(count, width)
        basis = None
    else:
        basis, variances = _eigenbasis(covariance.scale_matrix().to(accurate), d)
        basis, variances = basis.expand(count, d, d), variances.expand(count, d)
    return _Spectrum(loc.to(accurate), mixture.logits.to(accurate).expand(count), variances, basis)


def _eigenbasis(scale: Tensor, d: int) -> tuple[Tensor, Tensor]:
    """(U, lambda) with S S^T = U diag(lambda) U^T from the SVD of a square root S (d, r) of
    the covariance: the eigenvalues to full accuracy (no squared condition number), and a full
    basis with lambda = 0 on the null space of a singular covariance."""
    basis, singular, _ = torch.linalg.svd(scale, full_matrices=True)
    variances = singular.square()
    missing = d - variances.shape[-1]
    if missing > 0:
        variances = torch.cat([variances, variances.new_zeros(*variances.shape[:-1], missing)], -1)
    return basis, variances


@dataclass
class _RunningSums:
    """Sums over the components visited so far, each relative to exp(m) row by row:
    z = sum_k exp(l_k - m), pull = sum_k exp(l_k - m) pull_k, mean = sum_k exp(l_k - m) mean_k."""

    m: Tensor
    z: Tensor
    pull: Tensor
    mean: Tensor

    @classmethod
    def empty(cls, rows: int, d: int, like: Tensor) -> _RunningSums:
        zeros = like.new_zeros(rows)
        return cls(
            torch.full_like(zeros, -math.inf),
            zeros,
            like.new_zeros(rows, d),
            like.new_zeros(rows, d),
        )

    def add(self, log_joint: Tensor, pull: Tensor, mean: Tensor) -> None:
        """Fold in a chunk: log joints (B, c) and per-component terms (B, c, d)."""
        m = torch.maximum(self.m, log_joint.amax(-1))
        rescale = (self.m - m).exp()
        weights = (log_joint - m[:, None]).exp()
        self.z = self.z * rescale + weights.sum(-1)
        self.pull = self.pull * rescale[:, None] + torch.einsum("bc,bcd->bd", weights, pull)
        self.mean = self.mean * rescale[:, None] + torch.einsum("bc,bcd->bd", weights, mean)
        self.m = m


class MixturePosterior:
    """log p_sigma(y), -grad log p_sigma(y) and E[x | y] for y = x + sigma n, x ~ mixture.

    The mixture must be unbatched (batch_shape ()); it is factorized once here. Calling the
    instance with y of shape (B, *event_shape) and sigma_sq of shape (B,) (any float dtype,
    entries >= 0 and finite; point-mass components need sigma_sq > 0) returns
    ``PosteriorStats`` in y's dtype. Work is done in float64, chunk by chunk over components.
    """

    def __init__(self, mixture: GaussianMixture) -> None:
        if not isinstance(mixture, GaussianMixture) or mixture.batch_shape:
            raise ValueError("MixturePosterior needs one unbatched GaussianMixture")
        self.event_shape = mixture.event_shape
        self.spectrum = _spectrum(mixture)

    def __call__(self, y: Tensor, sigma_sq: Tensor) -> PosteriorStats:
        spectrum = self.spectrum
        rows, d = y.shape[0], spectrum.loc.shape[-1]
        flat = y.reshape(rows, d).to(spectrum.loc.dtype)
        noise = sigma_sq.to(flat)
        sums = _RunningSums.empty(rows, d, flat)
        count = spectrum.loc.shape[0]
        chunk = max(1, _BLOCK_ELEMENTS // max(rows * d, 1))
        for start in range(0, count, chunk):
            sums.add(*_component_terms(spectrum, slice(start, start + chunk), flat, noise))
        log_prob = sums.m + sums.z.log()
        pull = sums.pull / sums.z[:, None]
        mean = sums.mean / sums.z[:, None]
        shape = y.shape
        return PosteriorStats(
            log_prob.to(y.dtype), pull.reshape(shape).to(y.dtype), mean.reshape(shape).to(y.dtype)
        )


def _component_terms(
    spectrum: _Spectrum, part: slice, y: Tensor, sigma_sq: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """For components `part` and rows y (B, d): log joints l_k (B, c), and the per-component
    pull (S_k + s^2)^{-1} (y - mu_k) and mean mu_k + S_k (S_k + s^2)^{-1} (y - mu_k) (B, c, d),
    from exact residuals y - mu_k (no expansion of |y - mu_k|^2)."""
    loc = spectrum.loc[part]
    lam = spectrum.variances[part]
    residual = y[:, None, :] - loc  # (B, c, d)
    basis = None if spectrum.basis is None else spectrum.basis[part]
    rotated = residual if basis is None else torch.einsum("bci,cij->bcj", residual, basis)
    total = lam + sigma_sq[:, None, None]  # (B, c, d) or (B, c, 1)
    scaled = rotated / total
    d = y.shape[-1]
    log_det = total.log().sum(-1) * (d if total.shape[-1] == 1 else 1)
    log_joint = spectrum.log_weights[part] - 0.5 * (
        (rotated * scaled).sum(-1) + log_det + d * _LOG_2PI
    )
    shrunk = scaled * lam  # S_k (S_k + s^2)^{-1} (y - mu_k), in the eigenbasis
    if basis is not None:
        scaled = torch.einsum("bcj,cij->bci", scaled, basis)
        shrunk = torch.einsum("bcj,cij->bci", shrunk, basis)
    return log_joint, scaled, loc + shrunk
