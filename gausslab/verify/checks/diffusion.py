"""The Gaussian diffusion process: marginals, the DDPM posterior, and a forward-diffused mixture.

q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t I)
q(x_t | x_0)     = N(sqrt(abar_t) x_0, (1 - abar_t) I)   (t single steps in one jump)
q(x_{t-1} | x_t, x_0) ∝ q(x_t | x_{t-1}) q(x_{t-1} | x_0)
                  = N(coef1_t x_0 + coef2_t x_t, beta_tilde_t I)   (DDPM, Ho et al. 2020)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import numpy as np
import torch

import gausslab
from gausslab.diffusion import Diffusion, Schedule
from gausslab.gaussian import Gaussian
from gausslab.verify.checks.mixture import MEANS, STDS, WEIGHTS, mp_density, seed_mixture
from gausslab.verify.checks.multivariate import COVARIANCE, LOC, dense
from gausslab.verify.registry import Context, Result, check, mean_result, worst_reference

JUMPS = (1, 10, 60)
"""Timesteps at which the chain of single steps is compared with q(x_t | x_0)."""


@check(
    "diffusion.q_marginal_vs_steps",
    "t single steps q(x_s | x_{s-1}) from x_0 give q(x_t | x_0) = N(sqrt(abar_t) x_0, 1 - abar_t)",
)
def q_marginal_vs_steps(ctx: Context) -> list[Result]:
    diffusion = Diffusion(Schedule.linear(1000))
    x0 = torch.full((ctx.samples, 1), 1.5, dtype=ctx.dtype, device=ctx.device)
    x = x0
    results = []
    for t in range(1, max(JUMPS) + 1):
        x = diffusion.q_step(x, t).sample()
        if t in JUMPS:
            law = diffusion.q_marginal(x0[:1], t)
            mean, variance = law.mean[0, 0], law.variance[0, 0]
            name = f"diffusion.q_marginal_vs_steps[t={t}]"
            results.append(mean_result(f"{name}.mean", x[:, 0], mean))
            results.append(mean_result(f"{name}.variance", (x[:, 0] - mean) ** 2, variance))
    return results


POSTERIOR_STEPS = (2, 10, 500, 1000)


@check(
    "challenge.posterior_product",
    "q(x_t | x_{t-1}) q(x_{t-1} | x_0) normalized with gausslab.product equals DDPM's "
    "q(x_{t-1} | x_t, x_0)",
)
def posterior_product(ctx: Context) -> list[Result]:
    schedule = Schedule.linear(1000)
    diffusion = Diffusion(schedule)
    x0 = ctx.tensor([[-1.0], [0.3], [2.0]])
    x_t = ctx.tensor([[0.5], [-1.2], [1.7]])
    results = []
    for t in POSTERIOR_STEPS:
        alpha, abar_prev = schedule.alphas[t].item(), schedule.alphas_cumprod[t - 1].item()
        # As a density in x_{t-1}: N(x_t; sqrt(alpha) x_{t-1}, beta) ∝ N(x_{t-1}; x_t/sqrt(alpha),
        # beta/alpha).
        likelihood = Gaussian.isotropic(x_t / math.sqrt(alpha), math.sqrt((1 - alpha) / alpha))
        prior = Gaussian.isotropic(math.sqrt(abar_prev) * x0, math.sqrt(1 - abar_prev))
        bayes, _ = gausslab.product(likelihood, prior)
        ddpm = diffusion.q_posterior(x_t, x0, t)
        name = f"challenge.posterior_product[t={t}]"
        means = zip(bayes.mean.flatten().tolist(), ddpm.mean.flatten().tolist(), strict=True)
        results.append(worst_reference(f"{name}.mean", means, rtol=1e-12, floor=1.0))
        variances = [(bayes.variance[0, 0], ddpm.variance[0, 0])]
        results.append(worst_reference(f"{name}.variance", variances, rtol=1e-12))
    return results


@check(
    "diffusion.posterior_samples",
    "x_{t-1} ~ q(x_{t-1} | x_0), x_t ~ q(x_t | x_{t-1}): the residual r = x_{t-1} - posterior "
    "mean has E[r] = 0, E[r^2] = beta_tilde_t, E[r x_t] = 0",
)
def posterior_samples(ctx: Context) -> list[Result]:
    diffusion = Diffusion(Schedule.linear(1000))
    x0 = torch.full((ctx.samples, 1), -0.8, dtype=ctx.dtype, device=ctx.device)
    results = []
    for t in (2, 50, 800):
        x_prev = diffusion.q_sample(x0, t - 1)
        x_t = diffusion.q_step(x_prev, t).sample()
        posterior = diffusion.q_posterior(x_t, x0, t)
        residual = (x_prev - posterior.mean)[:, 0]
        name = f"diffusion.posterior_samples[t={t}]"
        results.append(mean_result(f"{name}.E[r]", residual, 0.0))
        results.append(mean_result(f"{name}.E[r^2]", residual**2, posterior.variance[0, 0]))
        results.append(mean_result(f"{name}.E[r*x_t]", residual * x_t[:, 0], 0.0))
    return results


def exercise4_schedule() -> Schedule:
    """The linear schedule for T = 100 steps, with DDPM's betas (1e-4 .. 0.02 for T = 1000)
    scaled by 1000 / T as in improved DDPM, so that abar_T = 4e-5 and x_T is N(0, 1) to
    within 1e-4 (DDPM's unscaled betas would leave abar_100 = 0.36)."""
    return Schedule.linear(100, beta_start=1e-3, beta_end=0.2)


SNAPSHOTS = (10, 40, 100)


def _mp_marginal_components(abar: float) -> tuple[list[mpmath.mpf], list[mpmath.mpf]]:
    """Means and variances of q_t for the exercise-4 mixture in mpmath: x_0 ~ sum_k w_k
    N(m_k, s_k^2) gives x_t ~ sum_k w_k N(sqrt(abar) m_k, abar s_k^2 + 1 - abar)."""
    a = mpmath.mpf(abar)
    return [mpmath.sqrt(a) * m for m in MEANS], [a * s**2 + 1 - a for s in STDS]


def mp_mixture_cdf(c: float, abar: float) -> mpmath.mpf:
    """P(x_t <= c) = sum_k w_k Phi((c - mean_k) / sqrt(variance_k)) under q_t."""
    means, variances = _mp_marginal_components(abar)
    return sum(
        w * mpmath.ncdf((c - m) / mpmath.sqrt(v))
        for w, m, v in zip(WEIGHTS, means, variances, strict=True)
    )


@check(
    "exercise4.forward_mixture",
    "x_0 ~ 0.3 N(-2, 0.3^2) + 0.7 N(1.5, 0.5^2) pushed through T = 100 single linear-schedule "
    "steps: P(x_t <= c) = sum_k w_k Phi((c - sqrt(abar_t) m_k) / sqrt(abar_t s_k^2 + 1 - abar_t)) "
    "-> Phi(c)",
)
def forward_mixture(ctx: Context) -> list[Result]:
    schedule = exercise4_schedule()
    x = seed_mixture(ctx).sample((ctx.samples,))
    results = []
    for t in range(1, schedule.T + 1):
        beta = schedule.betas[t].item()
        noise = torch.randn(ctx.samples, dtype=ctx.dtype, device=ctx.device)
        x = math.sqrt(1 - beta) * x + math.sqrt(beta) * noise
        if t in SNAPSHOTS:
            abar = schedule.alphas_cumprod[t].item()
            for c in (-1.0, 0.0, 1.0):
                name = f"exercise4.forward_mixture[t={t}].P(x_t<={c:g})"
                results.append(mean_result(name, (x <= c).double(), mp_mixture_cdf(c, abar)))
    return results


def _mp_marginal_log_density(abar: float) -> Callable[[object], mpmath.mpf]:
    """x -> log q_t(x) in mpmath for the exercise-4 mixture."""
    means, variances = _mp_marginal_components(abar)
    return lambda x: mpmath.log(mp_density(x, WEIGHTS, means, variances))


@check(
    "diffusion.exact_marginal",
    "Diffusion.marginal: mixture data gives sum_k w_k N(sqrt(abar_t) m_k, abar_t s_k^2 + 1 - "
    "abar_t) (mpmath log-density); Gaussian data N(sqrt(abar_t) mu, abar_t Sigma + (1 - abar_t) I)",
)
def exact_marginal(ctx: Context) -> list[Result]:
    schedule = exercise4_schedule()
    diffusion = Diffusion(schedule)
    mixture = seed_mixture(ctx)
    gaussian = dense(ctx)
    points = (-3.0, -1.0, 0.0, 0.5, 2.5)
    results = []
    for t in SNAPSHOTS:
        abar = schedule.alphas_cumprod[t].item()
        values = diffusion.marginal(mixture, t).log_prob(ctx.tensor(points)).tolist()
        with mpmath.workdps(50):
            log_q = _mp_marginal_log_density(abar)
            pairs = [(v, log_q(x)) for v, x in zip(values, points, strict=True)]
        name = f"diffusion.exact_marginal[mixture,t={t}].log_prob"
        results.append(worst_reference(name, pairs, rtol=1e-12, floor=1.0))
        law = diffusion.marginal(gaussian, t)
        covariance = abar * np.array(COVARIANCE) + (1 - abar) * np.eye(3)
        pairs = zip(law.covariance_matrix.flatten().tolist(), covariance.flatten(), strict=True)
        name = f"diffusion.exact_marginal[gaussian,t={t}]"
        results.append(worst_reference(f"{name}.covariance", pairs, rtol=1e-12, floor=1.0))
        means = zip(law.mean.tolist(), math.sqrt(abar) * np.array(LOC), strict=True)
        results.append(worst_reference(f"{name}.mean", means, rtol=1e-12, floor=1.0))
    return results


@check(
    "diffusion.optimal_eps",
    "Bayes-optimal eps*(x_t) = E[eps | x_t] = -sqrt(1 - abar_t) d/dx log q_t(x_t) (Tweedie), "
    "for the mixture, vs mpmath differentiation of the exact marginal",
)
def optimal_eps(ctx: Context) -> list[Result]:
    schedule = exercise4_schedule()
    model = Diffusion(schedule).optimal_model(seed_mixture(ctx), prediction="eps")
    points = (-3.0, -1.0, 0.0, 0.5, 2.5)
    results = []
    for t in SNAPSHOTS:
        values = model(ctx.tensor(points), t).tolist()
        abar = schedule.alphas_cumprod[t].item()
        with mpmath.workdps(50):
            log_q = _mp_marginal_log_density(abar)
            noise_std = mpmath.sqrt(1 - mpmath.mpf(abar))
            pairs = [
                (v, -noise_std * mpmath.diff(log_q, x)) for v, x in zip(values, points, strict=True)
            ]
        name = f"diffusion.optimal_eps[mixture,t={t}]"
        results.append(worst_reference(name, pairs, rtol=1e-11, floor=1.0))
    return results
