"""Tests for gausslab.diffusion.samplers.

References: Diffusion.p_step (the DDPM step, itself tested against diffusers) run by hand,
diffusers' DDIMScheduler (float32, 0-based: paper t = i + 1), the algebraic identities
ddim(eta=1) = ddpm and euler = ddim(eta=0) checked between different code paths, and the
exact output law of the sampler for Gaussian data (``evaluation.sampler_output_law``) or
the data law itself with Monte Carlo tolerances of 5 standard errors at fixed seeds.
"""

from __future__ import annotations

import math
import warnings
from itertools import pairwise

import pytest
import torch

from gausslab import Gaussian
from gausslab.diffusion import Diffusion, Schedule
from gausslab.diffusion.evaluation import evaluate_sampler
from gausslab.diffusion.ground_truth import optimal_model
from gausslab.diffusion.samplers import SAMPLERS, plan, sample
from gausslab.mixture import GaussianMixture

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from diffusers import DDIMScheduler

F64 = torch.float64
DIFFUSION = Diffusion(Schedule.cosine(50))
GAUSSIAN = Gaussian(
    torch.tensor([1.0, -0.5], dtype=F64), torch.tensor([[0.25, 0.1], [0.1, 0.36]], dtype=F64)
)
MIXTURE = GaussianMixture.univariate(
    torch.tensor([0.3, 0.7], dtype=F64),
    torch.tensor([-1.5, 1.0], dtype=F64),
    torch.tensor([0.3, 0.4], dtype=F64),
)


