"""Convergence order of each sampler from its exact discretization error on Gaussian data.

The error is exact (W2 between Gaussian laws, no Monte Carlo): see
``gausslab.diffusion.convergence`` for why it isolates the discretization error. References
are the orders the methods are built to have: Euler/DDIM and DDPM 1 (DDPM: weak order of the
ancestral step), Heun 2 (Karras et al. 2022), DPM-Solver++(2M) 2 (Lu et al. 2022), UniPC-2 3
(Zhao et al. 2023: the corrector adds one order); DPM-Solver++(3M) is third order per step but
its first step is first order (warm-up, as in diffusers), whose O(h^2) local error caps the
global order at 2 — measured, and its error is below 2M's.

Tolerance: with e(h) = C h^p (1 + D h + ...) the measured order between n and 2n steps is
p + O(h) with the O(h) term halving at each doubling; at 80 -> 160 steps the measured
deviations are at most ~0.08, so |order - p| < 0.15 and the deviation decreasing along the
sequence (consistent with an O(h) correction) are the asserted properties.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from gausslab import Gaussian
from gausslab.diffusion import Diffusion, Schedule
from gausslab.diffusion.convergence import (
    convergence_orders,
    discretization_error,
    logsnr_timesteps,
)

F64 = torch.float64
DATA = Gaussian(
    torch.tensor([1.0, -0.5], dtype=F64), torch.tensor([[0.25, 0.1], [0.1, 0.36]], dtype=F64)
)
T = 100_000
# the continuous VP schedule beta(s) in [0.1, 20], s in [0, 1], at resolution 1 / T
DIFFUSION = Diffusion(Schedule.linear(T, 0.1 / T, 20.0 / T))
T_LAST = 92  # sigma = 0.01
STEPS = (20, 40, 80, 160)
ORDERS = {"ddpm": 1, "ddim": 1, "euler": 1, "heun": 2, "dpmpp2m": 2, "dpmpp3m": 2, "unipc": 3}


@pytest.fixture(scope="module")
def errors():
    return {
        name: [discretization_error(DIFFUSION, DATA, name, n, T_LAST) for n in STEPS]
        for name in ORDERS
    }


@pytest.mark.parametrize("name", ORDERS)
def test_measured_convergence_order(errors, name):
    """Errors fall monotonically and the measured order tends to the method's order."""
    errs = errors[name]
    assert all(a > b > 0 for a, b in pairwise(errs))
    orders = convergence_orders(errs)
    deviations = [abs(order - ORDERS[name]) for order in orders]
    assert deviations[-1] < 0.15, orders
    assert deviations[-1] <= deviations[-2] + 0.02, orders


def test_higher_order_solvers_are_more_accurate_at_equal_steps(errors):
    """At 160 steps: unipc < dpmpp3m < dpmpp2m < ddim, and euler = ddim (the same update)."""
    last = {name: errs[-1] for name, errs in errors.items()}
    assert last["unipc"] < last["dpmpp3m"] < last["dpmpp2m"] < last["ddim"]
    assert last["euler"] == pytest.approx(last["ddim"], rel=1e-6)


def test_logsnr_timesteps_are_even_in_log_snr_and_refuse_repeats():
    ts = logsnr_timesteps(DIFFUSION.schedule, 11, T_LAST)
    assert ts[0] == T and ts[-1] == T_LAST and bool((ts[1:] < ts[:-1]).all())
    steps = DIFFUSION.schedule.log_snr[ts].diff()
    torch.testing.assert_close(steps, steps.mean().expand(10), rtol=0.02, atol=0)
    with pytest.raises(ValueError, match="repeated timesteps"):
        logsnr_timesteps(Schedule.linear(100), 90, 2)
