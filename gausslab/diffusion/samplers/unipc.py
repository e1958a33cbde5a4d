"""UniPC (Zhao et al. 2023), B(h) = expm1(-h) ("bh2"), data prediction, order 2.

Each step i first corrects x_i with the new data prediction m_i (UniC, from the corrected
x_{i-1}, free: m_i is evaluated at the uncorrected x_i and reused), then predicts x_{i+1}
(UniP). With alpha, s, lambda as in ``multistep`` and, for a step from point j to k,
h = lambda_k - lambda_j, phi = expm1(-h) = B(h):

    UniP order 1: x_{i+1} = (s_{i+1} / s_i) x_i - alpha_{i+1} phi m_i
    UniP order 2: ... - 0.5 alpha_{i+1} phi D1,   D1 = (m_{i-1} - m_i) / r,  r = (lambda_{i-1}
                  - lambda_i) / h
    UniC:         x_i^c = (s_i / s_{i-1}) x_{i-1}^c - alpha_i phi m_{i-1}
                          - alpha_i phi (rho_1 D1 + rho_c (m_i - m_{i-1}))
                  order 1: rho_c = 1/2 (no D1); order 2: D1 = (m_{i-2} - m_{i-1}) / r,
                  r = (lambda_{i-2} - lambda_{i-1}) / h, and (rho_1, rho_c) solve
                  [[1, 1], [r, 1]] rho = (b_1, b_2), b_1 = (phi / (-h) - 1) / phi,
                  b_2 = 2 ((phi / (-h) - 1) / (-h) - 1/2) / phi.

The predictor's order at step i is min(2, i + 1, n - i) (warm-up, and first order on the last
step, to the data); the corrector at step i uses the order of the predictor that made x_i.
This is diffusers' ``UniPCMultistepScheduler`` default (solver_order=2, predict_x0,
lower_order_final, no ``disable_corrector``).
"""

from __future__ import annotations

import math

from torch import Tensor

from gausslab.diffusion.samplers.base import Run
from gausslab.diffusion.samplers.grid import Grid
from gausslab.diffusion.samplers.multistep import Multistep

__all__ = ["UniPC"]


class UniPC(Multistep):
    """UniPC-2 (bh2): a corrector row and a predictor row per step (module docstring)."""

    name = "unipc"
    order = 2

    def __init__(self, grid: Grid, prediction: str = "eps") -> None:
        super().__init__(grid, prediction)
        n = grid.num_steps
        orders = [min(self.order, i + 1, n - i) for i in range(n)]
        predictors = [self._predictor(i, orders[i]) for i in range(n)]
        correctors = [[0.0] * 4] + [self._corrector(i, orders[i - 1]) for i in range(1, n)]
        rows = self.rows(*zip(*predictors, strict=True), *zip(*correctors, strict=True))
        self.predictors = [row[:4] for row in rows]
        self.correctors = [row[4:] for row in rows]

    def _phi(self, j: int, k: int) -> tuple[float, float]:
        h = self.lam[k] - self.lam[j]
        return h, math.expm1(-h)

    def _predictor(self, i: int, order: int) -> list[float]:
        h, phi = self._phi(i, i + 1)
        a, alpha_phi = self.s[i + 1] / self.s[i], self.alpha[i + 1] * phi
        if order == 1:
            return [a, -alpha_phi, 0.0, 0.0]
        r = (self.lam[i - 1] - self.lam[i]) / h
        d1 = 0.5 * alpha_phi / r  # -0.5 alpha phi (m_{i-1} - m_i) / r
        return [a, -alpha_phi + d1, -d1, 0.0]

    def _corrector(self, i: int, order: int) -> list[float]:
        h, phi = self._phi(i - 1, i)
        a, alpha_phi = self.s[i] / self.s[i - 1], self.alpha[i] * phi
        if order == 1:
            rho_c = 0.5
            return [a, -alpha_phi * rho_c, -alpha_phi * (1.0 - rho_c), 0.0]
        r = (self.lam[i - 2] - self.lam[i - 1]) / h
        hp1 = phi / -h - 1.0
        b1 = hp1 / phi
        b2 = 2.0 * (hp1 / -h - 0.5) / phi
        rho_1 = (b1 - b2) / (1.0 - r)
        rho_c = b1 - rho_1
        # - alpha phi (rho_1 (m_{i-2} - m_{i-1}) / r + rho_c (m_i - m_{i-1}))
        return [
            a,
            -alpha_phi * rho_c,
            -alpha_phi * (1.0 - rho_1 / r - rho_c),
            -alpha_phi * rho_1 / r,
        ]

    def step(self, i: int, x: Tensor, out: Tensor, run: Run) -> Tensor:
        m = self.data_prediction(i, x, out)
        if i > 0:
            x = self.combine(self.correctors[i], run.previous, m, run)
        x_next = self.combine(self.predictors[i], x, m, run)
        run.previous = x
        self.remember(m, run)
        return x_next
