"""Tests for gausslab.diffusion.process (DiffusionProcess, via Diffusion).

References are independent of the code under test: tables recomputed at 40 digits with mpmath
from the betas alone, the affine composition of single steps, Bayes' rule through
``gausslab.product``, improved-diffusion's formulas rewritten in numpy (0-based: index i is
paper t = i + 1), diffusers' DDPMScheduler (float32, 0-based), and Monte Carlo with tolerances
of 5 standard errors at fixed seeds.
"""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
import torch

import gausslab
from gausslab.covariance import Diagonal, Isotropic
from gausslab.diffusion import Diffusion, Schedule

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from diffusers import DDPMScheduler

SCHEDULES = {
    "linear": Schedule.linear(1000),
    "cosine": Schedule.cosine(200),
    "short": Schedule.linear(10, 0.05, 0.3),
    "zero_snr": Schedule.linear(50, 0.01, 0.2).rescale_zero_terminal_snr(),
}


def reference_tables(schedule: Schedule) -> dict[str, np.ndarray]:
    """Paper-indexed tables (length T + 1) at 40 digits from the betas alone, as float64.

    abar_t = prod_{s<=t} (1 - beta_s); posterior (t >= 2) by Bayes' rule in precision form:
    1 / var = alpha_t / beta_t + 1 / (1 - abar_{t-1}),
    mean = var * (sqrt(alpha_t) / beta_t * x_t + sqrt(abar_{t-1}) / (1 - abar_{t-1}) * x0),
    so coef1 = var sqrt(abar_{t-1}) / (1 - abar_{t-1}), coef2 = var sqrt(alpha_t) / beta_t.
    Entries where a formula does not apply (alpha, beta at t = 0; the posterior at t <= 1)
    are NaN.
    """
    with mpmath.workdps(40):
        betas = [mpmath.mpf(float(b)) for b in schedule.betas[1:]]
        abar = [mpmath.mpf(1)]
        for b in betas:
            abar.append(abar[-1] * (1 - b))
        names = ("alpha", "beta", "post_var", "coef1", "coef2")
        out = {k: [mpmath.mpf("nan")] * len(abar) for k in names}
        out["abar"] = abar
        out["one_minus_abar"] = [1 - v for v in abar]
        for t in range(1, len(abar)):
            beta = betas[t - 1]
            out["alpha"][t], out["beta"][t] = 1 - beta, beta
            if t >= 2:
                var = 1 / ((1 - beta) / beta + 1 / (1 - abar[t - 1]))
                out["post_var"][t] = var
                out["coef1"][t] = var * mpmath.sqrt(abar[t - 1]) / (1 - abar[t - 1])
                out["coef2"][t] = var * mpmath.sqrt(1 - beta) / beta
        return {k: np.array([float(v) for v in vals]) for k, vals in out.items()}


def assert_close(actual: torch.Tensor, expected, rtol: float, atol: float = 0.0) -> None:
    expected = torch.as_tensor(np.array(expected), dtype=actual.dtype)
    torch.testing.assert_close(actual, expected.expand_as(actual), rtol=rtol, atol=atol)


def std_of(g: gausslab.Gaussian) -> torch.Tensor:
    """The per-example std of an isotropic Gaussian returned by Diffusion."""
    assert isinstance(g.covariance, Isotropic)
    return g.covariance.std


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- forward process


@pytest.mark.parametrize("name", SCHEDULES)
def test_q_marginal_is_the_composition_of_t_single_steps(name):
    """q(x_t | x_0) equals composing the affine maps x -> sqrt(alpha_s) x + sqrt(beta_s) z for
    s = 1..t (mean factor prod sqrt(alpha_s), variance sum_s beta_s prod_{r>s} alpha_r),
    computed in float64 numpy from the betas alone, for every t = 1..T."""
    schedule = SCHEDULES[name]
    diffusion = Diffusion(schedule)
    betas = schedule.betas.numpy()[1:]
    scale, variance = 1.0, 0.0
    scales, variances = [], []
    for beta in betas:
        scale, variance = scale * math.sqrt(1 - beta), (1 - beta) * variance + beta
        scales.append(scale)
        variances.append(variance)
    T = schedule.T
    x0 = torch.randn(T, 2, 3, generator=generator(0), dtype=torch.float64)
    q = diffusion.q_marginal(x0, torch.arange(1, T + 1))
    assert q.batch_shape == (T,) and q.event_shape == (2, 3)
    assert_close(q.loc, np.array(scales)[:, None, None] * x0.numpy(), rtol=1e-12)
    assert_close(std_of(q), np.sqrt(variances), rtol=1e-12)


