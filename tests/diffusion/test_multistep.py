"""DPM-Solver++ (2M, 3M) and UniPC against diffusers, run directly, and the Karras grid.

Reference: diffusers' DPMSolverMultistepScheduler / UniPCMultistepScheduler with
timestep_spacing="trailing" and final_sigmas_type="zero" (use_karras_sigmas for the Karras
grid), driven by the same model and x_T; the model gets paper t = diffusers' timestep + 1. The
gausslab schedule is built from diffusers' float32 alphas_cumprod, so the two share their
tables and differ only by diffusers' float32 arithmetic in ``step`` (hence 1e-4 in float64).

Cases ported from diffusers' tests/schedulers/test_scheduler_dpm_multi.py and
test_scheduler_unipc.py where they apply (their default "sigma_min" final sigma, thresholding,
the SDE variants and solver_p have no gausslab counterpart): test_inference_steps (the step
counts, with their dummy model x * t / (t + 1)), test_custom_timesteps (custom timesteps equal
to the default ones give the same sample, |diff| summed < 1e-5), test_duplicated_timesteps
(T steps give T timesteps), test_fp16_support (a float16 sample stays float16),
test_full_loop_with_karras(_and_v_prediction) and test_solver_order_and_type (no NaN) become
parity checks against diffusers itself.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from gausslab import Gaussian
from gausslab.diffusion import Diffusion, Schedule
from gausslab.diffusion.samplers import Run, plan
from gausslab.diffusion.samplers.grid import Grid

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from diffusers import DPMSolverMultistepScheduler, UniPCMultistepScheduler

F64 = torch.float64
DATA = Gaussian(
    torch.tensor([1.0, -0.5], dtype=F64), torch.tensor([[0.25, 0.1], [0.1, 0.36]], dtype=F64)
)
SOLVERS = {
    "dpmpp2m": (DPMSolverMultistepScheduler, {"solver_order": 2}),
    "dpmpp3m": (DPMSolverMultistepScheduler, {"solver_order": 3}),
    "unipc": (UniPCMultistepScheduler, {}),
}
PREDICTION_TYPES = {"eps": "epsilon", "v": "v_prediction", "x0": "sample"}


def scheduler(name: str, prediction: str = "eps", **config):
    cls, options = SOLVERS[name]
    return cls(
        num_train_timesteps=config.pop("T", 1000),
        beta_schedule=config.pop("beta_schedule", "linear"),
        timestep_spacing="trailing",
        final_sigmas_type="zero",
        prediction_type=PREDICTION_TYPES[prediction],
        **options,
        **config,
    )


def shared_diffusion(sched) -> Diffusion:
    """The gausslab process on diffusers' own float32 alphas_cumprod (paper t = index + 1)."""
    abar = sched.alphas_cumprod.double()
    return Diffusion(Schedule.from_betas(1 - abar / torch.cat([abar.new_ones(1), abar[:-1]])))


def diffusers_loop(sched, model, x_T, steps=None, **set_timesteps):
    """diffusers' sampling loop; returns the sample and the paper timesteps it visited."""
    sched.set_timesteps(steps, **set_timesteps)
    x = x_T
    for t in sched.timesteps:
        x = sched.step(model(x, torch.full((x.shape[0],), int(t) + 1)), t, x).prev_sample
    return x, tuple((sched.timesteps + 1).tolist())


def x_start(shape=(64, 2), seed=0, dtype=F64):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
@pytest.mark.parametrize("grid", ["uniform", "karras"])
def test_parity_with_diffusers_on_the_optimal_model(name, prediction, grid):
    """Same optimal model of Gaussian data, same x_T, float64: the samples agree to 1e-4 and
    the visited timesteps are identical, for 1 to 50 steps (warm-up, lower order at the end)."""
    for steps in (1, 2, 3, 5, 10, 25, 50):
        sched = scheduler(name, prediction, use_karras_sigmas=grid == "karras")
        diffusion = shared_diffusion(sched)
        model = diffusion.optimal_model(DATA, prediction)
        x_T = x_start(seed=steps)
        theirs, visited = diffusers_loop(sched, model, x_T, steps)
        sampler = plan(diffusion, sampler=name, steps=steps, prediction=prediction, grid=grid)
        assert sampler.timesteps == visited
        ours = sampler.run(model, x_T)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", SOLVERS)
