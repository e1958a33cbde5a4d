"""Exact discretization error of the samplers on Gaussian data, and their convergence order.

For Gaussian data and the Bayes-optimal model a sampler is an affine map of its start and step
noises, so its output law is known exactly (``evaluation.sampler_output_law``). To see a
solver's order, the error must be the discretization error alone:

- the run starts from the exact marginal q(x_{t_0}) at t_0 = T (no prior mismatch);
- the grid is uniform in log-SNR, lambda = log(sqrt(abar) / sqrt(1 - abar)), from t = T down to
  a fixed t_last (``logsnr_timesteps``), so refining it shrinks every step alike;
- every sampler ends with the same step from t_last to the data, x_0 = x0_hat(x_{t_last}). An
  exact solver would hand that step x_{t_last} ~ q(x_{t_last}) (the probability-flow ODE and
  the reverse SDE both carry the exact marginals), so the reference is the law of
  E[x_0 | x_{t_last}] under q: one such step from the exact q(x_{t_last}).

``discretization_error`` is W2(output law, reference), exact; with errors e_n at n and 2n
steps the measured order is log2(e_n / e_{2n}) (``convergence_orders``). On a schedule with
T much larger than the step counts (e.g. T = 100,000) the rounding of the grid to integer
timesteps is negligible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import torch
from torch import Tensor

from gausslab.diffusion.evaluation import sampler_output_law
from gausslab.diffusion.process import DiffusionProcess
from gausslab.diffusion.samplers import plan
from gausslab.diffusion.schedule import Schedule
from gausslab.divergences import wasserstein2
from gausslab.gaussian import Gaussian

__all__ = ["convergence_orders", "discretization_error", "logsnr_timesteps"]


def logsnr_timesteps(schedule: Schedule, steps: int, t_last: int) -> Tensor:
    """``steps`` timesteps from T down to t_last, evenly spaced in log-SNR and rounded to the
    nearest timestep (linear interpolation of log-SNR over t). Raises ValueError if rounding
    makes two of them equal (too many steps for the schedule's T)."""
    t_last = int(schedule.check_t(t_last, name="t_last"))
    log_snr = schedule.log_snr[1:].numpy()  # decreasing in t
    targets = np.linspace(log_snr[-1], log_snr[t_last - 1], steps)
    index = np.interp(-targets, -log_snr, np.arange(schedule.T))
    timesteps = torch.from_numpy(np.round(index).astype(np.int64) + 1)
    if steps > 1 and not bool((timesteps[1:] < timesteps[:-1]).all()):
        raise ValueError(
            f"{steps} log-SNR steps from T = {schedule.T} to t_last = {t_last} round to "
            "repeated timesteps; use fewer steps or a schedule with a larger T"
        )
    return timesteps


def discretization_error(
    diffusion: DiffusionProcess, data: Gaussian, sampler: str, steps: int, t_last: int
) -> float:
    """Exact W2 between a sampler's output law and the reference (module docstring), on
    ``logsnr_timesteps(schedule, steps, t_last)`` followed by the step to the data."""
    timesteps = logsnr_timesteps(diffusion.schedule, steps, t_last)
    law = sampler_output_law(
        diffusion, data, plan(diffusion, sampler=sampler, timesteps=timesteps), start="exact"
    )
    reference = sampler_output_law(
        diffusion, data, plan(diffusion, sampler="ddim", timesteps=[t_last]), start="exact"
    )
    return float(wasserstein2(law, reference))


def convergence_orders(errors: Sequence[float]) -> list[float]:
    """log2(e_n / e_{2n}) for consecutive errors at doubling step counts."""
    return [math.log2(a / b) for a, b in pairwise(errors)]


def convergence_study(
    diffusion: DiffusionProcess,
    data: Gaussian,
    samplers: Sequence[str],
    steps: Sequence[int],
    t_last: int,
) -> dict[str, list[float]]:
    """``discretization_error`` of each sampler at each number of steps (doubling steps give
    the orders through ``convergence_orders``)."""
    return {
        name: [discretization_error(diffusion, data, name, n, t_last) for n in steps]
        for name in samplers
    }


def main(out: str) -> None:
    """Write docs/samplers.md's order table (Markdown, printed) and its plot (``out``/
    sampler_convergence.png): ``python -m gausslab.diffusion.convergence docs/images``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gausslab.diffusion.process import DiffusionProcess as Process
    from gausslab.diffusion.samplers import SAMPLERS

    T = 100_000
    diffusion = Process(Schedule.linear(T, 0.1 / T, 20.0 / T))
    f64 = torch.float64
    data = Gaussian(
        torch.tensor([1.0, -0.5], dtype=f64), torch.tensor([[0.25, 0.1], [0.1, 0.36]], dtype=f64)
    )
    steps = (10, 20, 40, 80, 160)
    errors = convergence_study(diffusion, data, SAMPLERS, steps, t_last=92)
    print("| sampler | " + " | ".join(f"{n} steps" for n in steps) + " | order (80 → 160) |")
    print("|---|" + "---:|" * (len(steps) + 1))
    for name, errs in errors.items():
        cells = " | ".join(f"{e:.2e}" for e in errs)
        print(f"| {name} | {cells} | {convergence_orders(errs)[-1]:.2f} |")
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for name, errs in errors.items():
        ax.loglog(steps, errs, marker="o", label=name)
    ax.set(
        xlabel="steps (uniform in log-SNR, T = 100,000 to t = 92)",
        ylabel="exact W2 to the exact solution",
        title="Discretization error on Gaussian data (optimal model, exact start)",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.savefig(f"{out}/sampler_convergence.png", dpi=100)


if __name__ == "__main__":
    import sys

    main(sys.argv[1])