def nonlinear_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Some fixed non-affine model of (x, t), so identities are checked beyond linear models."""
    scale = (t.to(x.dtype) / 50).reshape(-1, *[1] * (x.ndim - 1))
    return torch.tanh(x * (1 + scale)) + 0.1 * scale


def draws(n: int, shape: tuple[int, ...], seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=F64) for _ in range(n)]


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_ddim_with_eta_one_is_ddpm_on_a_subset(prediction):
    """ddim(eta=1) and ddpm use the same respaced posterior (mean and std) on any subset."""
    x_T = draws(1, (6, 3), seed=1)[0]
    for steps in (7, 50):
        ddpm = plan(DIFFUSION, sampler="ddpm", steps=steps, prediction=prediction)
        ddim = plan(DIFFUSION, sampler="ddim", steps=steps, eta=1.0, prediction=prediction)
        assert ddpm.num_noises == ddim.num_noises == steps - 1
        noise = draws(ddpm.num_noises, (6, 3))
        a = ddpm.run(nonlinear_model, x_T, noise=noise)
        b = ddim.run(nonlinear_model, x_T, noise=noise)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_euler_is_ddim_with_eta_zero(prediction):
    """The probability-flow Euler step in sigma is algebraically DDIM with eta = 0."""
    x_T = draws(1, (5, 2), seed=2)[0]
    for steps in (3, 13, 50):
        kwargs = dict(steps=steps, prediction=prediction, x_T=x_T)
        euler = sample(DIFFUSION, nonlinear_model, (5, 2), sampler="euler", **kwargs)
        ddim = sample(DIFFUSION, nonlinear_model, (5, 2), sampler="ddim", **kwargs)
        torch.testing.assert_close(euler, ddim, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_ddpm_with_all_steps_is_the_p_step_chain(prediction):
    """Full-T ddpm equals x_{t-1} = Diffusion.p_step(model(x_t, t), x_t, t, noise) by hand."""
    x = draws(1, (4, 3), seed=3)[0]
    noise = draws(DIFFUSION.T - 1, (4, 3), seed=4)
    result = sample(DIFFUSION, nonlinear_model, (4, 3), prediction=prediction, x_T=x)
    got = plan(DIFFUSION, prediction=prediction).run(nonlinear_model, x, noise=noise)
    for t in range(DIFFUSION.T, 0, -1):
        tt = torch.full((4,), t)
        z = noise[DIFFUSION.T - t] if t > 1 else torch.zeros_like(x)
        x = DIFFUSION.p_step(nonlinear_model(x, tt), x, tt, prediction=prediction, noise=z)
    torch.testing.assert_close(got, x, rtol=1e-12, atol=1e-12)
    assert result.shape == (4, 3) and torch.isfinite(result).all()


@pytest.mark.parametrize("steps", [1, 5, 10])
def test_ddim_matches_diffusers_ddim_scheduler(steps):
    """Deterministic DDIM on the trailing subset vs diffusers (set_alpha_to_one: final abar = 1)."""
    T = 100
    sched = DDIMScheduler(
        num_train_timesteps=T,
        beta_schedule="linear",
        timestep_spacing="trailing",
        set_alpha_to_one=True,
        clip_sample=False,
    )
    sched.set_timesteps(steps)
    diffusion = Diffusion(Schedule.from_diffusers_config(dict(sched.config)))

    def model(x, t):
        return torch.sin(x) * (t.to(x.dtype) / T).reshape(-1, 1)

    x_T = draws(1, (8, 4), seed=5)[0].float()
    x = x_T.clone()
    for i in sched.timesteps:
        x = sched.step(model(x, torch.full((8,), int(i) + 1)), i, x, eta=0.0).prev_sample
    ours = sample(diffusion, model, (8, 4), sampler="ddim", steps=steps, x_T=x_T)
    assert torch.equal(
        torch.tensor(sched.timesteps.tolist()) + 1, diffusion.schedule.timesteps(steps)
    )
    torch.testing.assert_close(ours, x, rtol=1e-4, atol=1e-4)


def test_ddpm_with_the_optimal_model_reproduces_gaussian_data():
    """Full-T DDPM samples with the exact optimal eps: mean and covariance of the data within 5
    SE (Var of a sample covariance entry = (S_ii S_jj + S_ij^2) / n for Gaussian samples)."""
    diffusion = Diffusion(Schedule.cosine(400))
    n = 4000
    x_T = torch.randn(n, 2, generator=torch.Generator().manual_seed(6), dtype=F64)
    model = optimal_model(diffusion, GAUSSIAN)
    x = sample(diffusion, model, (n, 2), x_T=x_T, generator=torch.Generator().manual_seed(7))
    S = GAUSSIAN.covariance_matrix
    mean_se = (S.diagonal() / n).sqrt()
    assert ((x.mean(0) - GAUSSIAN.mean).abs() < 5 * mean_se).all()
    cov = torch.cov(x.T)
    cov_se = ((S.diagonal()[:, None] * S.diagonal()[None, :] + S**2) / n).sqrt()
    assert ((cov - S).abs() < 5 * cov_se).all()


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_few_step_samples_follow_the_closed_form_output_law(sampler):
    """With few steps the sampler is biased; its Monte Carlo moments match the exact output law
    (affine push-forward of the start and step noises), not the data: 5 SE both ways."""
    from gausslab.diffusion.evaluation import sampler_output_law

    sampler_plan = plan(DIFFUSION, sampler=sampler, steps=4, eta=0.5 if sampler == "ddim" else 0)
    law = sampler_output_law(DIFFUSION, GAUSSIAN, sampler_plan)
    n = 20000
    g = torch.Generator().manual_seed(8)
    x_T = torch.randn(n, 2, generator=g, dtype=F64)
    x = sampler_plan.run(optimal_model(DIFFUSION, GAUSSIAN), x_T, generator=g)
    S = law.covariance_matrix
    assert ((x.mean(0) - law.mean).abs() < 5 * (S.diagonal() / n).sqrt()).all()
    cov_se = ((S.diagonal()[:, None] * S.diagonal()[None, :] + S**2) / n).sqrt()
    assert ((torch.cov(x.T) - S).abs() < 5 * cov_se).all()
    # ... and the bias against the data is real (far more than 5 SE in some variance)
    data_var = GAUSSIAN.covariance_matrix.diagonal()
    assert ((torch.cov(x.T).diagonal() - data_var).abs() > 5 * cov_se.diagonal()).any()


def test_deterministic_samplers_are_reproducible_and_ddpm_follows_the_generator():
    """Same x_T gives bit-identical output for ddim/euler/heun; same seed gives same ddpm."""
    x_T = draws(1, (3, 2), seed=9)[0]
    model = optimal_model(DIFFUSION, GAUSSIAN)
    for name in ("ddim", "euler", "heun"):
        a = sample(DIFFUSION, model, (3, 2), sampler=name, steps=10, x_T=x_T)
        b = sample(DIFFUSION, model, (3, 2), sampler=name, steps=10, x_T=x_T.clone())
        assert torch.equal(a, b)
    runs = [
        sample(DIFFUSION, model, (3, 2), x_T=x_T, generator=torch.Generator().manual_seed(s))
        for s in (1, 1, 2)
    ]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
    assert torch.equal(x_T, draws(1, (3, 2), seed=9)[0])  # x_T is not modified


def test_ode_error_decreases_with_steps_and_heun_converges_faster():
    """Exact W2 to the data from the exact start: decreasing in steps for euler and heun,
    Euler's order ~1 (error halves when steps double), Heun's at least ~2."""
    diffusion = Diffusion(Schedule.linear(200, 1e-4, 0.1))
    steps = (10, 20, 40, 80)
    rows = evaluate_sampler(
        diffusion, GAUSSIAN, samplers=("euler", "heun"), steps=steps, start="exact"
    )
    err = {(r.sampler, r.steps): r.error for r in rows}
    for name in ("euler", "heun"):
        assert all(err[name, a] > err[name, b] for a, b in pairwise(steps))
    euler_order = math.log2(err["euler", 40] / err["euler", 80])
    heun_order = math.log2(err["heun", 40] / err["heun", 80])
    assert 0.7 < euler_order < 1.3 and heun_order > 1.6
    assert err["heun", 80] < err["euler", 80] / 10


def test_optimal_model_sampler_recovers_mixture_weights_and_means():
    """Heun with the exact optimal model on a 1-D mixture: E_q[p(k|x)] = w_k and
    E_q[x p(k|x)] = w_k mu_k (both hold exactly under the data law), within 5 SE."""
    diffusion = Diffusion(Schedule.cosine(200))
    n = 6000
    g = torch.Generator().manual_seed(10)
    x_T = torch.randn(n, generator=g, dtype=F64)
    x = sample(diffusion, optimal_model(diffusion, MIXTURE), (n,), sampler="heun", x_T=x_T)
    r = MIXTURE.component_posterior(x)
    weights = MIXTURE.weights
    means = MIXTURE.components.loc
    se_w = r.std(0) / math.sqrt(n)
    assert ((r.mean(0) - weights).abs() < 5 * se_w).all()
    first = x[:, None] * r
    assert ((first.mean(0) - weights * means).abs() < 5 * first.std(0) / math.sqrt(n)).all()


def test_v_and_x0_predictions_sample_like_eps():
    """The optimal model in each parametrization drives the same deterministic sampler."""
    x_T = draws(1, (4, 2), seed=11)[0]
    out = [
        sample(
            DIFFUSION,
            optimal_model(DIFFUSION, GAUSSIAN, p),
            (4, 2),
            sampler="heun",
            steps=8,
            prediction=p,
            x_T=x_T,
        )
        for p in ("eps", "x0", "v")
    ]
    torch.testing.assert_close(out[0], out[1], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out[0], out[2], rtol=1e-10, atol=1e-10)


def test_zero_terminal_snr_with_v_prediction_and_explicit_timesteps():
    """At abar_T = 0, v-prediction DDIM runs (eps-prediction refuses); explicit timesteps
    equal to the trailing subset give the same result as steps=n."""
    diffusion = Diffusion(Schedule.linear(50, 0.01, 0.2).rescale_zero_terminal_snr())
    model = optimal_model(diffusion, GAUSSIAN, "v")
    x_T = draws(1, (3, 2), seed=12)[0]
    a = sample(diffusion, model, (3, 2), sampler="ddim", steps=5, prediction="v", x_T=x_T)
    ts = diffusion.schedule.timesteps(5).tolist()
    b = sample(diffusion, model, (3, 2), sampler="ddim", timesteps=ts, prediction="v", x_T=x_T)
    assert torch.equal(a, b) and torch.isfinite(a).all()
    with pytest.raises(ValueError, match="zero terminal SNR"):
        plan(diffusion, sampler="ddim", prediction="eps")
    with pytest.raises(ValueError, match="zero terminal SNR"):
        plan(diffusion, sampler="euler", prediction="v")


def test_gradients_flow_to_x_T():
    """sample is differentiable in x_T (gradcheck through 4 DDIM steps of the optimal model)."""
    model = optimal_model(DIFFUSION, GAUSSIAN)
    x_T = draws(1, (2, 2), seed=13)[0].requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: sample(DIFFUSION, model, (2, 2), sampler="heun", steps=4, x_T=x), (x_T,)
    )


def test_progress_bar_gives_the_same_result():
    x_T = draws(1, (2, 2), seed=14)[0]
    model = optimal_model(DIFFUSION, GAUSSIAN)
    a = sample(DIFFUSION, model, (2, 2), sampler="ddim", steps=5, x_T=x_T, progress=True)
    b = sample(DIFFUSION, model, (2, 2), sampler="ddim", steps=5, x_T=x_T)
    assert torch.equal(a, b)


def test_default_start_uses_the_generator_and_shape():
    model = optimal_model(
        DIFFUSION, Gaussian(GAUSSIAN.loc.float(), GAUSSIAN.covariance_matrix.float())
    )
    a = sample(DIFFUSION, model, (3, 2), steps=5, generator=torch.Generator().manual_seed(0))
    b = sample(DIFFUSION, model, (3, 2), steps=5, generator=torch.Generator().manual_seed(0))
    assert a.shape == (3, 2) and a.dtype == torch.get_default_dtype() and torch.equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(sampler="plms"), "sampler"),
        (dict(steps=0), "steps"),
        (dict(steps=51), "steps"),
        (dict(steps=2.5), "steps"),
        (dict(timesteps=[10, 20]), "timesteps"),
        (dict(timesteps=[50, 50, 3]), "timesteps"),
        (dict(timesteps=[51, 3]), "timesteps"),
        (dict(timesteps=[3, 0]), "timesteps"),
        (dict(timesteps=[]), "timesteps"),
        (dict(timesteps=[[4, 3]]), "timesteps"),
        (dict(steps=5, timesteps=[5, 3]), "steps or timesteps"),
        (dict(prediction="score"), "prediction"),
        (dict(sampler="ddim", eta=1.5), "eta"),
        (dict(sampler="ddpm", eta=0.5), "eta"),
        (dict(shape=(0, 2)), "shape"),
        (dict(shape=3), "shape"),
        (dict(x_T=torch.zeros(3, 3)), "x_T"),
        (dict(x_T=torch.zeros(3, 2, dtype=torch.int64)), "x_T"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, match):
    args = dict(shape=(3, 2), x_T=torch.zeros(3, 2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sample(DIFFUSION, nonlinear_model, args.pop("shape"), **args)


def test_model_with_the_wrong_output_shape_raises():
    with pytest.raises(ValueError, match=r"model\(x_t, t\) must return"):
        sample(DIFFUSION, lambda x, t: x[:, :1], (3, 2), steps=3, x_T=torch.zeros(3, 2))


def test_wrong_kinds_raise_type_error():
    with pytest.raises(TypeError, match="diffusion"):
        sample(object(), nonlinear_model, (3, 2))
    with pytest.raises(TypeError, match="model"):
        sample(DIFFUSION, "model", (3, 2), steps=2)
    with pytest.raises(TypeError, match="generator"):
        sample(DIFFUSION, nonlinear_model, (3, 2), steps=2, generator=0)


def test_noise_list_must_match_the_plan():
    sampler_plan = plan(DIFFUSION, steps=4)
    with pytest.raises(ValueError, match="noise must hold 3"):
        sampler_plan.run(nonlinear_model, torch.zeros(2, 2), noise=[torch.zeros(2, 2)])
    with pytest.raises(ValueError, match=r"noise\[2\]"):
        sampler_plan.run(nonlinear_model, torch.zeros(2, 2), noise=[torch.zeros(2, 2)] * 2 + [1])


def test_every_sampler_counts_its_model_calls():
    """Heun evaluates the model twice per step except on the last; the others once."""
    for name in SAMPLERS:
        calls = []
        sampler_plan = plan(DIFFUSION, sampler=name, steps=6)

        def model(x, t, calls=calls):
            calls.append(int(t[0]))
            return torch.zeros_like(x)

        sampler_plan.run(model, torch.zeros(1, 2), generator=torch.Generator().manual_seed(0))
        expected = 6 + (5 if name == "heun" else 0)
        assert len(calls) == sampler_plan.num_model_calls == expected
        assert calls[0] == DIFFUSION.T


# ---------------------------------------------------------------------------- the interface


def test_a_new_sampler_is_one_registered_class():
    """A Sampler subclass with a name is runnable through plan/sample at once: here DDIM
    written as the first-order exponential integrator x_s = (s_s / s_t) x_t + (alpha_s -
    alpha_t s_s / s_t) x0_hat (alpha = sqrt(abar), s = sqrt(1 - abar)), which must equal
    'ddim'. Registering a taken name is refused."""
    from gausslab.diffusion.samplers import REGISTRY, Sampler

    class FirstOrder(Sampler):
        name = "first_order_test"

        def __init__(self, grid, prediction="eps"):
            super().__init__(grid, prediction)
            x0_x, x0_out, _, _ = self.conversion
            alpha = grid.alphas_cumprod.sqrt()
            s = grid.one_minus_alphas_cumprod.sqrt()
            ratio = s[1:] / s[:-1]
            k = alpha[1:] - alpha[:-1] * ratio
            self.coefficients = self.rows(ratio + k * x0_x, k * x0_out)

        def step(self, i, x, out, run):
            a, b = self.coefficients[i]
            return torch.mul(x, a).add_(out, alpha=b)

    try:
        x_T = draws(1, (5, 2), seed=20)[0]
        for prediction in ("eps", "v"):
            kwargs = dict(steps=7, prediction=prediction, x_T=x_T)
            ours = sample(DIFFUSION, nonlinear_model, (5, 2), sampler=FirstOrder.name, **kwargs)
            ddim = sample(DIFFUSION, nonlinear_model, (5, 2), sampler="ddim", **kwargs)
            torch.testing.assert_close(ours, ddim, rtol=1e-12, atol=1e-12)
        with pytest.raises(TypeError, match="sampler name 'ddim' is taken by DDIM"):
            type("Again", (Sampler,), {"name": "ddim", "step": FirstOrder.step})
    finally:
        REGISTRY.pop(FirstOrder.name)
    assert tuple(REGISTRY) == SAMPLERS


def test_draw_noises_gives_common_random_numbers():
    """draw_noises: num_noises standard normal tensors like x_T, the same for the same seed;
    passed to two samplers with equal noise structure (ddpm, ddim with eta = 1) they give the
    same samples, and a deterministic sampler draws none."""
    x_T = draws(1, (4, 2), seed=21)[0]
    ddpm = plan(DIFFUSION, sampler="ddpm", steps=6)
    noise = ddpm.draw_noises(x_T, torch.Generator().manual_seed(3))
    again = ddpm.draw_noises(x_T, torch.Generator().manual_seed(3))
    assert len(noise) == ddpm.num_noises == 5
    assert all(z.shape == x_T.shape and z.dtype == F64 for z in noise)
    assert all(torch.equal(a, b) for a, b in zip(noise, again, strict=True))
    ddim = plan(DIFFUSION, sampler="ddim", steps=6, eta=1.0)
    torch.testing.assert_close(
        ddpm.run(nonlinear_model, x_T, noise=noise),
        ddim.run(nonlinear_model, x_T, noise=noise),
        rtol=1e-12,
        atol=1e-12,
    )
    assert plan(DIFFUSION, sampler="unipc", steps=6).draw_noises(x_T) == []


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_identities_hold_on_the_karras_grid(prediction):
    """On the Karras grid (any grid) euler = ddim(eta=0) and ddim(eta=1) = ddpm, and every
    sampler visits the same timesteps and noise levels."""
    diffusion = Diffusion(Schedule.linear(1000))
    x_T = draws(1, (5, 2), seed=22)[0]
    plans = {
        name: plan(diffusion, sampler=name, steps=9, prediction=prediction, grid="karras")
        for name in SAMPLERS
    }
    for sampler_plan in plans.values():
        assert sampler_plan.timesteps == plans["ddpm"].timesteps
        assert torch.equal(sampler_plan.grid.sigmas, plans["ddpm"].grid.sigmas)
    euler = plans["euler"].run(nonlinear_model, x_T)
    torch.testing.assert_close(
        euler, plans["ddim"].run(nonlinear_model, x_T), rtol=1e-11, atol=1e-11
    )
    ddim1 = plan(diffusion, sampler="ddim", steps=9, eta=1.0, prediction=prediction, grid="karras")
    noise = draws(8, (5, 2), seed=23)
    torch.testing.assert_close(
        ddim1.run(nonlinear_model, x_T, noise=noise),
        plans["ddpm"].run(nonlinear_model, x_T, noise=noise),
        rtol=1e-12,
        atol=1e-12,
    )