def test_karras_parity_on_the_stable_diffusion_schedule(name):
    """scaled_linear (Stable Diffusion) with Karras sigmas, eps prediction."""
    for steps in (4, 20):
        sched = scheduler(name, beta_schedule="scaled_linear", use_karras_sigmas=True)
        diffusion = shared_diffusion(sched)
        model = diffusion.optimal_model(DATA)
        theirs, visited = diffusers_loop(sched, model, x_start(), steps)
        sampler = plan(diffusion, sampler=name, steps=steps, grid="karras")
        assert sampler.timesteps == visited
        torch.testing.assert_close(sampler.run(model, x_start()), theirs, rtol=0, atol=1e-4)
        np.testing.assert_allclose(sampler.grid.sigmas, sched.sigmas.double(), rtol=1e-6)


def dummy_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """diffusers' dummy model, sample * t / (t + 1) with their 0-based t = paper t - 1."""
    t0 = (t - 1).to(x.dtype).reshape(-1, *[1] * (x.ndim - 1))
    return x * t0 / (t0 + 1)


def dummy_sample_deter(dtype=torch.float32) -> torch.Tensor:
    """diffusers' deterministic test sample (batch 4, channels 3, 8 x 8)."""
    n = 4 * 3 * 8 * 8
    return (torch.arange(n).reshape(3, 8, 8, 4) / n).permute(3, 0, 1, 2).to(dtype)


@pytest.mark.parametrize("name", SOLVERS)
def test_inference_steps_from_diffusers_tests(name):
    """diffusers' step counts (test_inference_steps) with their dummy model and sample: our
    float64 run agrees with theirs (float32) to 1e-4, and never yields NaN."""
    for steps in (1, 2, 3, 5, 10, 50, 100, 999, 1000):
        sched = scheduler(name)
        diffusion = shared_diffusion(sched)
        theirs, visited = diffusers_loop(sched, dummy_model, dummy_sample_deter(), steps)
        sampler = plan(diffusion, sampler=name, steps=steps)
        assert sampler.timesteps == visited
        ours = sampler.run(dummy_model, dummy_sample_deter(F64))
        assert not torch.isnan(ours).any()
        torch.testing.assert_close(ours.float(), theirs, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", SOLVERS)
def test_custom_timesteps_equal_to_the_default_give_the_same_sample(name):
    """(test_custom_timesteps) timesteps= the trailing subset == steps=n, and for DPM-Solver++
    an irregular subset agrees with diffusers' set_timesteps(timesteps=...)."""
    diffusion = shared_diffusion(scheduler(name))
    default = plan(diffusion, sampler=name, steps=10)
    custom = plan(diffusion, sampler=name, timesteps=list(default.timesteps))
    x = dummy_sample_deter(F64)
    assert torch.sum(torch.abs(default.run(dummy_model, x) - custom.run(dummy_model, x))) < 1e-5
    if name == "unipc":  # UniPCMultistepScheduler takes no custom timesteps
        return
    subset = [1000, 870, 600, 512, 300, 101, 37, 5]
    model = diffusion.optimal_model(DATA)
    sched = scheduler(name)
    theirs, visited = diffusers_loop(sched, model, x_start(), timesteps=[t - 1 for t in subset])
    assert visited == tuple(subset)
    ours = plan(diffusion, sampler=name, timesteps=subset).run(model, x_start())
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4)


@pytest.mark.parametrize("name", SOLVERS)
def test_all_T_steps_visit_every_timestep_once(name):
    """(test_duplicated_timesteps) steps = T gives T distinct timesteps T..1."""
    diffusion = Diffusion(Schedule.linear(50))
    sampler = plan(diffusion, sampler=name, steps=50)
    assert sampler.timesteps == tuple(range(50, 0, -1))