def test_q_marginal_matches_monte_carlo_of_single_steps():
    """Simulating t draws from q_step, each from the previous draw, gives mean and variance of
    x_t within 5 standard errors of q_marginal's (sample mean SE = sd / sqrt(N), sample variance
    SE = var sqrt(2 / (N - 1)))."""
    diffusion = Diffusion(SCHEDULES["short"])
    n, t = 20_000, 7
    x0 = torch.tensor([1.5, -0.5], dtype=torch.float64).expand(n, 2)
    torch.manual_seed(1)
    x = x0
    for s in range(1, t + 1):
        x = diffusion.q_step(x, s).sample()
    q = diffusion.q_marginal(x0[:1], t)
    var = std_of(q).square()
    mean_se = (var / n).sqrt()
    assert ((x.mean(0) - q.loc[0]).abs() < 5 * mean_se).all()
    var_se = var * math.sqrt(2 / (n - 1))
    assert ((x.var(0) - var).abs() < 5 * var_se).all()


def test_q_step_is_sqrt_alpha_times_x_with_variance_beta():
    """q_step(x, t) = N(sqrt(1 - beta_t) x, beta_t I) with 40-digit reference tables."""
    schedule = SCHEDULES["cosine"]
    ref = reference_tables(schedule)
    t = torch.tensor([1, 2, 100, 200])
    x = torch.randn(4, 5, generator=generator(2), dtype=torch.float64)
    q = Diffusion(schedule).q_step(x, t)
    i = t.numpy()
    assert_close(q.loc, np.sqrt(ref["alpha"][i])[:, None] * x.numpy(), rtol=1e-14)
    assert_close(std_of(q), np.sqrt(ref["beta"][i]), rtol=1e-14)


def test_q_sample_is_the_marginal_reparameterized():
    """q_sample(x0, t, noise) = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise (40-digit tables)."""
    schedule = SCHEDULES["linear"]
    ref = reference_tables(schedule)
    t = torch.tensor([1, 10, 500, 1000])
    x0 = torch.randn(4, 3, 2, generator=generator(3), dtype=torch.float64)
    noise = torch.randn(4, 3, 2, generator=generator(4), dtype=torch.float64)
    i = t.numpy()
    expected = (
        np.sqrt(ref["abar"][i])[:, None, None] * x0.numpy()
        + np.sqrt(ref["one_minus_abar"][i])[:, None, None] * noise.numpy()
    )
    assert_close(Diffusion(schedule).q_sample(x0, t, noise), expected, rtol=1e-13, atol=1e-15)


