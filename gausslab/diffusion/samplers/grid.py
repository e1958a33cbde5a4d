"""The grid a sampler runs on: where the model is called, and the noise level at each point.

A grid of n steps is n points t_0 >= t_1 >= ... >= t_{n-1} (paper timesteps in 1..T, the model
is called as model(x, t_k)) with abar at each, followed by the end point abar = 1 (the data,
t = 0). Every sampler reads its coefficients off the grid's float64 abar and 1 - abar (never
off the schedule), so one sampler runs on any grid:

- "uniform": the schedule's own timesteps (evenly spaced, "trailing"; or any given strictly
  descending subset), abar_k = alphas_cumprod[t_k];
- "karras": the noise levels of Karras et al. (2022, eq. 5) with rho = 7 between the
  schedule's sigma at t = T and at t = 1, sigma_k = (sigma_max^(1/rho) + k / (n - 1)
  (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho, abar_k = 1 / (1 + sigma_k^2). The solver
  steps between these exact noise levels; the model, which takes integer timesteps, is called
  at t_k = the timestep whose sigma matches sigma_k, by linear interpolation of log sigma over
  the schedule's timesteps, rounded to the nearest integer (so consecutive t_k may repeat).
  This is diffusers' ``use_karras_sigmas=True`` for DPMSolverMultistep/UniPC, whose model also
  sees the rounded timestep (diffusers truncates instead of rounding for "squaredcos_cap_v2").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gausslab.diffusion.schedule import Schedule

__all__ = ["GRIDS", "Grid", "make_grid"]

GRIDS = ("uniform", "karras")

KARRAS_RHO = 7.0


@dataclass(frozen=True)
class Grid:
    """The points of a reverse chain, noisiest first, then the data.

    timesteps (n,) int64: t_0 >= ... >= t_{n-1}, the model's timestep at each point.
    alphas_cumprod (n + 1,) float64: abar at each point, then 1 (the data).
    one_minus_alphas_cumprod (n + 1,) float64: 1 - abar (kept separately: no cancellation
    near abar = 1), then 0.
    """

    timesteps: Tensor
    alphas_cumprod: Tensor
    one_minus_alphas_cumprod: Tensor

    @property
    def num_steps(self) -> int:
        return self.timesteps.shape[0]

    @property
    def sigmas(self) -> Tensor:
        """sigma_k = sqrt((1 - abar_k) / abar_k), shape (n + 1,), ending at 0 (inf at abar = 0)."""
        return torch.sqrt(self.one_minus_alphas_cumprod / self.alphas_cumprod)

    @classmethod
    def uniform(cls, schedule: Schedule, timesteps: Tensor) -> Grid:
        """The grid on the given (checked, descending) timesteps, with the schedule's tables."""
        end = timesteps.new_zeros(1)
        points = torch.cat([timesteps, end])
        return cls(
            timesteps=timesteps,
            alphas_cumprod=schedule.alphas_cumprod[points],
            one_minus_alphas_cumprod=schedule.one_minus_alphas_cumprod[points],
        )

    @classmethod
    def karras(cls, schedule: Schedule, steps: int, rho: float = KARRAS_RHO) -> Grid:
        """``steps`` Karras noise levels (rho = 7) from sigma_T down to sigma_1, the model
        called at the nearest timesteps (module docstring). Needs a finite sigma_T."""
        table = schedule.sigmas[1:]
        if not bool(torch.isfinite(table[-1])):
            raise ValueError(
                "grid='karras' needs a finite sigma at t = T, but this schedule has zero "
                "terminal SNR (alphas_cumprod[T] = 0, sigma_T = inf); use grid='uniform'"
            )
        high, low = table[-1].item() ** (1 / rho), table[0].item() ** (1 / rho)
        ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
        sigmas = (high + ramp * (low - high)) ** rho
        # 0-based index i (paper t = i + 1) with log sigma_i linear between table entries
        index = np.interp(sigmas.log().numpy(), table.log().numpy(), np.arange(schedule.T))
        timesteps = torch.from_numpy(np.round(index).astype(np.int64) + 1)
        square = torch.cat([sigmas.square(), sigmas.new_zeros(1)])
        return cls(
            timesteps=timesteps,
            alphas_cumprod=1.0 / (1.0 + square),
            one_minus_alphas_cumprod=square / (1.0 + square),
        )


def make_grid(
    schedule: Schedule,
    *,
    steps: int | None = None,
    timesteps: Sequence[int] | Tensor | None = None,
    grid: str = "uniform",
) -> Grid:
    """The grid of a sampler run: ``steps`` points (None: all T) or the given ``timesteps``.

    grid="uniform": ``schedule.timesteps(steps, "trailing")`` (evenly spaced, ending at t = T),
    or ``timesteps``, a strictly descending sequence in 1..T. grid="karras": ``steps`` Karras
    noise levels (``Grid.karras``; timesteps cannot be given). Raises ValueError naming the
    argument for an unknown grid, steps outside 1..T, both steps and timesteps, or bad
    timesteps.
    """
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
    if grid == "karras" and timesteps is not None:
        raise ValueError(
            "timesteps cannot be given with grid='karras' (it places its own noise levels); "
            "pass steps, or grid='uniform'"
        )
    ts = _resolve_timesteps(schedule, steps, timesteps)
    if grid == "karras":
        return Grid.karras(schedule, ts.shape[0])
    return Grid.uniform(schedule, ts)


def _resolve_timesteps(
    schedule: Schedule, steps: int | None, timesteps: Sequence[int] | Tensor | None
) -> Tensor:
    """The kept timesteps t_0 > ... > t_{n-1} as an int64 CPU tensor."""
    if timesteps is None:
        return schedule.timesteps(schedule.T if steps is None else steps, "trailing")
    if steps is not None:
        raise ValueError(
            f"pass either steps or timesteps, not both (got steps={steps!r} and timesteps)"
        )
    if isinstance(timesteps, Tensor):
        ts = timesteps.detach().cpu()
    else:
        try:
            ts = torch.as_tensor(list(timesteps))
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(
                f"timesteps must be a 1-D sequence of ints in 1..{schedule.T}, got {timesteps!r}"
            ) from error
    if ts.ndim != 1 or ts.numel() == 0:
        raise ValueError(f"timesteps must be a non-empty 1-D sequence, got shape {tuple(ts.shape)}")
    ts = schedule.check_t(ts, name="timesteps")
    if ts.numel() > 1 and not bool((ts[1:] < ts[:-1]).all()):
        raise ValueError(f"timesteps must be strictly descending, got {ts.tolist()}")
    return ts
