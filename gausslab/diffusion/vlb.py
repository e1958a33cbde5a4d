"""The variational bound (VLB) on -log p_theta(x_0) of a diffusion model, term by term.

    -log p_theta(x_0) <= L_T + sum_{t=2..T} L_{t-1} + L_0, with
    L_T     = KL(q(x_T | x_0) || N(0, I))                                     (prior term)
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t)),  x_t ~ q(x_t | x_0)
    L_0     = -log p_theta(x_0 | x_1)                                         (decoder term)

Every term is in nats per example (summed over the event), shape (B,); bits per dim divide
the total by D log 2, D the number of elements of one example. Two decoders:

- decoder="discretized" (DDPM, improved-diffusion): data is 8-bit scaled to [-1, 1],
  x = k / 127.5 - 1, k = 0..255, bins of width 2/255, the edge bins open to -inf / +inf;
  L_0 = -log P(bin of x_0) under N(mu_theta(x_1, 1), sigma^2), a probability.
- decoder="gaussian" (continuous data, such as toy mixtures): L_0 = -log N(x_0; mu_theta(x_1, 1),
  s^2 I), a density, with s^2 = sigma_1^2 = (1 - abar_1) / abar_1 for the fixed variances (the
  variance of x_0 given x_1 wherever the data density is flat on that scale; mu_theta(x_1, 1)
  is the model's x0 since coef1_1 = 1, coef2_1 = 0) and the model's own variance for
  "learned_range". Then the total bounds -log p_theta(x_0) for the density, and its mean over
  x_0 ~ p_data is >= the differential entropy H(p_data) (equality for a perfect model as the
  steps get fine), so a trained model's bound can be compared with the exact entropy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gausslab.diffusion.process import check_choice, check_same_shape, check_sample
from gausslab.functional import normal_kl, normal_log_cdf, normal_log_prob

if TYPE_CHECKING:
    from gausslab.diffusion.process import DiffusionProcess, Timestep

__all__ = [
    "DECODERS",
    "VLBTerms",
    "discretized_gaussian_log_prob",
    "prior_kl",
    "vlb",
    "vlb_term",
]

DECODERS = ("discretized", "gaussian")

# Half the width of one 8-bit bin on [-1, 1].
_HALF_BIN = 1.0 / 255.0
# Bin centres below / above these are the edge bins (-inf, -1 + 1/255] and [1 - 1/255, inf).
_EDGE = 0.999


@dataclass(frozen=True)
class VLBTerms:
    """The terms of the variational bound for a batch x_0 of B examples, in nats.

    prior_kl:     (B,)      L_T = KL(q(x_T | x_0) || N(0, I))
    step_kl:      (B, T-1)  column t - 2 is L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),
                            t = 2..T, each at one draw x_t ~ q(x_t | x_0)
    decoder_nll:  (B,)      L_0 = -log p_theta(x_0 | x_1), discretized or Gaussian decoder
    total:        (B,)      prior_kl + step_kl.sum(1) + decoder_nll
    bits_per_dim: (B,)      total / (D log 2), D = elements per example
    """

    prior_kl: Tensor
    step_kl: Tensor
    decoder_nll: Tensor
    total: Tensor
    bits_per_dim: Tensor


def _sum_event(x: Tensor) -> Tensor:
    """Sum over every dim but the first (batch) one: (B, *event) -> (B,)."""
    return x.reshape(x.shape[0], -1).sum(dim=1)


def _log_sub_exp(log_big: Tensor, log_small: Tensor) -> Tensor:
    """log(e^log_big - e^log_small) = log_big + log(-expm1(log_small - log_big)), no underflow."""
    return log_big + torch.log(-torch.expm1(log_small - log_big))


def _check_unit_interval(x: Tensor, name: str) -> None:
    """Raise unless every entry of x lies in [-1, 1] (8-bit data scaled as k / 127.5 - 1)."""
    if x.numel() == 0:
        return
    low, high = torch.aminmax(x.detach())
    if low < -1 or high > 1:
        raise ValueError(
            f"{name} must be data scaled to [-1, 1] (8-bit: k / 127.5 - 1), got values in "
            f"[{low.item()}, {high.item()}] ({name} of shape {tuple(x.shape)})"
        )


def _discretized_log_prob(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    centred = x - mean
    z_lo = (centred - _HALF_BIN) / std
    z_hi = (centred + _HALF_BIN) / std
    cdf_hi, cdf_lo = normal_log_cdf(z_hi), normal_log_cdf(z_lo)
    sf_hi, sf_lo = normal_log_cdf(-z_hi), normal_log_cdf(-z_lo)
    interior = torch.where(
        z_lo + z_hi > 0, _log_sub_exp(sf_lo, sf_hi), _log_sub_exp(cdf_hi, cdf_lo)
    )
    return torch.where(x < -_EDGE, cdf_hi, torch.where(x > _EDGE, sf_lo, interior))


def discretized_gaussian_log_prob(x: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """log P(bin of x) under N(mean, std^2), elementwise, for 8-bit data scaled to [-1, 1].

    The bin of x is [x - 1/255, x + 1/255], except the edge bins (-inf, -1 + 1/255] at x = -1
    and [1 - 1/255, +inf) at x = 1. With z_lo = (x - 1/255 - mean) / std and
    z_hi = (x + 1/255 - mean) / std:
        x = -1:   log Phi(z_hi)
        x = +1:   log Phi(-z_lo)                                    (= log(1 - Phi(z_lo)))
        interior: log(Phi(z_hi) - Phi(z_lo)) = log Phi(z_hi) + log(1 - exp(log Phi(z_lo)
                  - log Phi(z_hi))), or by symmetry the same with (-z_hi, -z_lo) when the bin
                  lies right of the mean, so that both log Phi are lower-tail values and stay
                  accurate however far the bin is from the mean.
    Arguments broadcast; x must lie in [-1, 1] (checked).
    """
    check_sample(x, "x")
    _check_unit_interval(x, "x")
    return _discretized_log_prob(x, mean, std)


def prior_kl(diffusion: DiffusionProcess, x0: Tensor) -> Tensor:
    """L_T = KL(q(x_T | x_0) || N(0, I)) in nats per example, shape (B,).

    Per element: KL(N(sqrt(abar_T) x_0, 1 - abar_T) || N(0, 1))
    = 0.5 * (abar_T x_0^2 + (1 - abar_T) - 1 - log(1 - abar_T)), summed over the event.
    """
    q = diffusion.q_marginal(x0, diffusion.T)
    std = q.covariance.std.reshape((-1,) + (1,) * (x0.ndim - 1))
    return _sum_event(normal_kl(q.loc, std, 0.0, 1.0))


def vlb_term(
    diffusion: DiffusionProcess,
    model_output: Tensor,
    x0: Tensor,
    x_t: Tensor,
    t: Timestep,
    *,
    prediction: str = "eps",
    variance: str = "fixed_small",
    clip_x0: float | None = None,
    decoder: str = "discretized",
) -> Tensor:
    """L_{t-1} in nats per example, shape (B,), for the model output at (x_t, t); t in 1..T.

    t >= 2: KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t)), both Gaussians elementwise
            (``functional.normal_kl`` summed over the event);
    t = 1:  -log p_theta(x_0 | x_1): decoder="discretized" is the discretized Gaussian
            (``discretized_gaussian_log_prob`` summed over the event; x0 in [-1, 1]),
            decoder="gaussian" the Gaussian density (see the module docstring).
    A (B,) t may mix both cases. p_theta is ``Diffusion.p_mean_variance`` with the same
    prediction / variance / clip_x0.
    """
    check_choice(decoder, DECODERS, "decoder")
    p = diffusion.p_mean_variance(
        model_output, x_t, t, prediction=prediction, variance=variance, clip_x0=clip_x0
    )
    check_same_shape(x_t, x0, "x_t", "x0")
    t = diffusion.check_t(t, x_t)
    mean, std = p.loc, p.covariance.std  # std: (B,) when isotropic, else x_t's shape
    std = std.reshape(std.shape + (1,) * (mean.ndim - std.ndim))
    first = t == 1 if isinstance(t, int) else bool((t == 1).any())
    if first:
        decoder_nll = _decoder_nll(diffusion, x0, mean, std, variance, decoder)
        if isinstance(t, int):
            return decoder_nll
    # The clipped log variance is log beta_tilde_t for t >= 2 (at t = 1 a finite stand-in for
    # the point mass, so that the discarded entries stay finite and carry no NaN gradient).
    posterior_std = (0.5 * diffusion.coef("posterior_log_variance_clipped", t, mean)).exp()
    posterior_mean = diffusion.posterior_mean(x_t, x0, t)
    kl = _sum_event(normal_kl(posterior_mean, posterior_std, mean, std))
    return torch.where(t == 1, decoder_nll, kl) if first else kl


def _decoder_nll(
    diffusion: DiffusionProcess, x0: Tensor, mean: Tensor, std: Tensor, variance: str, decoder: str
) -> Tensor:
    """-log p_theta(x_0 | x_1) summed over the event, for the `decoder` of the module docstring."""
    if decoder == "discretized":
        _check_unit_interval(x0, "x0")
        return -_sum_event(_discretized_log_prob(x0, mean, std))
    if variance != "learned_range":
        std = diffusion.coef("sigmas", 1, mean)  # sigma_1 = sqrt((1 - abar_1) / abar_1)
    return -_sum_event(normal_log_prob(x0, mean, std))


def vlb(
    diffusion: DiffusionProcess,
    model: Callable[[Tensor, Tensor], Tensor],
    x0: Tensor,
    *,
    prediction: str = "eps",
    variance: str = "fixed_small",
    clip_x0: float | None = None,
    generator: torch.Generator | None = None,
    decoder: str = "discretized",
) -> VLBTerms:
    """Every term of the bound -log p_theta(x_0) <= L_T + sum_{t>=2} L_{t-1} + L_0 (nats).

    For each t = 1..T one x_t ~ q(x_t | x_0) is drawn (noise from `generator`, in the order
    t = 1, 2, ..., T), the model is called once as model(x_t, t) with t an int64 (B,) tensor,
    and L_{t-1} is ``vlb_term``. T model calls in all. decoder="discretized": x0 must be
    8-bit data in [-1, 1]; decoder="gaussian": any continuous data (module docstring).
    """
    check_sample(x0, "x0")
    check_choice(decoder, DECODERS, "decoder")
    batch = x0.shape[0]
    terms = []
    for step in range(1, diffusion.T + 1):
        t = torch.full((batch,), step, dtype=torch.int64, device=x0.device)
        x_t = diffusion.q_sample(x0, step, generator=generator)
        output = model(x_t, t)
        terms.append(
            vlb_term(
                diffusion,
                output,
                x0,
                x_t,
                step,
                prediction=prediction,
                variance=variance,
                clip_x0=clip_x0,
                decoder=decoder,
            )
        )
    prior = prior_kl(diffusion, x0)
    decoder_nll = terms[0]
    step_kl = torch.stack(terms[1:], dim=1) if len(terms) > 1 else x0.new_zeros(batch, 0)
    total = prior + step_kl.sum(dim=1) + decoder_nll
    dims = x0[0].numel()
    return VLBTerms(
        prior_kl=prior,
        step_kl=step_kl,
        decoder_nll=decoder_nll,
        total=total,
        bits_per_dim=total / (dims * math.log(2.0)),
    )
