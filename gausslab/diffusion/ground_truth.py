"""Exact ground truth for diffusion on Gaussian and Gaussian-mixture data.

For data x_0 ~ p_data and x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, eps ~ N(0, I):

- the marginal is q(x_t) = (p_data scaled by sqrt(abar_t)) convolved with N(0, (1 - abar_t) I):
  a Gaussian stays a Gaussian, a mixture stays a mixture (each component moves alone);
- Tweedie's formula gives the Bayes-optimal (minimum mean squared error) predictions
      eps*(x_t, t) = E[eps | x_t] = -sqrt(1 - abar_t) grad log q(x_t)
      x0*(x_t, t)  = E[x_0 | x_t] = (x_t + (1 - abar_t) grad log q(x_t)) / sqrt(abar_t)
      v*(x_t, t)   = sqrt(abar_t) eps* - sqrt(1 - abar_t) x0*.

The scores are computed in the variance-exploding frame y = x_t / sqrt(abar_t) = x_0 + sigma_t
eps, sigma_t = sqrt((1 - abar_t) / abar_t): the law of y is p_data convolved with
N(0, sigma_t^2 I), so a batch with one t per example is one ``convolve`` with a batch of
isotropic noises (batch shape (B,)) and one batched score, with no loop over examples:
      eps* = -sigma_t grad log p_y(y),   x0* = y + sigma_t^2 grad log p_y(y).
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

__all__ = ["marginal", "optimal_eps", "optimal_model", "optimal_score", "optimal_x0"]

Data = Gaussian | GaussianMixture
Model = Callable[[Tensor, Tensor], Tensor]


def marginal(diffusion: DiffusionProcess, data: Data, t: int | Tensor) -> Data:
    """The exact law of x_t: data.affine(sqrt(abar_t)).convolve(N(0, (1 - abar_t) I)).

    `data` is a ``Gaussian`` or a ``GaussianMixture`` (the result has the same type and batch
    shape); t is one timestep in 0..T, an int or a 0-d integer tensor (t = 0 returns data).
    For one t per example use ``optimal_score`` / ``optimal_model``, which are batched in t.
    """
    _check_data(diffusion, data)
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


def optimal_score(diffusion: DiffusionProcess, data: Data, x_t: Tensor, t: int | Tensor) -> Tensor:
    """grad_x log q(x_t) of the exact marginal, per example: shape of x_t = (B, *event).

    score = grad log p_y(y) / sqrt(abar_t) with y = x_t / sqrt(abar_t) (see the module
    docstring), and -x_t where abar_t = 0; t is an int or an int64 tensor of shape (B,) in
    1..T.
    """
    return _Frame(diffusion, data, x_t, t).score()


def optimal_eps(diffusion: DiffusionProcess, data: Data, x_t: Tensor, t: int | Tensor) -> Tensor:
    """E[eps | x_t] = -sqrt(1 - abar_t) grad log q(x_t) = -sigma_t grad log p_y(y); shape of x_t."""
    return _Frame(diffusion, data, x_t, t).eps()


def optimal_x0(diffusion: DiffusionProcess, data: Data, x_t: Tensor, t: int | Tensor) -> Tensor:
    """E[x_0 | x_t] = (x_t + (1 - abar_t) grad log q(x_t)) / sqrt(abar_t)
    = y + sigma_t^2 grad log p_y(y); shape of x_t."""
    return _Frame(diffusion, data, x_t, t).x0()


def optimal_model(diffusion: DiffusionProcess, data: Data, prediction: str = "eps") -> Model:
    """The Bayes-optimal model(x_t, t) for `data`, predicting eps*, x0* or v*.

    v* = sqrt(abar_t) eps* - sqrt(1 - abar_t) x0*. t is an int64 tensor of shape (B,) (one
    timestep per example) or an int; the result has x_t's shape, dtype and device (x_t must
    have data's dtype and device).
    """
    _check_data(diffusion, data)
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")

    def model(x_t: Tensor, t: int | Tensor) -> Tensor:
        frame = _Frame(diffusion, data, x_t, t)
        if prediction == "eps":
            return frame.eps()
        if prediction == "x0":
            return frame.x0()
        return diffusion.v_from_x0_eps(frame.x0(), frame.eps(), frame.t)

    return model


# ---------------------------------------------------------------------------- internals


class _Frame:
    """x_t in the variance-exploding frame y = x_t / sqrt(abar_t), with grad log p_y(y)."""

    def __init__(
        self, diffusion: DiffusionProcess, data: Data, x_t: Tensor, t: int | Tensor
    ) -> None:
        _check_data(diffusion, data)
        loc = _loc(data)
        event = data.event_shape
        if not isinstance(x_t, Tensor) or tuple(x_t.shape[1:]) != tuple(event) or x_t.ndim < 1:
            got = describe(x_t) if isinstance(x_t, Tensor) else type(x_t).__name__
            raise ValueError(
                f"x_t must have shape (B, *event_shape) = (B, {', '.join(map(str, event))}) "
                f"for data with event shape {tuple(event)}, got {got}"
            )
        if x_t.dtype != loc.dtype or x_t.device != loc.device:
            raise ValueError(
                f"x_t must have data's dtype and device ({loc.dtype} on {loc.device}), got "
                f"{x_t.dtype} on {x_t.device}"
            )
        self.t = diffusion.check_t(t, x_t)
        index = torch.as_tensor(self.t).cpu()
        if index.ndim == 1 and bool((index == index[0]).all()):
            index = index[0]  # one t for the whole batch (as in sampling): one law, batch ()
        # like = a 1-D view of the data: coefficients of shape () or (B,)
        sqrt_abar = diffusion.coef("sqrt_alphas_cumprod", index, loc.reshape(-1))
        sigma = diffusion.coef("sigmas", index, loc.reshape(-1))
        zero_snr = sqrt_abar == 0
        self.zero_snr = zero_snr if bool(zero_snr.any()) else None
        if self.zero_snr is not None:  # any finite stand-ins; those entries are replaced
            sqrt_abar = torch.where(zero_snr, 1.0, sqrt_abar)
            sigma = torch.where(zero_snr, 1.0, sigma)
        zeros = loc.new_zeros(sigma.shape + event)
        noise = Gaussian.isotropic(zeros, sigma, event_ndims=len(event), validate_args=False)
        law_y = _as_mixture(data).convolve(noise)
        per_example = sigma.shape + (1,) * len(event)  # () or (B, 1, ..., 1)
        self.x_t = x_t
        self.data = data
        self.sqrt_abar = sqrt_abar.reshape(per_example)
        self.sigma = sigma.reshape(per_example)
        self.y = x_t / self.sqrt_abar
        self.score_y = law_y.score(self.y)

    def _pure_noise(self, value: Tensor, replacement: Tensor) -> Tensor:
        if self.zero_snr is None:
            return value
        return torch.where(self.zero_snr.reshape(self.sigma.shape), replacement, value)

    def score(self) -> Tensor:
        return self._pure_noise(self.score_y / self.sqrt_abar, -self.x_t)

    def eps(self) -> Tensor:
        return self._pure_noise(-self.sigma * self.score_y, self.x_t)

    def x0(self) -> Tensor:
        x0 = torch.addcmul(self.y, self.sigma.square(), self.score_y)
        return self._pure_noise(x0, self.data.mean.expand_as(x0))


def _as_mixture(data: Data) -> GaussianMixture:
    """A Gaussian as the one-component mixture with the same law (for its score)."""
    if isinstance(data, GaussianMixture):
        return data
    return GaussianMixture(data.loc.new_zeros(1), data.expand(torch.Size([1])))


def _loc(data: Data) -> Tensor:
    return data.components.loc if isinstance(data, GaussianMixture) else data.loc


def _check_data(diffusion: Any, data: Any) -> None:
    if not isinstance(diffusion, DiffusionProcess):
        raise TypeError(f"diffusion must be a Diffusion, got {type(diffusion).__name__}")
    if not isinstance(data, Gaussian | GaussianMixture):
        raise TypeError(
            f"data must be a gausslab Gaussian or GaussianMixture, got {type(data).__name__}"
        )
    if len(data.batch_shape) != 0:
        raise ValueError(
            f"data must be one distribution (batch_shape ()), got batch_shape "
            f"{tuple(data.batch_shape)}"
        )


def _scalar_t(t: Any) -> Any:
    if isinstance(t, Tensor) and t.ndim != 0:
        raise ValueError(
            f"t must be one timestep (an int or a 0-d tensor), got shape {tuple(t.shape)}; "
            "for one t per example use optimal_score / optimal_model"
        )
    return t