@pytest.mark.parametrize("name", SOLVERS)
def test_float16_samples_stay_float16(name):
    """(test_fp16_support) a float16 sample runs in float16 and comes back float16."""
    sampler = plan(Diffusion(Schedule.linear(1000)), sampler=name, steps=10)
    out = sampler.run(dummy_model, dummy_sample_deter(torch.float16))
    assert out.dtype == torch.float16 and torch.isfinite(out).all()


def one_step(sampler, model, x):
    """The first step of a sampler alone (grid point 0 -> 1)."""
    run = Run(model, sampler.timesteps, x, None, None)
    return sampler.step(0, x, run.output(x, 0), run)


def test_the_first_multistep_step_is_ddim():
    """Every multistep solver starts at first order: DPM-Solver++(1) and UniP-1 are the DDIM
    update (eta = 0), on both grids."""
    diffusion = Diffusion(Schedule.linear(1000))
    model = diffusion.optimal_model(DATA)
    for grid in ("uniform", "karras"):
        expected = one_step(plan(diffusion, sampler="ddim", steps=8, grid=grid), model, x_start())
        for name in SOLVERS:
            got = one_step(plan(diffusion, sampler=name, steps=8, grid=grid), model, x_start())
            torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- Karras grid


def test_karras_grid_follows_the_rho_7_formula_between_sigma_T_and_sigma_1():
    """sigma_k^(1/7) is linear in k from sigma_T^(1/7) to sigma_1^(1/7) (Karras et al. eq. 5),
    abar_k = 1 / (1 + sigma_k^2), the grid ends at the data, and each t_k is the timestep
    whose sigma brackets sigma_k (checked by bisection on the schedule's own sigmas)."""
    schedule = Schedule.scaled_linear(1000)
    grid = Grid.karras(schedule, 12)
    sigmas = grid.sigmas[:-1]
    root = sigmas ** (1 / 7)
    torch.testing.assert_close(root, torch.linspace(root[0], root[-1], 12, dtype=F64))
    torch.testing.assert_close(sigmas[[0, -1]], schedule.sigmas[[1000, 1]])
    assert grid.sigmas[-1] == 0 and grid.alphas_cumprod[-1] == 1
    torch.testing.assert_close(grid.alphas_cumprod[:-1], 1 / (1 + sigmas**2))
    torch.testing.assert_close(
        grid.alphas_cumprod + grid.one_minus_alphas_cumprod, torch.ones(13, dtype=F64)
    )
    table = schedule.sigmas.numpy()
    for sigma, t in zip(sigmas.tolist(), grid.timesteps.tolist(), strict=True):
        above = int(np.searchsorted(table, sigma))  # first t with sigma_t >= sigma
        assert t in (above - 1, above)


@pytest.mark.parametrize("name", SOLVERS)
def test_zero_terminal_snr_with_v_prediction(name):
    """With abar_T = 0 exactly (rescale_zero_terminal_snr) the solvers stay finite: the first
    step is DDIM from pure noise and the warm-up extrapolations vanish (r = inf). diffusers
    replaces abar_T by 2^-24 (alpha_T = 2^-12, and its table is then no longer monotone, so
    it cannot be shared); the two runs differ by terms of order alpha_T, which the multistep
    extrapolation amplifies by less than 10 (2e-3 measured at 5 steps for 3M)."""
    sched = scheduler(name, "v", rescale_betas_zero_snr=True)
    diffusion = Diffusion(Schedule.linear(1000, 1e-4, 0.02).rescale_zero_terminal_snr())
    assert diffusion.schedule.alphas_cumprod[-1] == 0
    model = diffusion.optimal_model(DATA, "v")
    for steps in (5, 20):
        ours = plan(diffusion, sampler=name, steps=steps, prediction="v").run(model, x_start())
        assert torch.isfinite(ours).all()
        theirs, _ = diffusers_loop(sched, model, x_start(), steps)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=10 * 2.0**-12)
