"""DDIM (Song et al. 2021, eq. 12) on any grid: for one step t -> s,

    x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma^2) eps_hat + sigma z,
    sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s).

eta = 0 is deterministic; eta = 1 is the DDPM step (``ddpm``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gausslab.diffusion.samplers.base import Run, Sampler, affine_update
from gausslab.diffusion.samplers.grid import Grid

__all__ = ["DDIM"]


class DDIM(Sampler):
    """x_s = a x_t + b out + c z with c = sigma above and (a, b) from x0_hat and eps_hat."""

    name = "ddim"
    takes_eta = True

    def __init__(self, grid: Grid, prediction: str = "eps", eta: float = 0.0) -> None:
        super().__init__(grid, prediction)
        self.eta = eta
        x0_x, x0_out, eps_x, eps_out = self.conversion
        abar, one_minus = grid.alphas_cumprod, grid.one_minus_alphas_cumprod
        abar_s, one_minus_t, one_minus_s = abar[1:], one_minus[:-1], one_minus[1:]
        beta_eff = -torch.expm1(abar[:-1].log() - abar_s.log())
        c = eta * (one_minus_s / one_minus_t * beta_eff).sqrt()
        direction = (one_minus_s - c**2).clamp(min=0.0).sqrt()
        a = abar_s.sqrt() * x0_x + direction * eps_x
        b = abar_s.sqrt() * x0_out + direction * eps_out
        self.coefficients = self.rows(a, b, c)
        self.num_noises = sum(c != 0.0 for _, _, c in self.coefficients)

    def step(self, i: int, x: Tensor, out: Tensor, run: Run) -> Tensor:
        a, b, c = self.coefficients[i]
        return affine_update(x, a, out, b, c, run)
