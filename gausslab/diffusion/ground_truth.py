"""Exact ground truth for diffusion on Gaussian, Gaussian-mixture and empirical data.

For data x_0 ~ p_data and x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, eps ~ N(0, I):

- the marginal is q(x_t) = (p_data scaled by sqrt(abar_t)) convolved with N(0, (1 - abar_t) I):
  a Gaussian stays a Gaussian, a mixture stays a mixture (each component moves alone);
- everything else comes from ONE primitive, the optimal denoiser of the variance-exploding
  frame (EDM convention): for y = x_0 + sigma n, n ~ N(0, I),
      D(y, sigma) = E[x_0 | y],   pull(y, sigma) = -grad_y log p_sigma(y) = (y - D) / sigma^2,
  both computed directly (``gausslab.mixture_posterior``), never as a difference of the two.
  Since x_t / sqrt(abar_t) = x_0 + sigma_t eps with sigma_t = sqrt((1 - abar_t) / abar_t),
  Tweedie's formula gives the Bayes-optimal (minimum mean squared error) predictions
      x0*(x_t, t)  = E[x_0 | x_t] = D(y, sigma_t),          y = x_t / sqrt(abar_t)
      eps*(x_t, t) = E[eps | x_t] = sigma_t pull(y, sigma_t)
      score(x_t)   = grad log q(x_t) = -pull(y, sigma_t) / sqrt(abar_t)
      v*(x_t, t)   = sqrt(abar_t) eps* - sqrt(1 - abar_t) x0*,
  with sigma_t^2 from the float64 tables; one t per example is one sigma per row.
At a zero-terminal-SNR step (abar_t = 0) x_t is pure noise: eps* = x_t and x0* = E[x_0].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from gausslab._validation import describe
from gausslab.diffusion.process import PREDICTIONS, DiffusionProcess
from gausslab.gaussian import Gaussian
from gausslab.mixture import GaussianMixture
from gausslab.mixture_posterior import MixturePosterior, PosteriorStats

__all__ = [
    "marginal",
    "optimal_denoiser",
    "optimal_eps",
    "optimal_model",
    "optimal_score",
    "optimal_x0",
]

Data = Gaussian | GaussianMixture
Model = Callable[[Tensor, Tensor], Tensor]
Denoiser = Callable[[Tensor, Any], Tensor]
F64 = torch.float64


def marginal(diffusion: DiffusionProcess, data: Data, t: int | Tensor) -> Data:
    """The exact law of x_t: data.affine(sqrt(abar_t)).convolve(N(0, (1 - abar_t) I)).

    `data` is a ``Gaussian`` or a ``GaussianMixture`` (the result has the same type and batch
    shape); t is one timestep in 0..T, an int or a 0-d integer tensor (t = 0 returns data).
    For one t per example use ``optimal_score`` / ``optimal_model``, which are batched in t.
    """
    _check_diffusion(diffusion)
    check_data(data)
    step = int(diffusion.schedule.check_t(_scalar_t(t), low=0))
    if step == 0:
        return data
    loc = _loc(data)
    scale = diffusion.coef("sqrt_alphas_cumprod", step, loc).item()
    noise_std = diffusion.coef("sqrt_one_minus_alphas_cumprod", step, loc).item()
    event = data.event_shape
    noise = Gaussian.isotropic(
        loc.new_zeros(event), torch.tensor(noise_std, dtype=loc.dtype), event_ndims=len(event)
    )
    return data.affine(scale).convolve(noise)


def optimal_denoiser(data: Data) -> Denoiser:
    """The ideal denoiser D(x, sigma) = E[x_0 | x_0 + sigma n = x], n ~ N(0, I), of `data`.

    EDM convention (Karras et al. 2022): x has shape (B, *event_shape) and data's dtype and
    device; sigma >= 0 is a Python float or a tensor of shape () or (B,) (one noise level per
    row; any float dtype, used in float64). D(x, 0) = x, and D(x, inf) = E[x_0]. For a
    Gaussian N(m, S): D = m + S (S + sigma^2 I)^{-1} (x - m); for a mixture, the
    responsibility-weighted sum of its components' denoisers; for ``GaussianMixture.empirical``
    point masses, D = sum_i softmax_i(log w_i - |x - x_i|^2 / (2 sigma^2)) x_i. The data is
    factorized once, here.
    """
    truth = _Posterior(data)

    def denoiser(x: Tensor, sigma: float | Tensor) -> Tensor:
        x = truth.check_sample(x, "x")
        return truth(x, _sigma_sq(sigma, x.shape[0])).mean

    return denoiser


def optimal_score(diffusion: DiffusionProcess, data: Data, x_t: Tensor, t: int | Tensor) -> Tensor:
    """grad_x log q(x_t) of the exact marginal, per example: -pull(y, sigma_t) / sqrt(abar_t)
    (see the module docstring), and -x_t where abar_t = 0; t is an int or an int64 tensor of
    shape (B,) in 1..T. Shape of x_t."""
    return _Frame(diffusion, _Posterior(data), x_t, t).score()


def optimal_eps(diffusion: DiffusionProcess, data: Data, x_t: Tensor, t: int | Tensor) -> Tensor:
    """E[eps | x_t] = sigma_t pull(y, sigma_t) = -sqrt(1 - abar_t) grad log q(x_t); shape of x_t."""
    return _Frame(diffusion, _Posterior(data), x_t, t).eps()


def optimal_x0(diffusion: DiffusionProcess, data: Data, x_t: Tensor, t: int | Tensor) -> Tensor:
    """E[x_0 | x_t] = D(x_t / sqrt(abar_t), sigma_t); shape of x_t."""
    return _Frame(diffusion, _Posterior(data), x_t, t).x0()


def optimal_model(diffusion: DiffusionProcess, data: Data, prediction: str = "eps") -> Model:
    """The Bayes-optimal model(x_t, t) for `data`, predicting eps*, x0* or v*.

    v* = sqrt(abar_t) eps* - sqrt(1 - abar_t) x0*. t is an int64 tensor of shape (B,) (one
    timestep per example) or an int; the result has x_t's shape, dtype and device (x_t must
    have data's dtype and device). The data is factorized once, here.
    """
    _check_diffusion(diffusion)
    truth = _Posterior(data)
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")

    def model(x_t: Tensor, t: int | Tensor) -> Tensor:
        frame = _Frame(diffusion, truth, x_t, t)
        if prediction == "eps":
            return frame.eps()
        if prediction == "x0":
            return frame.x0()
        return diffusion.v_from_x0_eps(frame.x0(), frame.eps(), frame.t)

    return model


# ---------------------------------------------------------------------------- internals


class _Posterior:
    """(pull, mean) of x_0 given y = x_0 + sigma n for `data`, factorized once; rows with
    sigma = 0 give mean = y, rows with sigma = inf give mean = E[x_0] and pull = 0."""

    def __init__(self, data: Data) -> None:
        check_data(data)
        self.data = data
        mixture = _as_mixture(data)
        self.point_masses = mixture.has_point_masses
        self.kernel = MixturePosterior(mixture)
        self.loc = _loc(data)

    def check_sample(self, x: Any, name: str) -> Tensor:
        event = self.data.event_shape
        if not isinstance(x, Tensor) or x.ndim < 1 or tuple(x.shape[1:]) != tuple(event):
            got = describe(x) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"{name} must have shape (B, *event_shape) = (B, {', '.join(map(str, event))}) "
                f"for data with event shape {tuple(event)}, got {got}"
            )
        if x.dtype != self.loc.dtype or x.device != self.loc.device:
            raise ValueError(
                f"{name} must have data's dtype and device ({self.loc.dtype} on "
                f"{self.loc.device}), got {x.dtype} on {x.device}"
            )
        return x

    def __call__(self, y: Tensor, sigma_sq: Tensor) -> PosteriorStats:
        """sigma_sq: float64 of shape (B,), entries in [0, inf]."""
        infinite = torch.isinf(sigma_sq)
        clean = sigma_sq == 0
        undefined = infinite | (clean & self.point_masses)
        stats = self.kernel(y, torch.where(undefined, 1.0, sigma_sq))
        if not bool((infinite | clean).any()):
            return stats
        rows = (-1,) + (1,) * (y.ndim - 1)
        infinite, clean = infinite.to(y.device).reshape(rows), clean.to(y.device).reshape(rows)
        mean = torch.where(clean, y, torch.where(infinite, self.data.mean, stats.mean))
        pull = torch.where(infinite, 0.0, stats.pull)
        return PosteriorStats(stats.log_prob, pull, mean)


def _sigma_sq(sigma: Any, batch: int) -> Tensor:
    """sigma (a float, or a tensor of shape () or (B,)) as sigma^2, float64 of shape (B,)."""
    if isinstance(sigma, Tensor):
        if sigma.is_complex() or not (sigma.is_floating_point() or sigma.dtype == torch.int64):
            raise ValueError(f"sigma must be a real tensor, got dtype {sigma.dtype}")
        if sigma.ndim > 1 or (sigma.ndim == 1 and sigma.shape[0] != batch):
            raise ValueError(
                f"sigma must be a float or a tensor of shape () or (B,) = ({batch},), got "
                f"shape {tuple(sigma.shape)}"
            )
        values = sigma.detach().to(device="cpu", dtype=torch.float64)
    elif isinstance(sigma, int | float) and not isinstance(sigma, bool):
        values = torch.tensor(float(sigma), dtype=torch.float64)
    else:
        raise ValueError(f"sigma must be a float >= 0 or a tensor, got {type(sigma).__name__}")
    if bool(torch.isnan(values).any()) or bool((values < 0).any()):
        bad = values[torch.isnan(values) | (values < 0)].flatten()[0].item()
        raise ValueError(f"sigma must be >= 0 (inf allowed), got {bad}")
    return values.square().expand(batch)


class _Frame:
    """x_t in the variance-exploding frame y = x_t / sqrt(abar_t) = x_0 + sigma_t eps, with
    the posterior's (pull, mean) at sigma_t."""

    def __init__(
        self, diffusion: DiffusionProcess, truth: _Posterior, x_t: Tensor, t: int | Tensor
    ) -> None:
        _check_diffusion(diffusion)
        x_t = truth.check_sample(x_t, "x_t")
        self.t = diffusion.check_t(t, x_t)
        like = x_t.new_empty(x_t.shape[0], dtype=F64)  # coefficients as float64 (B,)
        sqrt_abar = diffusion.coef("sqrt_alphas_cumprod", self.t, like).expand_as(like)
        sigma = diffusion.coef("sigmas", self.t, like).expand_as(like)  # inf where abar = 0
        zero_snr = sqrt_abar == 0
        self.zero_snr = zero_snr if bool(zero_snr.any()) else None
        rows = (-1,) + (1,) * (x_t.ndim - 1)
        self.sqrt_abar = torch.where(zero_snr, 1.0, sqrt_abar).to(x_t).reshape(rows)
        self.sigma = torch.where(zero_snr, 0.0, sigma).to(x_t).reshape(rows)
        self.x_t = x_t
        self.data = truth.data
        stats = truth(x_t / self.sqrt_abar, sigma.square())
        self.pull, self.mean = stats.pull, stats.mean

    def _pure_noise(self, value: Tensor, replacement: Tensor) -> Tensor:
        if self.zero_snr is None:
            return value
        return torch.where(self.zero_snr.reshape(self.sigma.shape), replacement, value)

    def score(self) -> Tensor:
        return self._pure_noise(-self.pull / self.sqrt_abar, -self.x_t)

    def eps(self) -> Tensor:
        return self._pure_noise(self.sigma * self.pull, self.x_t)

    def x0(self) -> Tensor:
        return self.mean


