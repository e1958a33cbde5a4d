"""Tests for gausslab.diffusion.evaluation.

References: the one-step DDIM output law of 1-D Gaussian data derived by hand, the 1-D W2
formula sqrt((m1 - m2)^2 + (s1 - s2)^2), scipy quadrature and scipy.stats.norm for the exercise-4
densities, bin probabilities and KLs, and Monte Carlo with 5-SE tolerances at fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from rich.console import Console
from scipy import integrate, stats

from gausslab import Gaussian
from gausslab.diffusion import SAMPLERS, Diffusion, Schedule
from gausslab.diffusion.evaluation import (
    SamplerError,
    evaluate_sampler,
    format_table,
    forward_mixture_trajectory,
    sampler_output_law,
)
from gausslab.diffusion.samplers import plan
from gausslab.mixture import GaussianMixture

F64 = torch.float64
DIFFUSION = Diffusion(Schedule.cosine(100))
MU, S = 1.5, 0.5
UNIVARIATE = Gaussian.univariate(torch.tensor(MU, dtype=F64), torch.tensor(S, dtype=F64))
W, MEANS, SDS = np.array([0.3, 0.7]), np.array([-2.0, 1.0]), np.array([0.3, 0.5])
MIXTURE = GaussianMixture.univariate(torch.tensor(W), torch.tensor(MEANS), torch.tensor(SDS))


def test_one_step_ddim_law_matches_the_hand_derivation():
    """One DDIM step from t = T returns x0*(x_T) = mu + sqrt(a) s^2 (x_T - sqrt(a) mu) / v with
    v = a s^2 + 1 - a; for x_T ~ N(0, 1) that is N(mu - a s^2 mu / v, (sqrt(a) s^2 / v)^2)."""
    a = float(DIFFUSION.schedule.alphas_cumprod[-1])
    v = a * S**2 + 1 - a
    law = sampler_output_law(DIFFUSION, UNIVARIATE, plan(DIFFUSION, sampler="ddim", steps=1))
    assert law.event_shape == ()
    np.testing.assert_allclose(float(law.mean), MU - a * S**2 * MU / v, rtol=1e-12)
    # x0 = x / sqrt(a) - sigma eps with sigma_T ~ 2000 cancels ~7 digits in float64
    np.testing.assert_allclose(float(law.stddev), math.sqrt(a) * S**2 / v, rtol=1e-7)


def test_exact_start_law_of_a_single_ddpm_step_from_t_one():
    """From the exact q(x_1), one ddpm step (t = 1 -> 0) returns x0*(x_1) = E[x0 | x_1], whose
    law is N(mu, s^4 a / (a s^2 + 1 - a)) (the variance of a conditional mean)."""
    a = float(DIFFUSION.schedule.alphas_cumprod[1])
    sampler_plan = plan(DIFFUSION, sampler="ddpm", timesteps=[1])
    law = sampler_output_law(DIFFUSION, UNIVARIATE, sampler_plan, start="exact")
    np.testing.assert_allclose(float(law.mean), MU, rtol=1e-12)
    np.testing.assert_allclose(float(law.variance), S**4 * a / (a * S**2 + 1 - a), rtol=1e-9)


def test_evaluate_sampler_gaussian_rows_are_exact_w2_values():
    """Rows: every sampler x steps, metric w2, SE 0, error = the 1-D W2 formula applied to
    the exact output law; euler rows equal ddim rows; errors shrink with steps for ddim."""
    steps = (5, 20, 100)
    rows = evaluate_sampler(DIFFUSION, UNIVARIATE, steps=steps)
    assert [(r.sampler, r.steps) for r in rows] == [(s, n) for s in SAMPLERS for n in steps]
    assert all(isinstance(r, SamplerError) and r.metric == "w2" for r in rows)
    assert all(r.standard_error == 0.0 for r in rows)
    for r in rows:
        law = sampler_output_law(
            DIFFUSION, UNIVARIATE, plan(DIFFUSION, sampler=r.sampler, steps=r.steps)
        )
        expected = math.hypot(float(law.mean) - MU, float(law.stddev) - S)
        assert r.error == pytest.approx(expected, rel=1e-9, abs=1e-12)
    errors = {(r.sampler, r.steps): r.error for r in rows}
    for n in steps:
        assert errors["euler", n] == pytest.approx(errors["ddim", n], rel=1e-9)
    assert errors["ddim", 5] > errors["ddim", 20] > errors["ddim", 100]
    with pytest.raises(AttributeError):
        rows[0].error = 0.0  # frozen


def test_evaluate_sampler_default_steps_stop_at_T():
    rows = evaluate_sampler(Diffusion(Schedule.cosine(30)), UNIVARIATE, samplers=("ddim",))
    assert [r.steps for r in rows] == [10, 20]


@pytest.mark.parametrize("metric", ["sliced_w2", "cross_entropy_gap"])
def test_mixture_metric_detects_a_bad_sampler_and_passes_a_good_one(metric):
    """Heun with 5 steps from sigma_T ~ 2000 is far off (error > 5 SE); DDPM with all 100 steps
    of the optimal model is within 5 SE of zero; rows name the metric."""
    rows = evaluate_sampler(
        DIFFUSION,
        MIXTURE,
        samplers=("heun", "ddpm"),
        steps=(5, 100),
        metric=metric,
        num_samples=3000,
        generator=torch.Generator().manual_seed(0),
    )
    error = {(r.sampler, r.steps): r for r in rows}
    assert all(r.metric == metric and r.standard_error > 0 for r in rows)
    assert error["heun", 5].error > 5 * error["heun", 5].standard_error
    assert abs(error["ddpm", 100].error) < 5 * error["ddpm", 100].standard_error


def test_format_table_lists_every_row():
    rows = [SamplerError("ddim", 10, "w2", 0.125, 0.0), SamplerError("heun", 5, "x", 1.5, 0.25)]
    table = format_table(rows)
    assert table.row_count == 2 and len(table.columns) == 5
    console = Console(width=120, record=True)
    console.print(table)
    text = console.export_text()
    assert "ddim" in text and "1.2500e-01" in text and "exact" in text and "2.50e-01" in text


def mixture_marginal_params(schedule: Schedule, t: int) -> tuple[np.ndarray, np.ndarray]:
    a = float(np.prod(1 - schedule.betas.numpy()[1 : t + 1]))
    return math.sqrt(a) * MEANS, np.sqrt(a * SDS**2 + 1 - a)


def test_forward_trajectory_matches_scipy_densities_bins_and_kl():
    """Exercise 4: the exact density is scipy's mixture pdf; the simulated chain's histogram
    matches the exact bin probabilities within 5 SE per bin; the KL to N(0, 1) matches scipy
    quadrature and shrinks with t."""
    schedule = Schedule.linear(100, 1e-3, 0.1)
    ts = [0, 10, 50, 100]
    n = 20000
    tr = forward_mixture_trajectory(MIXTURE, schedule, ts, n, torch.Generator().manual_seed(1))
    assert tr.ts == tuple(ts) and tr.density.shape == (4, tr.grid.shape[0])
    assert tr.histogram.shape == (4, tr.bin_edges.shape[0] - 1) and tr.samples.shape == (4, n)
    grid, edges = tr.grid.numpy(), tr.bin_edges.numpy()
    width = edges[1] - edges[0]
    kl = []
    for i, t in enumerate(ts):
        means, sds = mixture_marginal_params(schedule, t)

        def pdf(x, means=means, sds=sds):
            return float((W * stats.norm.pdf(x, means, sds)).sum())

        expected = (W * stats.norm.pdf(grid[:, None], means, sds)).sum(1)
        np.testing.assert_allclose(tr.density[i].numpy(), expected, rtol=1e-10, atol=1e-300)
        cdf = (W * stats.norm.cdf(edges[:, None], means, sds)).sum(1)
        p = np.diff(cdf)
        counts = tr.histogram[i].numpy() * n * width
        filled = n * p >= 5  # normal approximation per bin; the sparse tail bins pooled
        se = np.sqrt(n * p * (1 - p))
        assert np.all(np.abs(counts - n * p)[filled] < 5 * se[filled])
        tail_count, tail_mean = counts[~filled].sum(), n * p[~filled].sum()
        assert stats.poisson.sf(tail_count - 1, tail_mean) > 1e-6  # P(N >= count), Poisson
        assert int(tr.outside[i]) == 0
        lo, hi = float(means.min() - 12 * sds.max()), float(means.max() + 12 * sds.max())
        value, _ = integrate.quad(
            lambda x, pdf=pdf: (
                pdf(x) * (math.log(pdf(x)) - stats.norm.logpdf(x)) if pdf(x) > 0 else 0.0
            ),
            lo,
            hi,
            limit=200,
            points=list(means),
        )
        kl.append(value)
    np.testing.assert_allclose(tr.kl_to_standard_normal.numpy(), kl, rtol=1e-6, atol=1e-9)
    assert np.all(np.diff(tr.kl_to_standard_normal.numpy()) < 0)


def test_forward_trajectory_of_one_gaussian_has_the_closed_form_kl():
    """For a one-component 'mixture' q(x_t) is Gaussian: KL to N(0, 1) in closed form."""
    one = GaussianMixture.univariate(
        torch.ones(1, dtype=F64), torch.tensor([2.0], dtype=F64), torch.tensor([0.5], dtype=F64)
    )
    schedule = Schedule.linear(50, 1e-3, 0.2)
    tr = forward_mixture_trajectory(one, schedule, [0, 25, 50], 100)
    for i, t in enumerate((0, 25, 50)):
        a = float(np.prod(1 - schedule.betas.numpy()[1 : t + 1]))
        m, v = math.sqrt(a) * 2.0, a * 0.25 + 1 - a
        expected = 0.5 * (v + m**2 - 1 - math.log(v))
        # trapezoid rule, step 0.006: relative error O(h^2) ~ 1e-7
        assert float(tr.kl_to_standard_normal[i]) == pytest.approx(expected, rel=1e-6)


def test_bad_arguments_raise():
    schedule = Schedule.linear(20)
    with pytest.raises(ValueError, match="ts must be"):
        forward_mixture_trajectory(MIXTURE, schedule, [5, 3], 10)
    with pytest.raises(ValueError, match=r"ts must be in 0\.\.20"):
        forward_mixture_trajectory(MIXTURE, schedule, [0, 21], 10)
    with pytest.raises(ValueError, match="mixture"):
        forward_mixture_trajectory(UNIVARIATE, schedule, [0], 10)
    with pytest.raises(ValueError, match="num_samples"):
        forward_mixture_trajectory(MIXTURE, schedule, [0], 1)
    with pytest.raises(TypeError, match="schedule"):
        forward_mixture_trajectory(MIXTURE, Diffusion(schedule), [0], 10)
    with pytest.raises(ValueError, match="start"):
        evaluate_sampler(DIFFUSION, UNIVARIATE, start="data")
    with pytest.raises(ValueError, match="steps"):
        evaluate_sampler(DIFFUSION, UNIVARIATE, steps=(101,))
    with pytest.raises(ValueError, match="sampler"):
        evaluate_sampler(DIFFUSION, UNIVARIATE, samplers=("plms",))
    with pytest.raises(TypeError, match="data"):
        evaluate_sampler(DIFFUSION, torch.distributions.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match="num_samples"):
        evaluate_sampler(DIFFUSION, MIXTURE, num_samples=1)
