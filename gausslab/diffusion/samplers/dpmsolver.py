"""DPM-Solver++ multistep (Lu et al. 2022, "DPM-Solver++"), data prediction, orders 2 and 3.

With alpha, s, lambda and m as in ``multistep``, h = lambda_{i+1} - lambda_i and
phi = expm1(-h), one step i -> i + 1 is

    order 1: x_{i+1} = (s_{i+1} / s_i) x_i - alpha_{i+1} phi m_i                  (= DDIM)
    order 2: ... - 0.5 alpha_{i+1} phi D1,   D1 = (m_i - m_{i-1}) / r0,  r0 = h_0 / h
    order 3: (s_{i+1} / s_i) x_i - alpha phi m_i + alpha (phi / h + 1) D1
             - alpha ((phi + h) / h^2 - 1/2) D2,  with D1_0 = (m_i - m_{i-1}) / r0,
             D1_1 = (m_{i-1} - m_{i-2}) / r1, D1 = D1_0 + r0 / (r0 + r1) (D1_0 - D1_1),
             D2 = (D1_0 - D1_1) / (r0 + r1)

where h_0 = lambda_i - lambda_{i-1}, h_1 = lambda_{i-1} - lambda_{i-2}, r1 = h_1 / h, alpha =
alpha_{i+1} (order 2 in its "midpoint" form, diffusers' default ``solver_type``). The order of
step i is min(order, i + 1) (warm-up), 1 on the last step (to the data, where h is infinite)
and at most 2 on the step before it when there are fewer than 15 steps: diffusers'
``lower_order_final`` with ``final_sigmas_type="zero"``.
"""

from __future__ import annotations

import math

from torch import Tensor

from gausslab.diffusion.samplers.base import Run
from gausslab.diffusion.samplers.grid import Grid
from gausslab.diffusion.samplers.multistep import Multistep

__all__ = ["DPMSolverPP2M", "DPMSolverPP3M"]

# With fewer steps than this, the step before the last is at most second order (diffusers).
_LOWER_ORDER_SECOND_BELOW = 15


class DPMSolverPP2M(Multistep):
    """DPM-Solver++(2M): x_{i+1} = a_i x_i + sum_j c_ij m_{i-j} (module docstring)."""

    name = "dpmpp2m"
    order = 2

    def __init__(self, grid: Grid, prediction: str = "eps") -> None:
        super().__init__(grid, prediction)
        self.history = self.order - 1
        n = grid.num_steps
        updates = []
        for i in range(n):
            order = min(self.order, i + 1)
            if i == n - 1:
                order = 1
            elif i == n - 2 and n < _LOWER_ORDER_SECOND_BELOW:
                order = min(order, 2)
            updates.append(self._update(i, order))
        self.updates = self.rows(*zip(*updates, strict=True))

    def _update(self, i: int, order: int) -> list[float]:
        """[a, c_i, c_{i-1}, c_{i-2}] of x_{i+1} = a x_i + sum_j c_j m_j at this order."""
        lam, alpha = self.lam, self.alpha[i + 1]
        h = lam[i + 1] - lam[i]
        phi = math.expm1(-h)  # -1 on the last step (h = inf)
        a = self.s[i + 1] / self.s[i]
        if order == 1:
            return [a, -alpha * phi, 0.0, 0.0]
        r0 = (lam[i] - lam[i - 1]) / h
        if order == 2:
            d1 = 0.5 * alpha * phi / r0  # -0.5 alpha phi (m_i - m_{i-1}) / r0
            return [a, -alpha * phi - d1, d1, 0.0]
        r1 = (lam[i - 1] - lam[i - 2]) / h
        d1_0 = (1 / r0, -1 / r0, 0.0)  # over (m_i, m_{i-1}, m_{i-2})
        diff = (1 / r0, -1 / r0 - 1 / r1, 1 / r1)  # D1_0 - D1_1
        k1 = alpha * (phi / h + 1.0)
        k2 = -alpha * ((phi + h) / h**2 - 0.5)
        c = [k1 * (d1_0[j] + r0 / (r0 + r1) * diff[j]) + k2 * diff[j] / (r0 + r1) for j in range(3)]
        c[0] -= alpha * phi
        return [a, *c]

    def step(self, i: int, x: Tensor, out: Tensor, run: Run) -> Tensor:
        m = self.data_prediction(i, x, out)
        x_next = self.combine(self.updates[i], x, m, run)
        self.remember(m, run)
        return x_next


class DPMSolverPP3M(DPMSolverPP2M):
    """DPM-Solver++(3M): third order once three predictions are known."""

    name = "dpmpp3m"
    order = 3
