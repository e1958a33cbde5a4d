"""Brownian motion as the limit of a random walk, and why diffusion models are named after it.

Each particle starts at x_0 and takes n small independent steps over a duration D, dt = D / n:

    X(k dt) = x_0 + sigma sqrt(dt) (xi_1 + ... + xi_k),    xi_i i.i.d., E[xi] = 0, Var[xi] = 1

Variances of independent steps add, so for every step law

    E[X(t)] = x_0,   Var[X(t)] = sigma^2 t   (linear in t),   Cov(X(s), X(t)) = sigma^2 min(s, t),

and by the central limit theorem X(t) -> N(x_0, sigma^2 t) as dt -> 0 (exactly Gaussian at
every t for Gaussian steps). That Gaussian is ``brownian_marginal(t, sigma, x_0)``.

The forward process of a diffusion model is this motion. Its variance-exploding form is
Brownian motion run to time sigma_t^2:

    x_t = x_0 + sigma_t eps,                        eps ~ N(0, 1)

and the variance-preserving (DDPM) form is the same motion rescaled: with
sigma_t^2 = (1 - abar_t) / abar_t (``Schedule.sigmas``),

    sqrt(abar_t) (x_0 + sigma_t eps) = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,

so ``variance_exploding_marginal(data, schedule, t).affine(sqrt(abar_t))`` is
``Diffusion.marginal(data, t)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gausslab._validation import as_float_tensor, check_count, check_finite, check_positive
from gausslab.diffusion import Schedule
from gausslab.gaussian import Gaussian
from gausslab.mixture import GaussianMixture

__all__ = [
    "STEP_LAWS",
    "Walk",
    "brownian_marginal",
    "random_walk",
    "variance_exploding_marginal",
]


def _gaussian_steps(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor):
    return torch.randn(shape, generator=generator, dtype=like.dtype, device=like.device)


def _coin_steps(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor):
    coins = torch.randint(0, 2, shape, generator=generator, device=like.device)
    return coins.to(like.dtype) * 2 - 1


def _uniform_steps(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor):
    u = torch.rand(shape, generator=generator, dtype=like.dtype, device=like.device)
    return (u * 2 - 1) * math.sqrt(3)


STEP_LAWS: dict[str, Callable[[tuple[int, ...], torch.Generator | None, Tensor], Tensor]] = {
    "gaussian": _gaussian_steps,
    "coin": _coin_steps,
    "uniform": _uniform_steps,
}
"""Step laws with mean 0 and variance 1: N(0, 1), a fair coin +-1, and U(-sqrt(3), sqrt(3))."""

_CHUNK_ELEMENTS = 2**22
"""Steps drawn at a time: memory stays bounded whatever particles x steps is."""


@dataclass(frozen=True)
class Walk:
    """Recorded positions of a random walk: ``positions[r, i]`` is particle i at ``times[r]``
    (``times[0] = 0``, where every particle sits at its start)."""

    times: Tensor
    positions: Tensor
    sigma: float

    def marginal(self, index: int) -> Gaussian:
        """The Brownian limit at ``times[index]`` for a walk from one point x_0:
        N(x_0, sigma^2 t). A walk from several starts has no single Gaussian law (it is the
        law of the starts convolved with N(0, sigma^2 t)) and is refused."""
        start = self.positions[0, 0]
        if not bool((self.positions[0] == start).all()):
            raise ValueError(
                "this walk started from several points: its law at time t is the law of the "
                "starts convolved with N(0, sigma^2 t), not one Gaussian"
            )
        return brownian_marginal(self.times[index], self.sigma, start)


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def random_walk(
    num_particles: int,
    num_steps: int,
    *,
    duration: float = 1.0,
    sigma: float = 1.0,
    start: Any = 0.0,
    steps: str = "gaussian",
    record_every: int = 1,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Walk:
    """``num_particles`` independent walks of ``num_steps`` steps over ``duration``.

        X(k dt) = start + sigma sqrt(dt) (xi_1 + ... + xi_k),   dt = duration / num_steps,

    xi i.i.d. from ``STEP_LAWS[steps]`` (mean 0, variance 1). ``start`` is a number or a
    tensor of shape (num_particles,) (one start per particle, e.g. data samples); the walk
    has the dtype and device of a tensor ``start`` unless ``dtype`` / ``device`` say
    otherwise (float64 on the CPU for a number). Positions
    are recorded every ``record_every`` steps (and at t = 0); ``num_steps`` must be a
    multiple of it. Steps are drawn in chunks, so memory is the recorded positions plus a
    bounded chunk.
    """
    num_particles = check_count("num_particles", num_particles, 1)
    num_steps = check_count("num_steps", num_steps, 1)
    record_every = check_count("record_every", record_every, 1)
    if num_steps % record_every:
        raise ValueError(
            f"num_steps ({num_steps}) must be a multiple of record_every ({record_every})"
        )
    duration = _positive_float("duration", duration)
    sigma = _positive_float("sigma", sigma)
    if not isinstance(steps, str) or steps not in STEP_LAWS:
        raise ValueError(f"steps must be one of {sorted(STEP_LAWS)}, got {steps!r}")
    if isinstance(start, torch.Tensor) and start.is_floating_point():
        dtype = start.dtype if dtype is None else dtype
        device = start.device if device is None else device
    like = torch.empty((), dtype=torch.float64 if dtype is None else dtype, device=device)
    origin = as_float_tensor(start, "start", like=like).to(like)
    check_finite(origin, "start")
    if origin.dim() > 1 or origin.numel() not in (1, num_particles):
        raise ValueError(
            f"start must be a number or a tensor of shape ({num_particles},), one per particle, "
            f"got shape {tuple(origin.shape)}"
        )
    records = num_steps // record_every
    positions = torch.empty(records + 1, num_particles, dtype=like.dtype, device=like.device)
    positions[0] = origin
    step_size = sigma * math.sqrt(duration / num_steps)
    rows = max(1, _CHUNK_ELEMENTS // (record_every * num_particles))  # records per chunk
    for first in range(0, records, rows):
        last = min(first + rows, records)
        draws = STEP_LAWS[steps](((last - first) * record_every, num_particles), generator, like)
        increments = draws.mul_(step_size).view(last - first, record_every, num_particles).sum(1)
        positions[first + 1 : last + 1] = positions[first] + increments.cumsum(0)
    times = torch.arange(records + 1, dtype=like.dtype, device=like.device) * (
        duration * record_every / num_steps
    )
    return Walk(times=times, positions=positions, sigma=sigma)


def brownian_marginal(t: Any, sigma: float = 1.0, start: Any = 0.0) -> Gaussian:
    """The law of Brownian motion at time t > 0: N(start, sigma^2 t) (univariate)."""
    t = as_float_tensor(t, "t")
    check_positive(t, "t")
    sigma = _positive_float("sigma", sigma)
    start = as_float_tensor(start, "start", like=t)
    return Gaussian.univariate(start, sigma * t.sqrt())


def variance_exploding_marginal(
    data: Gaussian | GaussianMixture, schedule: Schedule, t: int
) -> Gaussian | GaussianMixture:
    """The law of x_0 + sigma_t eps (x_0 ~ data, sigma_t = ``schedule.sigmas[t]``): ``data``
    convolved with N(0, sigma_t^2 I), i.e. Brownian motion from the data at time sigma_t^2.
    Scaled by sqrt(abar_t) it is the variance-preserving marginal q(x_t)."""
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a gausslab.diffusion.Schedule, got {type(schedule)}")
    if not isinstance(data, Gaussian | GaussianMixture):
        raise TypeError(f"data must be a Gaussian or a GaussianMixture, got {type(data)}")
    step = int(schedule.check_t(t))
    loc = data.mean
    sigma_t = torch.tensor(float(schedule.sigmas[step]), dtype=loc.dtype, device=loc.device)
    event = data.event_shape
    noise = Gaussian.isotropic(loc.new_zeros(event), sigma_t, event_ndims=len(event))
    return data.convolve(noise)
