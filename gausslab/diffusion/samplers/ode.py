"""Probability-flow ODE samplers, Euler and Heun, in the variance-exploding parametrization
y = x / sqrt(abar), sigma = sqrt((1 - abar) / abar): dy/dsigma = eps_hat(x, t).

- Euler: y_s = y_t + (sigma_s - sigma_t) eps_hat(x_t, t), which is algebraically DDIM with
  eta = 0.
- Heun (Karras et al. 2022, Alg. 1) re-evaluates eps_hat at the Euler point (x_s', s) and uses
  the average slope, y_s = y_t + (sigma_s - sigma_t) (eps_hat(x_t, t) + eps_hat(x_s', s)) / 2,
  except on the final step to sigma = 0, which stays an Euler step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gausslab.diffusion.samplers.base import Run, Sampler
from gausslab.diffusion.samplers.grid import Grid

__all__ = ["Euler", "Heun"]


class Euler(Sampler):
    """x_s = a x_t + b out with a = sqrt(abar_s / abar_t) + k eps_x, b = k eps_out,
    k = sqrt(abar_s) (sigma_s - sigma_t)."""

    name = "euler"

    def __init__(self, grid: Grid, prediction: str = "eps") -> None:
        super().__init__(grid, prediction)
        _, _, eps_x, eps_out = self.conversion
        abar, sigmas = grid.alphas_cumprod, grid.sigmas
        ratio = (abar[1:] / abar[:-1]).sqrt()
        self.slope = abar[1:].sqrt() * (sigmas[1:] - sigmas[:-1])
        self.coefficients = self.rows(ratio + self.slope * eps_x, self.slope * eps_out)

    def step(self, i: int, x: Tensor, out: Tensor, run: Run) -> Tensor:
        a, b = self.coefficients[i]
        return torch.mul(x, a).add_(out, alpha=b)


class Heun(Euler):
    """The Euler point x_s' = a x_t + b out, corrected to
    x_s = x_s' + (k / 2) (eps_hat(x_s', s) - eps_hat(x_t, t)) on every step but the last."""

    name = "heun"

    def __init__(self, grid: Grid, prediction: str = "eps") -> None:
        super().__init__(grid, prediction)
        _, _, eps_x, eps_out = self.conversion
        half = self.slope / 2
        # eps_hat at s is read with the conversion at the next grid point.
        eps_x_s = torch.cat([eps_x[1:], eps_x.new_zeros(1)])
        eps_out_s = torch.cat([eps_out[1:], eps_out.new_zeros(1)])
        self.corrections = self.rows(
            -half * eps_x, -half * eps_out, 1 + half * eps_x_s, half * eps_out_s
        )

    @property
    def num_model_calls(self) -> int:
        return 2 * len(self.timesteps) - 1

    def step(self, i: int, x: Tensor, out: Tensor, run: Run) -> Tensor:
        euler = super().step(i, x, out, run)
        if i == len(self.timesteps) - 1:
            return euler
        out2 = run.output(euler, i + 1)
        ax, aout, apred, aout2 = self.corrections[i]
        return (
            torch.mul(x, ax).add_(out, alpha=aout).add_(euler, alpha=apred).add_(out2, alpha=aout2)
        )