def test_q_sample_draws_follow_q_marginal():
    """Fresh q_sample draws (from a generator) have the mean and variance of q_marginal
    within 5 standard errors; the same generator seed gives the same draws."""
    diffusion = Diffusion(SCHEDULES["short"])
    n, t = 40_000, 4
    x0 = torch.full((n, 1), 2.0, dtype=torch.float64)
    x = diffusion.q_sample(x0, t, generator=generator(5))
    assert torch.equal(x, diffusion.q_sample(x0, t, generator=generator(5)))
    q = diffusion.q_marginal(x0[:1], t)
    var = std_of(q).square()
    assert (x.mean() - q.loc[0, 0]).abs() < 5 * (var / n).sqrt()
    assert (x.var() - var).abs() < 5 * var * math.sqrt(2 / (n - 1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_int_t_are_kept(dtype):
    """Outputs keep the input dtype; an int t equals the same t repeated as a (B,) tensor;
    Gaussians have batch shape (B,) and the event shape of x, also for scalar events."""
    diffusion = Diffusion(SCHEDULES["short"])
    x = torch.randn(3, 4, dtype=dtype, generator=generator(6))
    noise = torch.randn(3, 4, dtype=dtype, generator=generator(7))
    t = torch.full((3,), 5)
    assert diffusion.q_sample(x, 5, noise).dtype == dtype
    torch.testing.assert_close(diffusion.q_sample(x, 5, noise), diffusion.q_sample(x, t, noise))
    for method in (diffusion.q_step, diffusion.q_marginal):
        g = method(x, 5)
        assert g.loc.dtype == dtype and g.batch_shape == (3,) and g.event_shape == (4,)
        torch.testing.assert_close(std_of(g), std_of(method(x, t)))
    scalar_events = diffusion.q_marginal(x[:, 0], 5)
    assert scalar_events.batch_shape == (3,) and scalar_events.event_shape == ()


def test_q_sample_is_differentiable():
    """d q_sample / d x0 = sqrt(abar_t) and d / d noise = sqrt(1 - abar_t) (gradcheck too)."""
    diffusion = Diffusion(SCHEDULES["short"])
    x0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    noise = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([2, 9])
    assert torch.autograd.gradcheck(lambda a, b: diffusion.q_sample(a, t, b), (x0, noise))
    diffusion.q_sample(x0, t, noise).sum().backward()
    ref = reference_tables(SCHEDULES["short"])
    i = t.numpy()
    assert_close(x0.grad, np.sqrt(ref["abar"][i])[:, None], rtol=1e-14)
    assert_close(noise.grad, np.sqrt(ref["one_minus_abar"][i])[:, None], rtol=1e-14)


# --------------------------------------------------------------------------- posterior


@pytest.mark.parametrize("name", SCHEDULES)
def test_posterior_tables_match_bayes_at_40_digits(name):
    """posterior_variance, posterior_mean_coef1/2 equal Bayes' rule evaluated at 40 digits
    (see reference_tables) for every t = 2..T; posterior_variance[1] = 0; the clipped log
    variance is log beta_tilde_t for t >= 2 and log beta_tilde_2 at t = 1."""
    schedule = SCHEDULES[name]
    diffusion = Diffusion(schedule)
    ref = reference_tables(schedule)
    assert diffusion.posterior_variance.dtype == torch.float64
    assert diffusion.posterior_variance.shape == (schedule.T + 1,)
    assert_close(diffusion.posterior_variance[2:], ref["post_var"][2:], rtol=1e-13)
    assert_close(diffusion.posterior_mean_coef1[2:], ref["coef1"][2:], rtol=1e-13)
    assert_close(diffusion.posterior_mean_coef2[2:], ref["coef2"][2:], rtol=1e-13, atol=0)
    assert diffusion.posterior_variance[1] == 0
    clipped = diffusion.posterior_log_variance_clipped
    assert_close(clipped[2:], np.log(ref["post_var"][2:]), rtol=1e-13, atol=1e-13)
    assert_close(clipped[1], np.log(ref["post_var"][2]), rtol=1e-13)


@pytest.mark.parametrize("name", ["linear", "cosine", "short"])
def test_q_posterior_is_the_normalized_product_of_likelihood_and_prior(name):
    """Bayes through gausslab.product: q(x_{t-1} | x_t, x_0) is the normalized product of
    q(x_t | x_{t-1}) read as a function of x_{t-1}, N(x_t / sqrt(alpha_t), beta_t / alpha_t),
    and q(x_{t-1} | x_0) = N(sqrt(abar_{t-1}) x_0, 1 - abar_{t-1}), for every t = 2..T, to
    float64 precision (inputs from the 40-digit tables)."""
    schedule = SCHEDULES[name]
    ref = reference_tables(schedule)
    T = schedule.T
    t = torch.arange(2, T + 1)
    x0 = torch.randn(T - 1, 3, generator=generator(8), dtype=torch.float64)
    x_t = torch.randn(T - 1, 3, generator=generator(9), dtype=torch.float64)
    i = t.numpy()
    alpha, beta = torch.from_numpy(ref["alpha"][i]), torch.from_numpy(ref["beta"][i])
    abar_prev = torch.from_numpy(ref["abar"][i - 1])
    one_minus_prev = torch.from_numpy(ref["one_minus_abar"][i - 1])
    likelihood = gausslab.Gaussian.isotropic(
        x_t / alpha.sqrt()[:, None], (beta / alpha).sqrt(), event_ndims=1
    )
    prior = gausslab.Gaussian.isotropic(abar_prev.sqrt()[:, None] * x0, one_minus_prev.sqrt())
    bayes, _ = gausslab.product(likelihood, prior)
    posterior = Diffusion(schedule).q_posterior(x_t, x0, t)
    assert posterior.batch_shape == (T - 1,) and posterior.event_shape == (3,)
    torch.testing.assert_close(posterior.loc, bayes.loc, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(posterior.variance, bayes.variance, rtol=1e-12, atol=0)


def test_q_posterior_at_zero_terminal_snr_is_the_prior_of_x_t_minus_1():
    """With abar_T = 0, x_T carries no information about x_{T-1}, so
    q(x_{T-1} | x_T, x_0) = q(x_{T-1} | x_0) = N(sqrt(abar_{T-1}) x0, 1 - abar_{T-1})."""
    schedule = SCHEDULES["zero_snr"]
    diffusion = Diffusion(schedule)
    T = schedule.T
    x0 = torch.randn(2, 4, generator=generator(10), dtype=torch.float64)
    x_T = torch.randn(2, 4, generator=generator(11), dtype=torch.float64)
    posterior = diffusion.q_posterior(x_T, x0, T)
    prior = diffusion.q_marginal(x0, T - 1)
    torch.testing.assert_close(posterior.loc, prior.loc, rtol=1e-14, atol=0)
    torch.testing.assert_close(std_of(posterior), std_of(prior), rtol=1e-14, atol=0)


def test_q_posterior_matches_monte_carlo_of_the_joint():
    """Draw (x_{t-1}, x_t) from the forward chain given x_0, keep the pairs whose x_t falls in a
    narrow window around a value; their x_{t-1} mean and variance match q_posterior within
    5 standard errors plus the window's own bias bound (coef2 * half-width for the mean)."""
    diffusion = Diffusion(SCHEDULES["short"])
    n, t, x0_value, x_t_value, half_width = 400_000, 3, 0.7, 0.2, 0.01
    x0 = torch.full((n, 1), x0_value, dtype=torch.float64)
    x_prev = diffusion.q_sample(x0, t - 1, generator=generator(12))
    x_t = diffusion.q_step(x_prev, t).sample()
    keep = (x_t[:, 0] - x_t_value).abs() < half_width
    kept = x_prev[keep, 0]
    m = kept.numel()
    assert m > 1000
    posterior = diffusion.q_posterior(torch.tensor([[x_t_value]], dtype=torch.float64), x0[:1], t)
    var = std_of(posterior).square()[0]
    # Conditioning on a window instead of a point moves the mean by at most coef2 * half_width
    # and adds at most (coef2 * half_width)^2 to the variance.
    bias = diffusion.posterior_mean_coef2[t] * half_width
    assert (kept.mean() - posterior.loc[0, 0]).abs() < 5 * (var / m).sqrt() + bias
    assert (kept.var() - var).abs() < 5 * var * math.sqrt(2 / (m - 1)) + bias**2


# --------------------------------------------------------------------------- conversions


@pytest.mark.parametrize("name", SCHEDULES)
def test_conversions_are_mutually_inverse_in_float64(name):
    """At every t = 1..T (float64): x0 -> eps -> x0, eps -> x0 -> eps, (x0, eps) -> v -> x0 and
    -> eps, eps -> score -> eps round-trip to float64 precision; x_t = sqrt(abar) x0 +
    sqrt(1 - abar) eps holds for the converted pair; to_x0_eps agrees for all three
    predictions. (At abar_T = 0, eps determines nothing about x0; that t is left out there.)"""
    schedule = SCHEDULES[name]
    diffusion = Diffusion(schedule)
    ref = reference_tables(schedule)
    T = schedule.T if schedule.alphas_cumprod[-1] > 0 else schedule.T - 1
    t = torch.arange(1, T + 1)
    x0 = torch.randn(T, 3, generator=generator(13), dtype=torch.float64)
    eps = torch.randn(T, 3, generator=generator(14), dtype=torch.float64)
    a = torch.from_numpy(np.sqrt(ref["abar"][1 : T + 1]))[:, None]
    s = torch.from_numpy(np.sqrt(ref["one_minus_abar"][1 : T + 1]))[:, None]
    x_t = a * x0 + s * eps
    # Rounding x_t is amplified by 1 / sqrt(abar) (x0) and 1 / sqrt(1 - abar) (eps).
    tol = {"rtol": 0, "atol": 1e-14 * float((1 / a).max() + (1 / s).max())}
    torch.testing.assert_close(diffusion.predict_x0_from_eps(x_t, t, eps), x0, **tol)
    torch.testing.assert_close(diffusion.predict_eps_from_x0(x_t, t, x0), eps, **tol)
    v = diffusion.v_from_x0_eps(x0, eps, t)
    torch.testing.assert_close(v, a * eps - s * x0, rtol=0, atol=1e-14)
    torch.testing.assert_close(diffusion.predict_x0_from_v(x_t, t, v), x0, rtol=0, atol=1e-14)
    torch.testing.assert_close(diffusion.predict_eps_from_v(x_t, t, v), eps, rtol=0, atol=1e-14)
    score = diffusion.score_from_eps(eps, t)
    torch.testing.assert_close(score, -eps / s, rtol=1e-15, atol=0)
    torch.testing.assert_close(diffusion.eps_from_score(score, t), eps, rtol=1e-15, atol=0)
    for prediction, output in (("eps", eps), ("x0", x0), ("v", v)):
        got_x0, got_eps = diffusion.to_x0_eps(output, x_t, t, prediction)
        torch.testing.assert_close(got_x0, x0, **tol)
        torch.testing.assert_close(got_eps, eps, **tol)


def test_v_prediction_at_zero_terminal_snr():
    """At abar_T = 0, x_T = eps and v = -x0: v-prediction recovers both exactly."""
    schedule = SCHEDULES["zero_snr"]
    diffusion = Diffusion(schedule)
    x0 = torch.randn(2, 3, generator=generator(15), dtype=torch.float64)
    eps = torch.randn(2, 3, generator=generator(16), dtype=torch.float64)
    T = schedule.T
    x_T = diffusion.q_sample(x0, T, eps)
    assert torch.equal(x_T, eps)
    v = diffusion.v_from_x0_eps(x0, eps, T)
    assert torch.equal(v, -x0)
    got_x0, got_eps = diffusion.to_x0_eps(v, x_T, T, "v")
    assert torch.equal(got_x0, x0) and torch.equal(got_eps, eps)


# --------------------------------------------------------------------------- reverse process


def improved_diffusion_tables(betas: np.ndarray) -> dict[str, np.ndarray]:
    """improved-diffusion's GaussianDiffusion tables (0-based, index i = paper t - 1),
    written out here in numpy from its published formulas."""
    alphas = 1.0 - betas
    alphas_cumprod = np.cumprod(alphas)
    alphas_cumprod_prev = np.append(1.0, alphas_cumprod[:-1])
    posterior_variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
    return {
        "posterior_variance": posterior_variance,
        "posterior_log_variance_clipped": np.log(
            np.append(posterior_variance[1], posterior_variance[1:])
        ),
        "posterior_mean_coef1": betas * np.sqrt(alphas_cumprod_prev) / (1.0 - alphas_cumprod),
        "posterior_mean_coef2": (1.0 - alphas_cumprod_prev)
        * np.sqrt(alphas)
        / (1.0 - alphas_cumprod),
        "fixed_large_variance": np.append(posterior_variance[1], betas[1:]),
        "log_betas": np.log(betas),
        "alphas_cumprod": alphas_cumprod,
    }


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_posterior_tables_match_improved_diffusion(name):
    """The four posterior tables equal improved-diffusion's (shifted by one: paper t = i + 1)."""
    schedule = SCHEDULES[name]
    diffusion = Diffusion(schedule)
    ours = {
        "posterior_variance": diffusion.posterior_variance,
        "posterior_log_variance_clipped": diffusion.posterior_log_variance_clipped,
        "posterior_mean_coef1": diffusion.posterior_mean_coef1,
        "posterior_mean_coef2": diffusion.posterior_mean_coef2,
    }
    theirs = improved_diffusion_tables(schedule.betas.numpy()[1:])
    for key, table in ours.items():
        # numpy's 1 - cumprod cancels at small t: a relative error of ~ eps / (1 - abar_1).
        assert_close(table[1:], theirs[key], rtol=1e-11, atol=1e-16)


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large", "learned_range"])
def test_p_mean_variance_matches_improved_diffusion(prediction, variance):
    """p_theta(x_{t-1} | x_t) mean and variance equal improved-diffusion's p_mean_variance
    (x0 from the prediction, clipped to [-1, 1], posterior mean; fixed variances with the
    t = 1 entry beta_tilde_2; learned_range interpolating log variances by (v + 1) / 2),
    recomputed in numpy, at t = 1, 2, T/2 and T in one batch."""
    schedule = SCHEDULES["cosine"]
    diffusion = Diffusion(schedule)
    tables = improved_diffusion_tables(schedule.betas.numpy()[1:])
    t = torch.tensor([1, 2, 100, 200])
    i = (t - 1).numpy()[:, None, None]
    shape = (4, 2, 3)
    x_t = torch.randn(shape, generator=generator(17), dtype=torch.float64)
    output = torch.randn(shape, generator=generator(18), dtype=torch.float64)
    frac = torch.rand(shape, generator=generator(19), dtype=torch.float64) * 2 - 1
    abar = tables["alphas_cumprod"][i]
    xt, out = x_t.numpy(), output.numpy()
    if prediction == "eps":
        x0 = np.sqrt(1 / abar) * xt - np.sqrt(1 / abar - 1) * out
    elif prediction == "x0":
        x0 = out
    else:
        x0 = np.sqrt(abar) * xt - np.sqrt(1 - abar) * out
    x0 = np.clip(x0, -1, 1)
    mean = tables["posterior_mean_coef1"][i] * x0 + tables["posterior_mean_coef2"][i] * xt
    if variance == "fixed_small":
        log_var = np.broadcast_to(tables["posterior_log_variance_clipped"][i], shape)
    elif variance == "fixed_large":
        log_var = np.broadcast_to(np.log(tables["fixed_large_variance"])[i], shape)
    else:
        weight = (frac.numpy() + 1) / 2
        low, high = tables["posterior_log_variance_clipped"][i], tables["log_betas"][i]
        log_var = weight * high + (1 - weight) * low
        output = torch.cat([output, frac], dim=1)
    p = diffusion.p_mean_variance(
        output, x_t, t, prediction=prediction, variance=variance, clip_x0=1.0
    )
    assert p.batch_shape == (4,) and p.event_shape == (2, 3)
    expected_structure = Diagonal if variance == "learned_range" else Isotropic
    assert isinstance(p.covariance, expected_structure)
    assert_close(p.loc, mean, rtol=1e-10, atol=1e-12)
    assert_close(p.variance.log(), log_var, rtol=1e-10, atol=1e-12)


DIFFUSERS_PREDICTION = {"epsilon": "eps", "sample": "x0", "v_prediction": "v"}


def float64_ddpm_scheduler(**config) -> DDPMScheduler:
    """diffusers' DDPMScheduler with its alphas_cumprod rebuilt in float64 by its own recipe
    (cumprod of 1 - linspace(beta_start, beta_end, T)); its float32 tables lose up to
    eps32 / (1 - abar_t) ~ 6e-4 relative at small t, which would swamp the comparison."""
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", **config)
    cfg = scheduler.config
    betas = torch.linspace(cfg.beta_start, cfg.beta_end, cfg.num_train_timesteps)
    scheduler.alphas_cumprod = torch.cumprod(1.0 - betas.double(), dim=0)
    scheduler.one = torch.tensor(1.0, dtype=torch.float64)
    return scheduler


@pytest.mark.parametrize("prediction_type", list(DIFFUSERS_PREDICTION))
@pytest.mark.parametrize("variance_type", ["fixed_small", "fixed_large", "learned_range"])
@pytest.mark.parametrize("clip", [False, True])
def test_p_step_matches_diffusers_ddpm_step(prediction_type, variance_type, clip):
    """p_step with noise drawn from a seeded generator equals DDPMScheduler.step with the same
    generator seed (its 0-based timestep i = paper t - 1) at paper t = 1 (no noise), 2, 500 and
    1000, and its pred_original_sample equals to_x0_eps's x0 (clipped to [-1, 1] with
    clip_sample); float64, the diffusers schedule from diffusers' own betas."""
    scheduler = float64_ddpm_scheduler(
        variance_type=variance_type, prediction_type=prediction_type, clip_sample=clip
    )
    diffusion = Diffusion(Schedule.from_diffusers_config(scheduler.config))
    prediction = DIFFUSERS_PREDICTION[prediction_type]
    shape = (2, 3, 4, 4)
    for t in (1, 2, 500, 1000):
        x_t = torch.randn(shape, generator=generator(t), dtype=torch.float64)
        output = torch.randn(shape, generator=generator(t + 1), dtype=torch.float64)
        if variance_type == "learned_range":
            frac = torch.rand(shape, generator=generator(t + 2), dtype=torch.float64) * 2 - 1
            output = torch.cat([output, frac], dim=1)
        theirs = scheduler.step(output, t - 1, x_t, generator=generator(t + 3))
        noise = torch.randn(shape, generator=generator(t + 3), dtype=torch.float64)
        ours = diffusion.p_step(
            output,
            x_t,
            t,
            prediction=prediction,
            variance=variance_type,
            clip_x0=1.0 if clip else None,
            noise=noise,
        )
        # diffusers' betas are float32 linspace values: relative differences ~ 1e-8 remain.
        torch.testing.assert_close(ours, theirs.prev_sample, rtol=1e-6, atol=1e-7)
        x0, _ = diffusion.to_x0_eps(output[:, :3], x_t, t, prediction)
        if clip:
            x0 = x0.clamp(-1, 1)
        torch.testing.assert_close(x0, theirs.pred_original_sample, rtol=1e-6, atol=1e-7)


def test_posterior_variance_matches_diffusers():
    """posterior_variance[t] equals DDPMScheduler._get_variance(t - 1) (fixed_small) for
    t = 2..T, with diffusers' float64-rebuilt schedule."""
    scheduler = float64_ddpm_scheduler(variance_type="fixed_small")
    diffusion = Diffusion(Schedule.from_diffusers_config(scheduler.config))
    theirs = torch.stack([scheduler._get_variance(i) for i in range(1, 1000)])
    torch.testing.assert_close(diffusion.posterior_variance[2:], theirs, rtol=1e-6, atol=0)


def test_p_step_adds_no_noise_at_t_equal_1():
    """At t = 1 p_step returns the mean (per example in a mixed batch); elsewhere
    mean + sigma_t * noise."""
    diffusion = Diffusion(SCHEDULES["short"])
    x_t = torch.randn(3, 5, generator=generator(30), dtype=torch.float64)
    output = torch.randn(3, 5, generator=generator(31), dtype=torch.float64)
    noise = torch.randn(3, 5, generator=generator(32), dtype=torch.float64)
    t = torch.tensor([1, 4, 1])
    p = diffusion.p_mean_variance(output, x_t, t)
    step = diffusion.p_step(output, x_t, t, noise=noise)
    torch.testing.assert_close(step[[0, 2]], p.loc[[0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(step[1], p.loc[1] + p.stddev[1] * noise[1])
    at_one = diffusion.p_mean_variance(output, x_t, 1)
    assert torch.equal(diffusion.p_step(output, x_t, 1, noise=noise), at_one.loc)


def test_p_step_draws_follow_p_mean_variance():
    """Fresh p_step draws from a generator have p_mean_variance's mean and variance within
    5 standard errors."""
    diffusion = Diffusion(SCHEDULES["short"])
    n = 40_000
    x_t = torch.full((n, 1), 0.3, dtype=torch.float64)
    output = torch.full((n, 1), -0.4, dtype=torch.float64)
    draws = diffusion.p_step(output, x_t, 6, generator=generator(33), variance="fixed_large")
    p = diffusion.p_mean_variance(output[:1], x_t[:1], 6, variance="fixed_large")
    var = p.variance[0, 0]
    assert (draws.mean() - p.loc[0, 0]).abs() < 5 * (var / n).sqrt()
    assert (draws.var() - var).abs() < 5 * var * math.sqrt(2 / (n - 1))


# --------------------------------------------------------------------------- training loss


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_training_loss_is_zero_for_the_oracle(prediction):
    """A model that recovers the target from x_t and the known x0 (with 40-digit tables,
    independently of the code under test) has loss ~ 0; it receives t as an int64 (B,) tensor
    in 1..T; the per-example losses ('none') average to the scalar ('mean')."""
    schedule = SCHEDULES["cosine"]
    ref = reference_tables(schedule)
    diffusion = Diffusion(schedule)
    x0 = torch.randn(64, 2, 3, generator=generator(34), dtype=torch.float64)
    seen = []

    def oracle(x_t, t):
        seen.append(t)
        a = torch.from_numpy(np.sqrt(ref["abar"]))[t][:, None, None]
        s = torch.from_numpy(np.sqrt(ref["one_minus_abar"]))[t][:, None, None]
        eps = (x_t - a * x0) / s
        return {"eps": eps, "x0": x0, "v": a * eps - s * x0}[prediction]

    loss = diffusion.training_loss(oracle, x0, generator=generator(35), prediction=prediction)
    assert loss.shape == () and loss < 1e-20
    t = seen[0]
    assert t.dtype == torch.int64 and t.shape == (64,)
    assert int(t.min()) >= 1 and int(t.max()) <= schedule.T
    per_example = diffusion.training_loss(
        oracle, x0, 7, generator=generator(36), prediction=prediction, reduction="none"
    )
    assert per_example.shape == (64,) and (per_example < 1e-20).all()
    assert torch.equal(seen[-1], torch.full((64,), 7))


def test_training_loss_of_the_zero_model_is_the_noise_second_moment():
    """With model = 0 the eps loss is mean(eps^2), whose expectation is 1: within 5 SE
    (SE = sqrt(2 / N) for N standard normal squares); passing the noise gives exactly
    mean(noise^2)."""
    diffusion = Diffusion(SCHEDULES["short"])
    x0 = torch.randn(500, 40, generator=generator(37), dtype=torch.float64)

    def zero(x_t, t):
        return torch.zeros_like(x_t)

    loss = diffusion.training_loss(zero, x0, generator=generator(38))
    assert (loss - 1).abs() < 5 * math.sqrt(2 / x0.numel())
    noise = torch.randn(500, 40, generator=generator(39), dtype=torch.float64)
    torch.testing.assert_close(
        diffusion.training_loss(zero, x0, 3, noise=noise), noise.square().mean()
    )


def test_training_loss_draws_t_uniformly():
    """t=None draws t uniformly on 1..T: every value appears, and the counts pass a chi-square
    bound (statistic below the 0.9999 quantile for T - 1 degrees of freedom)."""
    from scipy.stats import chi2

    diffusion = Diffusion(SCHEDULES["short"])
    n = 20_000
    seen = []
    diffusion.training_loss(
        lambda x, t: seen.append(t) or torch.zeros_like(x),
        torch.zeros(n, 1),
        generator=generator(40),
    )
    counts = torch.bincount(seen[0], minlength=11)[1:].double()
    assert counts.shape == (10,) and (counts > 0).all() and seen[0].min() >= 1
    statistic = ((counts - n / 10) ** 2 / (n / 10)).sum()
    assert statistic < chi2.ppf(0.9999, 9)


# --------------------------------------------------------------------------- errors


def _diffusion() -> Diffusion:
    return Diffusion(SCHEDULES["short"])


X = torch.zeros(2, 3)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda d: d.q_sample(X, 0), "t"),
        (lambda d: d.q_sample(X, 11), "t"),
        (lambda d: d.q_sample(X, 1.5), "t"),
        (lambda d: d.q_sample(X, True), "t"),
        (lambda d: d.q_sample(X, torch.tensor([1.0, 2.0])), "t"),
        (lambda d: d.q_sample(X, torch.tensor([1, 2, 3])), "t"),
        (lambda d: d.q_sample(X, torch.tensor([[1, 2]])), "t"),
        (lambda d: d.q_marginal(X, torch.tensor([0, 2])), "t"),
        (lambda d: d.q_step(X, 11), "t"),
        (lambda d: d.q_sample(torch.zeros(2, 3, dtype=torch.int64), 1), "x0"),
        (lambda d: d.q_sample([[0.0]], 1), "x0"),
        (lambda d: d.q_step(torch.zeros(()), 1), "x_prev"),
        (lambda d: d.q_sample(X, 1, torch.zeros(2, 4)), "noise"),
        (lambda d: d.q_posterior(X, torch.zeros(3, 3), 2), "x0"),
        (lambda d: d.predict_x0_from_eps(X, 1, torch.zeros(2)), "eps"),
        (lambda d: d.score_from_eps(X, torch.tensor([1])), "t"),
        (lambda d: d.to_x0_eps(X, X, 1, "epsilon"), "prediction"),
        (lambda d: d.p_mean_variance(X, X, 2, prediction="score"), "prediction"),
        (lambda d: d.p_mean_variance(X, X, 2, variance="learned"), "variance"),
        (lambda d: d.p_mean_variance(X, X, 2, variance="learned_range"), "model_output"),
        (lambda d: d.p_mean_variance(torch.zeros(2, 4), X, 2), "model_output"),
        (lambda d: d.p_mean_variance(X, X, 2, clip_x0=-1.0), "clip_x0"),
        (lambda d: d.p_step(X, X, 2, noise=torch.zeros(3)), "noise"),
        (lambda d: d.training_loss(lambda x, t: x[:1], X), "model"),
        (lambda d: d.training_loss(lambda x, t: x, X, prediction="y"), "prediction"),
        (lambda d: d.training_loss(lambda x, t: x, X, reduction="sum"), "reduction"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, argument):
    """Every bad argument raises ValueError whose message names the argument."""
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call(_diffusion())


def test_q_posterior_at_t_equal_1_explains_the_point_mass():
    """q_posterior refuses t = 1 (also inside a batch) and says the posterior is the point mass
    x0, covered by the decoder term; t = 0 gets the plain range message."""
    d = _diffusion()
    for t in (1, torch.tensor([3, 1])):
        with pytest.raises(ValueError, match=r"t must be in 2\.\.T.*point mass.*decoder"):
            d.q_posterior(X, X, t)
    with pytest.raises(ValueError, match=r"t must be in 1\.\.10, got 0"):
        d.q_posterior(X, X, torch.tensor([0, 2]))


def test_diffusion_needs_a_schedule():
    """Diffusion(non-Schedule) is a TypeError naming the argument."""
    with pytest.raises(TypeError, match="schedule"):
        Diffusion([0.1, 0.2])
