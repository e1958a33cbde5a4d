"""The grid a sampler runs on: where the model is called, and the noise level at each point.

A grid of n steps is n points t_0 > t_1 > ... > t_{n-1} (paper timesteps in 1..T, the model is
called as model(x, t_k)) with abar at each, followed by the end point abar = 1 (the data,
t = 0). Every sampler reads its coefficients off the grid's float64 abar and 1 - abar (never
off the schedule), so one sampler runs on any grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from gausslab.diffusion.schedule import Schedule

__all__ = ["GRIDS", "Grid", "make_grid"]

GRIDS = ("uniform",)


@dataclass(frozen=True)
class Grid:
    """The points of a reverse chain, noisiest first, then the data.

    timesteps (n,) int64: t_0 > ... > t_{n-1}, the model's timestep at each point.
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


def make_grid(
    schedule: Schedule,
    *,
    steps: int | None = None,
    timesteps: Sequence[int] | Tensor | None = None,
    grid: str = "uniform",
) -> Grid:
    """The grid of a sampler run: ``steps`` points (None: all T) or the given ``timesteps``.

    grid="uniform": ``schedule.timesteps(steps, "trailing")`` (evenly spaced, ending at t = T),
    or ``timesteps``, a strictly descending sequence in 1..T. Raises ValueError naming the
    argument for steps outside 1..T, both steps and timesteps, or bad timesteps.
    """
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
    return Grid.uniform(schedule, _resolve_timesteps(schedule, steps, timesteps))


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
