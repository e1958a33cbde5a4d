"""Reverse-process samplers on any grid: one module per method, each registered by name.

- ``ddpm``: ancestral sampling with the respaced posterior;
- ``ddim``: DDIM with eta (eta = 1 is ddpm);
- ``euler``, ``heun``: the probability-flow ODE in sigma (``ode``);
- ``dpmpp2m``, ``dpmpp3m``: DPM-Solver++ multistep, data prediction (``dpmsolver``);
- ``unipc``: UniPC, bh2, order 2 (``unipc``).

``plan(diffusion, sampler=..., ...)`` validates the settings and returns the ``Sampler`` (its
coefficients precomputed); ``sampler.run(model, x_T)`` runs it; ``sample`` does both from a
shape. A new method is a module here with a ``Sampler`` subclass that sets ``name`` (see
``base``), imported below; ``SAMPLERS`` lists the registered names in that order.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

# isort: off
# Importing a sampler module registers its classes; this order is the order of SAMPLERS.
from gausslab.diffusion.samplers import ddpm, ddim, ode, dpmsolver, unipc  # noqa: F401

# isort: on
from gausslab.diffusion.process import PREDICTIONS, DiffusionProcess
from gausslab.diffusion.samplers.base import (
    REGISTRY,
    Model,
    Run,
    Sampler,
    check_eta,
    check_generator,
    check_x,
)
from gausslab.diffusion.samplers.grid import GRIDS, Grid, make_grid

__all__ = ["GRIDS", "REGISTRY", "SAMPLERS", "Grid", "Run", "Sampler", "plan", "sample"]

SAMPLERS = tuple(REGISTRY)


def plan(
    diffusion: DiffusionProcess,
    *,
    sampler: str = "ddpm",
    steps: int | None = None,
    timesteps: Sequence[int] | Tensor | None = None,
    grid: str = "uniform",
    prediction: str = "eps",
    eta: float = 0.0,
) -> Sampler:
    """The named sampler on its grid, validated, with every step's coefficients precomputed.

    - sampler: one of ``SAMPLERS`` (see the module docstrings for each update).
    - steps=None runs all T steps; steps = n runs the evenly spaced subset ending at t = T,
      ``schedule.timesteps(n, "trailing")``; or pass `timesteps`, a strictly descending
      sequence in 1..T (then x_T is the state at its first entry). ``grid`` names the spacing
      (``GRIDS``).
    - prediction: how the model output is read, "eps", "x0" or "v".
    - eta in [0, 1] for "ddim" (0 for every other sampler).

    Raises ValueError naming the argument for an unknown sampler or prediction, steps outside
    1..T, timesteps that are not strictly descending within 1..T, both steps and timesteps,
    eta outside [0, 1] (or nonzero for a sampler other than "ddim"), and for settings whose
    coefficients are infinite (abar = 0 at the first timestep, zero terminal SNR, with an eps
    prediction or an ODE sampler).
    """
    if not isinstance(diffusion, DiffusionProcess):
        raise TypeError(f"diffusion must be a Diffusion, got {type(diffusion).__name__}")
    if sampler not in REGISTRY:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
    cls = REGISTRY[sampler]
    eta = check_eta(eta, cls)
    points = make_grid(diffusion.schedule, steps=steps, timesteps=timesteps, grid=grid)
    if cls.takes_eta:
        return cls(points, prediction, eta=eta)
    return cls(points, prediction)


def sample(
    diffusion: DiffusionProcess,
    model: Model,
    shape: Sequence[int] | torch.Size,
    *,
    x_T: Tensor | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
    **settings: Any,
) -> Tensor:
    """x_0 samples of `shape` = (B, *event_shape) from `model` by the reverse chain.

    - model(x_t, t) gets t as an int64 tensor of shape (B,) in paper indexing and returns a
      tensor of x_t's shape, read as the `prediction` setting.
    - settings: the keywords of ``plan`` — sampler ("ddpm", "ddim", "euler", "heun", ...),
      steps, timesteps, grid, prediction, eta.
    - x_T fixes the starting noise (shape `shape`; its dtype and device are used); otherwise
      x_T ~ N(0, I) is drawn from `generator` in the default dtype on the generator's device.
      `generator` drives all randomness, so ddim with eta = 0 and the ODE samplers are
      deterministic given x_T.
    - progress=True shows a rich progress bar.
    """
    sampler = plan(diffusion, **settings)
    shape = _check_shape(shape)
    if x_T is None:
        check_generator(generator, None)
        device = generator.device if generator is not None else torch.device("cpu")
        x_T = torch.randn(shape, generator=generator, device=device)
    else:
        check_x(x_T, "x_T")
        if tuple(x_T.shape) != shape:
            raise ValueError(
                f"x_T must have shape {shape} (the `shape` argument), got {tuple(x_T.shape)}"
            )
    return sampler.run(model, x_T, generator=generator, progress=progress)


def _check_shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) or not isinstance(shape, Sequence):
        raise ValueError(f"shape must be a sequence (B, *event_shape), got {shape!r}")
    if len(shape) == 0 or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in shape
    ):
        raise ValueError(f"shape must be (B, *event_shape) with positive ints, got {shape!r}")
    return tuple(int(n) for n in shape)
