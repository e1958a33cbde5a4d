"""Sampler error against the exact data law, and the forward process of a 1-D mixture.

- ``evaluate_sampler`` runs each sampler with the Bayes-optimal model for `data` (so the only
  errors are the sampler's: discretization and, with start="prior", the N(0, I) start) and
  measures the output against the exact data law:
    * Gaussian data, metric "w2" (exact, standard error 0): the optimal model is affine in
      x_t, so the whole sampler is an affine map of the standard normal vector
      (z_T, z_1, ..., z_m) (start and step noises) and its output law is N(f, F F^T) in
      closed form. f and the columns of F come from one run of the sampler on a batch of
      basis inputs (row 0 all zeros, then one row per coordinate of each normal vector);
      the error is W2(data, N(f, F F^T)) from ``gausslab.wasserstein2``.
    * mixture data: ``metrics.sample_error`` of num_samples outputs, metric "sliced_w2" by
      default (an unbiased estimate of the squared sliced W2 distance, with its standard
      error), or "ks" / "cross_entropy_gap" (see ``gausslab.diffusion.metrics``).
- ``forward_mixture_trajectory`` is the seed's computational exercise 4: a 1-D mixture pushed
  through the forward chain step by step (``Diffusion.q_step``), compared at chosen t with the
  closed-form marginal (``ground_truth.marginal``) and with N(0, 1) (KL by quadrature).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gausslab.diffusion.ground_truth import marginal, optimal_model
from gausslab.diffusion.metrics import Estimate, Grader, check_metric, grader
from gausslab.diffusion.process import DiffusionProcess
from gausslab.diffusion.samplers import SAMPLERS, Sampler, plan
from gausslab.diffusion.schedule import Schedule
from gausslab.divergences import wasserstein2
from gausslab.gaussian import Gaussian
from gausslab.mixture import GaussianMixture

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "ForwardTrajectory",
    "SamplerError",
    "evaluate_sampler",
    "format_table",
    "forward_mixture_trajectory",
    "sampler_output_law",
]

DEFAULT_STEPS = (10, 20, 50, 100, 200, 500, 1000)
_STARTS = ("prior", "exact")


@dataclass(frozen=True)
class SamplerError:
    """One row of ``evaluate_sampler``: a sampler's error at a number of steps."""

    sampler: str
    steps: int
    metric: str
    error: float
    standard_error: float


