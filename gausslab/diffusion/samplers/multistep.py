"""Linear multistep solvers in the data prediction (DPM-Solver++, UniPC).

Such a solver reads each model output as the data prediction m_k = x0_hat(x_k, t_k) and moves
x by linear combinations of a state and the latest m's:

    x' = a x + c_0 m_i + c_1 m_{i-1} + c_2 m_{i-2}

with coefficients computed once per grid (float64 -> Python floats). ``Multistep`` holds the
grid's log-SNR quantities and applies such a row; the run keeps the past m's
(``Run.predictions``, newest last).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gausslab.diffusion.samplers.base import Run, Sampler
from gausslab.diffusion.samplers.grid import Grid

__all__ = ["Multistep"]


class Multistep(Sampler):
    """Base of the data-prediction multistep solvers.

    ``alpha``, ``s`` and ``lam`` are lists over the grid points k = 0..n (the data last):
    alpha_k = sqrt(abar_k), s_k = sqrt(1 - abar_k), lambda_k = log(alpha_k / s_k) (+inf at
    the data). ``history`` is how many past predictions a step reads; ``order`` the method's
    order.
    """

    order: int
    history = 2

    def __init__(self, grid: Grid, prediction: str = "eps") -> None:
        super().__init__(grid, prediction)
        x0_x, x0_out, _, _ = self.conversion
        self.x0_rows = self.rows(x0_x, x0_out)
        abar, one_minus = grid.alphas_cumprod, grid.one_minus_alphas_cumprod
        self.alpha: list[float] = abar.sqrt().tolist()
        self.s: list[float] = one_minus.sqrt().tolist()
        self.lam: list[float] = (0.5 * (abar.log() - one_minus.log())).tolist()

    def data_prediction(self, i: int, x: Tensor, out: Tensor) -> Tensor:
        """m_i = x0_x x + x0_out out (the output itself for an x0 prediction)."""
        x0_x, x0_out = self.x0_rows[i]
        if x0_x == 0.0 and x0_out == 1.0:
            return out
        return torch.mul(out, x0_out).add_(x, alpha=x0_x)

    @staticmethod
    def combine(row: list[float], x: Tensor, m: Tensor, run: Run) -> Tensor:
        """row = [a, c_0, c_1, c_2]: a x + c_0 m + c_1 m_{i-1} + c_2 m_{i-2} in a fresh tensor
        (zero coefficients skipped, so the warm-up steps need no past predictions)."""
        a, *coefficients = row
        out = torch.mul(x, a)
        for c, past in zip(coefficients, [m, *reversed(run.predictions)], strict=False):
            if c != 0.0:
                out.add_(past, alpha=c)
        return out

    def remember(self, m: Tensor, run: Run) -> None:
        """Keep m as the newest past prediction, and only as many as the next step reads."""
        run.predictions.append(m)
        del run.predictions[: -self.history]
