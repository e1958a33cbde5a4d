"""Ancestral DDPM sampling (Ho et al. 2020) on any grid, with the respaced posterior.

Between consecutive grid points t -> s the effective beta is beta' = 1 - abar_t / abar_s, and

    x_s = coef1 x0_hat + coef2 x_t + sqrt(beta_tilde') z,
    coef1 = beta' sqrt(abar_s) / (1 - abar_t),  coef2 = (1 - abar_s) sqrt(1 - beta') / (1 - abar_t),
    beta_tilde' = beta' (1 - abar_s) / (1 - abar_t);

with all T steps this is exactly DDPM (``Diffusion.p_step`` with variance "fixed_small"). The
last step (s = 0) returns x0_hat, without noise.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gausslab.diffusion.process import DiffusionProcess
from gausslab.diffusion.samplers.base import Run, Sampler, affine_update
from gausslab.diffusion.samplers.grid import Grid
from gausslab.diffusion.schedule import Schedule

__all__ = ["DDPM"]


class DDPM(Sampler):
    """x_s = a x_t + b out + c z with (a, b, c) from the respaced posterior (module docstring)."""

    name = "ddpm"

    def __init__(self, grid: Grid, prediction: str = "eps") -> None:
        super().__init__(grid, prediction)
        x0_x, x0_out, _, _ = self.conversion
        coef_x0, coef_xt, std = respaced_posterior(grid)
        self.coefficients = self.rows(coef_x0 * x0_x + coef_xt, coef_x0 * x0_out, std)
        self.num_noises = sum(c != 0.0 for _, _, c in self.coefficients)

    def step(self, i: int, x: Tensor, out: Tensor, run: Run) -> Tensor:
        a, b, c = self.coefficients[i]
        return affine_update(x, a, out, b, c, run)


def respaced_posterior(grid: Grid) -> tuple[Tensor, Tensor, Tensor]:
    """(coef1, coef2, std) of q(x_s | x_t, x0) for each grid step t -> s, from the respaced
    schedule whose step j = 1..n has abar'_j = abar_{t_{n-j}}, i.e. beta'_j = 1 - abar'_j /
    abar'_{j-1}; its posterior tables (``DiffusionProcess``) at j give the step
    t_{n-j} -> t_{n-j+1}. At j = 1 (the last step, to t = 0) coef1 = 1, coef2 = 0, std = 0: the
    step returns x0_hat.
    """
    log_abar = grid.alphas_cumprod[:-1].flip(0).log()
    previous = torch.cat([log_abar.new_zeros(1), log_abar[:-1]])
    respaced = DiffusionProcess(Schedule.from_betas(-torch.expm1(log_abar - previous)))
    j = torch.arange(grid.num_steps, 0, -1)
    return (
        respaced.posterior_mean_coef1[j],
        respaced.posterior_mean_coef2[j],
        respaced.posterior_variance[j].sqrt(),
    )