def _as_mixture(data: Data) -> GaussianMixture:
    """A Gaussian as the one-component mixture with the same law."""
    if isinstance(data, GaussianMixture):
        return data
    return GaussianMixture(data.loc.new_zeros(1), data.expand(torch.Size([1])))


def _loc(data: Data) -> Tensor:
    return data.components.loc if isinstance(data, GaussianMixture) else data.loc


def _check_diffusion(diffusion: Any) -> None:
    if not isinstance(diffusion, DiffusionProcess):
        raise TypeError(f"diffusion must be a Diffusion, got {type(diffusion).__name__}")


def check_data(data: Any) -> Data:
    """Raise unless `data` is one gausslab Gaussian or GaussianMixture (batch_shape ())."""
    if not isinstance(data, Gaussian | GaussianMixture):
        raise TypeError(
            f"data must be a gausslab Gaussian or GaussianMixture, got {type(data).__name__}"
        )
    if len(data.batch_shape) != 0:
        raise ValueError(
            f"data must be one distribution (batch_shape ()), got batch_shape "
            f"{tuple(data.batch_shape)}"
        )
    return data


def _scalar_t(t: Any) -> Any:
    if isinstance(t, Tensor) and t.ndim != 0:
        raise ValueError(
            f"t must be one timestep (an int or a 0-d tensor), got shape {tuple(t.shape)}; "
            "for one t per example use optimal_score / optimal_model"
        )
    return t