def evaluate_sampler(
    diffusion: DiffusionProcess,
    data: Gaussian | GaussianMixture,
    *,
    samplers: Sequence[str] = SAMPLERS,
    steps: Sequence[int] | None = None,
    metric: str | None = None,
    num_samples: int = 4096,
    prediction: str = "eps",
    start: str = "prior",
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> list[SamplerError]:
    """Error of each sampler at each number of steps, with the optimal model for `data`.

    steps=None uses those of 10, 20, 50, 100, 200, 500, 1000 that are <= T. start="prior"
    starts from x_T ~ N(0, I) as ``sample`` does; start="exact" starts from the exact
    marginal q(x_{t_0}), which isolates the discretization error. num_samples is used for
    mixture data only (Gaussian errors are exact). Rows are ordered by sampler, then steps;
    see the module docstring for the metrics.
    """
    if not isinstance(data, Gaussian | GaussianMixture):
        raise TypeError(
            f"data must be a gausslab Gaussian or GaussianMixture, got {type(data).__name__}"
        )
    if start not in _STARTS:
        raise ValueError(f"start must be one of {_STARTS}, got {start!r}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an int >= 2, got {num_samples!r}")
    if isinstance(data, Gaussian) and metric not in (None, "w2"):
        raise ValueError(f"metric for Gaussian data must be 'w2' (or None), got {metric!r}")
    if steps is None:
        steps = tuple(n for n in DEFAULT_STEPS if n <= diffusion.T) or (diffusion.T,)
    plans = [
        (name, n, plan(diffusion, sampler=name, steps=n, prediction=prediction))
        for name in samplers
        for n in steps
    ]
    model = optimal_model(diffusion, data, prediction)
    grade = grader(data, metric) if isinstance(data, GaussianMixture) else None
    rows = []
    for name, n, sampler_plan in plans:
        if grade is not None:
            error, se = _sample_error(
                diffusion, data, sampler_plan, model, grade, num_samples, start, generator, progress
            )
            rows.append(SamplerError(name, n, check_metric(metric), error, se))
        else:
            law = sampler_output_law(diffusion, data, sampler_plan, start=start)
            rows.append(SamplerError(name, n, "w2", float(wasserstein2(data, law)), 0.0))
    return rows


def sampler_output_law(
    diffusion: DiffusionProcess, data: Gaussian, sampler_plan: Sampler, *, start: str = "prior"
) -> Gaussian:
    """The exact law N(f, F F^T) of a sampler's output with the optimal model for Gaussian
    `data` (vector or scalar events), computed by running `sampler_plan` on basis inputs.

    With d = data.dim and m = sampler_plan.num_noises the batch has 1 + d (1 + m) rows, so
    this is meant for small d. start="prior": x_T ~ N(0, I); "exact": x_T ~ q(x_{t_0}).
    """
    if start not in _STARTS:
        raise ValueError(f"start must be one of {_STARTS}, got {start!r}")
    loc = data.loc
    event, d = data.event_shape, data.dim
    basis = torch.eye(d, dtype=loc.dtype, device=loc.device)
    rows = 1 + d * (1 + sampler_plan.num_noises)

    def block(j: int) -> Tensor:
        """Rows where the j-th standard normal vector (0: z_T) is a basis vector."""
        z = loc.new_zeros(rows, d)
        z[1 + j * d : 1 + (j + 1) * d] = basis
        return z.reshape(rows, *event)

    x_T = block(0)
    if start == "exact":
        law_T = marginal(diffusion, data, sampler_plan.timesteps[0])
        x_T = law_T.loc + law_T.covariance.scale_mul(x_T)
    noise = [block(j) for j in range(1, sampler_plan.num_noises + 1)]
    model = optimal_model(diffusion, data, sampler_plan.prediction)
    out = sampler_plan.run(model, x_T, noise=noise).reshape(rows, d)
    mean, columns = out[0], out[1:] - out[0]
    covariance = columns.T @ columns
    if len(event) == 0:
        return Gaussian.univariate(mean[0], covariance[0, 0].sqrt())
    return Gaussian(mean.reshape(event), covariance)


def _sample_error(
    diffusion: DiffusionProcess,
    data: GaussianMixture,
    sampler_plan: Sampler,
    model: Callable[[Tensor, Tensor], Tensor],
    grade: Grader,
    num_samples: int,
    start: str,
    generator: torch.Generator | None,
    progress: bool,
) -> Estimate:
    loc = data.components.loc
    shape = (num_samples, *data.event_shape)
    if start == "exact":
        law_T = marginal(diffusion, data, sampler_plan.timesteps[0])
        x_T = law_T.sample((num_samples,), generator=generator)
    else:
        x_T = torch.randn(shape, dtype=loc.dtype, device=loc.device, generator=generator)
    x0 = sampler_plan.run(model, x_T, generator=generator, progress=progress)
    return grade(x0, generator=generator)


def format_table(rows: Sequence[SamplerError]) -> Table:
    """A rich Table of ``evaluate_sampler`` rows: sampler, steps, metric, error ± SE."""
    from rich.table import Table

    table = Table(title="Sampler error vs the exact data law (optimal model)")
    for name, justify in (("sampler", "left"), ("steps", "right"), ("metric", "left")):
        table.add_column(name, justify=justify)
    table.add_column("error", justify="right")
    table.add_column("± SE", justify="right")
    for row in rows:
        se = "exact" if row.standard_error == 0.0 else f"{row.standard_error:.2e}"
        table.add_row(row.sampler, str(row.steps), row.metric, f"{row.error:.4e}", se)
    return table


# ---------------------------------------------------------------------------- exercise 4


@dataclass(frozen=True)
class ForwardTrajectory:
    """The forward process of a 1-D mixture at the timesteps ``ts`` (rows of each array).

    grid (G,): where densities are evaluated; density (len(ts), G): the exact q(x_t) from
    ``ground_truth.marginal``; bin_edges (bins + 1,) and histogram (len(ts), bins): the
    density histogram of the simulated chain (counts / (n * bin width); samples outside the
    edges are counted in ``outside``); kl_to_standard_normal (len(ts),):
    KL(q(x_t) || N(0, 1)) by trapezoidal quadrature on the grid; samples (len(ts), n).
    """

    ts: tuple[int, ...]
    grid: Tensor
    density: Tensor
    bin_edges: Tensor
    histogram: Tensor
    outside: Tensor
    kl_to_standard_normal: Tensor
    samples: Tensor


def forward_mixture_trajectory(
    mixture: GaussianMixture,
    schedule: Schedule,
    ts: Sequence[int],
    num_samples: int = 10_000,
    generator: torch.Generator | None = None,
    *,
    grid_points: int = 2001,
    bins: int = 80,
) -> ForwardTrajectory:
    """Simulate x_0 ~ mixture, x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) z_t for t = 1..max(ts)
    (one ``q_step`` at a time, not the closed form, so it checks the closed form), and record
    at each t in ts (ascending, in 0..T): the exact density of q(x_t), a histogram of the
    simulated x_t and KL(q(x_t) || N(0, 1)) = integral q log(q / phi) dx by quadrature.

    The grid (``grid_points`` points) and the histogram (``bins`` equal bins) span [-L, L]
    with L = max(6, max_k |mu_k| + 8 max_k sigma_k): every q(x_t) is a mixture of components
    with |mean| <= max_k |mu_k| and std <= max(max_k sigma_k, 1), so the grid holds q(x_t) and
    N(0, 1) up to a mass of order 1e-15.
    """
    if not isinstance(mixture, GaussianMixture) or mixture.event_shape != torch.Size([]):
        raise ValueError(
            "mixture must be a GaussianMixture with scalar events (GaussianMixture.univariate), "
            f"got {mixture!r}"
        )
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    checked = [int(schedule.check_t(t, low=0, name="ts")) for t in ts]
    if not checked or any(b <= a for a, b in pairwise(checked)):
        raise ValueError(f"ts must be a non-empty, strictly ascending sequence, got {list(ts)}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an int >= 2, got {num_samples!r}")
    diffusion = DiffusionProcess(schedule)
    loc = mixture.components.loc
    reach = float(loc.abs().max() + 8 * mixture.components.stddev.max())
    half_width = max(6.0, reach)
    grid = torch.linspace(-half_width, half_width, grid_points, dtype=loc.dtype)
    edges = torch.linspace(-half_width, half_width, bins + 1, dtype=loc.dtype)
    standard = Gaussian.univariate(loc.new_zeros(()), loc.new_ones(()))

    x = mixture.sample((num_samples,), generator=generator)
    wanted = set(checked)
    densities, histograms, outside, kls, samples = [], [], [], [], []
    for t in range(max(checked) + 1):
        if t > 0:
            step = diffusion.q_step(x, t)
            z = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
            x = torch.addcmul(step.mean, step.stddev, z)
        if t not in wanted:
            continue
        log_q = marginal(diffusion, mixture, t).log_prob(grid)
        q = log_q.exp()
        densities.append(q)
        kls.append(torch.trapezoid(q * (log_q - standard.log_prob(grid)), grid))
        counts = torch.histc(x, bins=bins, min=-half_width, max=half_width)
        histograms.append(counts / (num_samples * (2 * half_width / bins)))
        outside.append(((x < -half_width) | (x > half_width)).sum())
        samples.append(x)
    return ForwardTrajectory(
        ts=tuple(checked),
        grid=grid,
        density=torch.stack(densities),
        bin_edges=edges,
        histogram=torch.stack(histograms),
        outside=torch.stack(outside),
        kl_to_standard_normal=torch.stack(kls),
        samples=torch.stack(samples),
    )
