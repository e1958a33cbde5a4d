"""The seed's conceptual questions 2-4, answered by computation (question 1, maximum entropy,
is ``checks/maxent.py``).

2. rho -> 1: for Sigma = [[1, rho], [rho, 1]] the principal variances are 1 +- |rho|, so the
   condition number is (1 + |rho|) / (1 - |rho|) -> inf, det Sigma = 1 - rho^2 -> 0, and
   samples collapse onto the line x_2 = sign(rho) x_1: E[(x_2 - sign(rho) x_1)^2] = 2 (1 - |rho|).
3. Reparameterization needs a continuous law: for z ~ N(mu, sigma^2) and f(z) = z^2 the
   pathwise estimator (f'(z) dz/dtheta) and the score-function one (f(z) d log p / dtheta) both
   have mean grad E[f] = (2 mu, 2 sigma^2) in (mu, log sigma), with variances

       pathwise:        Var[d/dmu] = 4 sigma^2,
                        Var[d/dlog sigma] = 4 sigma^2 (mu^2 + 2 sigma^2)
       score function:  Var[d/dmu] = (mu^4 + 18 mu^2 sigma^2 + 15 sigma^4) / sigma^2 - 4 mu^2,
                        Var[d/dlog sigma] = 2 mu^4 + 60 mu^2 sigma^2 + 74 sigma^4

   (Gaussian moments E[eps^2, eps^4, eps^6] = 1, 3, 15). For z ~ Bernoulli(p) only the score
   function exists: mean f(1) - f(0), variance f(1)^2 / p + f(0)^2 / (1 - p) - (f(1) - f(0))^2.
4. sqrt(abar_t) and sqrt(1 - abar_t): Var(x_t) = abar_t Var(x_0) + 1 - abar_t (mpmath abar_t),
   = 1 for unit-variance data whatever its law; other step coefficients explode
   (Var(x_0) + sum beta, prod (1 + beta) (Var(x_0) + 1) - 1) or vanish.
"""

from __future__ import annotations

import math

import mpmath
import torch

from gausslab.diffusion import Diffusion, Schedule
from gausslab.diffusion.variance import (
    CHOICES,
    forward_samples,
    forward_variance,
    step_coefficients,
)
from gausslab.gaussian import Gaussian
from gausslab.gradient_estimators import pathwise_gradients, score_function_gradients
from gausslab.verify.registry import (
    Context,
    Result,
    check,
    mean_result,
    reference_result,
    worst_reference,
)

# ---------------------------------------------------------------------- question 2: rho -> 1

RHOS = (0.9, 0.99, 0.999, 0.99999, -0.999)


@check(
    "mvn.rho_to_one",
    "Sigma = [[1, rho], [rho, 1]] as |rho| -> 1: principal variances 1 +- |rho|, condition "
    "number (1 + |rho|) / (1 - |rho|), log det = log(1 - rho^2) (mpmath), and samples on the "
    "line: E[(x_2 - sign(rho) x_1)^2] = 2 (1 - |rho|)",
)
def rho_to_one(ctx: Context) -> list[Result]:
    results = []
    for rho in RHOS:
        g = Gaussian(ctx.tensor([0.0, 0.0]), ctx.tensor([[1.0, rho], [rho, 1.0]]))
        variances = g.principal_axes()[0].tolist()
        log_det = 2 * g.entropy() - 2 * (1 + math.log(2 * math.pi))  # H = 1 + log 2pi + log|S|/2
        r = mpmath.mpf(abs(rho))
        condition = float((1 + r) / (1 - r))
        # eigh and Cholesky are backward stable: errors of order eps ||Sigma|| on 1 - |rho|
        rtol = 64 * torch.finfo(ctx.dtype).eps * condition
        name = f"mvn.rho_to_one[rho={rho:g}]"
        with mpmath.workdps(30):
            pairs = [(variances[0], 1 + r), (variances[1], 1 - r)]
            results.append(worst_reference(f"{name}.variances", pairs, rtol=rtol))
            results.append(
                reference_result(
                    f"{name}.condition_number",
                    variances[0] / variances[1],
                    condition,
                    rtol * condition,
                )
            )
            exact = mpmath.log(1 - mpmath.mpf(rho) ** 2)
            results.append(reference_result(f"{name}.log_det", log_det, exact, rtol))
        x = g.sample((ctx.samples,))
        distance = (x[:, 1] - math.copysign(1.0, rho) * x[:, 0]) ** 2
        results.append(mean_result(f"{name}.E[off_line^2]", distance, 2 * (1 - abs(rho))))
    return results


# ---------------------------------------------------------------------- question 3: estimators

MU, SIGMA = 1.0, 0.5
BERNOULLI_P, BERNOULLI_TARGET = 0.3, 0.4


def gaussian_estimator_moments(mu: float, sigma: float) -> dict[str, tuple[float, float]]:
    """(mean, variance) of each per-draw estimator of grad E[z^2], z ~ N(mu, sigma^2), in the
    parameters (mu, log sigma); see the module docstring."""
    m2, s2 = mu**2, sigma**2
    return {
        "pathwise.d/dmu": (2 * mu, 4 * s2),
        "pathwise.d/dlog_sigma": (2 * s2, 4 * s2 * (m2 + 2 * s2)),
        "score_function.d/dmu": (2 * mu, (m2**2 + 18 * m2 * s2 + 15 * s2**2) / s2 - 4 * m2),
        "score_function.d/dlog_sigma": (2 * s2, 2 * m2**2 + 60 * m2 * s2 + 74 * s2**2),
    }


def bernoulli_estimator_moments(p: float, target: float) -> tuple[float, float]:
    """(mean, variance) of the score-function estimator of d/dp E[(z - target)^2],
    z ~ Bernoulli(p)."""
    f1, f0 = (1 - target) ** 2, target**2
    return f1 - f0, f1**2 / p + f0**2 / (1 - p) - (f1 - f0) ** 2


def _moment_rows(name: str, draws: torch.Tensor, mean: float, variance: float) -> list[Result]:
    """E[g] = mean and E[(g - mean)^2] = variance for per-draw estimates g."""
    return [
        mean_result(f"{name}.mean", draws, mean),
        mean_result(f"{name}.variance", (draws - mean) ** 2, variance),
    ]


@check(
    "reparam.pathwise_vs_score_function",
    "z ~ N(1, 0.5^2), f = z^2: pathwise and score-function gradients both have mean (2 mu, "
    "2 sigma^2), variances (1, 1.5) vs (21.75, 21.625); Bernoulli(0.3), f = (z - 0.4)^2: the "
    "score function has mean f(1) - f(0)",
)
def pathwise_vs_score_function(ctx: Context) -> list[Result]:
    params = (ctx.tensor(MU), ctx.tensor(math.log(SIGMA)))

    def gaussian(mu: torch.Tensor, log_sigma: torch.Tensor) -> Gaussian:
        return Gaussian.univariate(mu, log_sigma.exp())

    estimates = {
        "pathwise": pathwise_gradients(gaussian, params, lambda z: z**2, ctx.samples),
        "score_function": score_function_gradients(gaussian, params, lambda z: z**2, ctx.samples),
    }
    moments = gaussian_estimator_moments(MU, SIGMA)
    results = []
    for method, (d_mu, d_log_sigma) in estimates.items():
        for param, draws in (("d/dmu", d_mu), ("d/dlog_sigma", d_log_sigma)):
            key = f"{method}.{param}"
            results += _moment_rows(f"reparam.gaussian.{key}", draws, *moments[key])
    (d_p,) = score_function_gradients(
        lambda p: torch.distributions.Bernoulli(probs=p),
        (ctx.tensor(BERNOULLI_P),),
        lambda z: (z - BERNOULLI_TARGET) ** 2,
        ctx.samples,
    )
    moments_p = bernoulli_estimator_moments(BERNOULLI_P, BERNOULLI_TARGET)
    results += _moment_rows("reparam.bernoulli.score_function.d/dp", d_p, *moments_p)
    return results


# ---------------------------------------------------------------------- question 4: sqrt(abar)

SCHEDULE_T = 20
DATA_VARIANCES = (1.0, 0.25, 4.0)
MC_TIMES = (5, 20)


def variance_schedule() -> Schedule:
    """20 linear steps with beta from 0.01 to 0.5: sum beta = 5.1, enough to show explosion."""
    return Schedule.linear(SCHEDULE_T, beta_start=0.01, beta_end=0.5)


def mp_forward_variances(schedule: Schedule, choice: str, data_variance: float) -> list:
    """Var(x_t), t = 0..T, in mpmath: closed forms for preserving, exploding and growing, the
    recursion Var_t = (1 - beta)^2 Var_{t-1} + beta^2 for shrinking."""
    betas = [mpmath.mpf(b) for b in schedule.betas.tolist()]
    v = mpmath.mpf(data_variance)
    out = []
    abar, total, growth, shrinking = mpmath.mpf(1), mpmath.mpf(0), mpmath.mpf(1), v
    for t, beta in enumerate(betas):
        if t > 0:
            abar *= 1 - beta
            total += beta
            growth *= 1 + beta
            shrinking = (1 - beta) ** 2 * shrinking + beta**2
        out.append(
            {
                "preserving": abar * v + 1 - abar,
                "exploding": v + total,
                "growing": growth * (v + 1) - 1,
                "shrinking": shrinking,
            }[choice]
        )
    return out


def _unit_variance_uniform(ctx: Context) -> torch.Tensor:
    """Data that is far from Gaussian but has variance 1: U(-sqrt(3), sqrt(3))."""
    return (torch.rand(ctx.samples, dtype=ctx.dtype, device=ctx.device) * 2 - 1) * math.sqrt(3)


@check(
    "diffusion.variance_preserving",
    "Var(x_t) = abar_t Var(x_0) + 1 - abar_t (= 1 for unit-variance uniform data, Monte Carlo "
    "with Diffusion.q_step's coefficients); a = 1 (exploding), a = sqrt(1 + beta) (growing) and "
    "a = 1 - beta, b = beta (shrinking) against their mpmath forms",
)
def variance_preserving(ctx: Context) -> list[Result]:
    schedule = variance_schedule()
    diffusion = Diffusion(schedule)
    results = []
    with mpmath.workdps(30):
        for choice in CHOICES:
            for v in DATA_VARIANCES:
                pairs = zip(
                    forward_variance(schedule, v, choice).tolist(),
                    mp_forward_variances(schedule, choice, v),
                    strict=True,
                )
                name = f"diffusion.variance_preserving[{choice},Var(x_0)={v:g}].exact"
                results.append(worst_reference(name, pairs, rtol=1e-12))
        exact = mp_forward_variances(schedule, "preserving", 2.0)
        law_pairs = [
            (
                diffusion.marginal(
                    Gaussian.univariate(ctx.tensor(0.0), math.sqrt(2.0)), t
                ).variance,
                exact[t],
            )
            for t in range(1, schedule.T + 1)
        ]
        results.append(
            worst_reference("diffusion.variance_preserving.marginal", law_pairs, rtol=1e-12)
        )
    ones = torch.ones(1, 1, dtype=ctx.dtype, device=ctx.device)
    a, b = step_coefficients(schedule, "preserving")
    step_pairs = []
    for t in range(1, schedule.T + 1):
        step = diffusion.q_step(ones, t)
        step_pairs += [(step.mean[0, 0], a[t]), (step.stddev[0, 0], b[t])]
    results.append(worst_reference("diffusion.variance_preserving.q_step", step_pairs, rtol=1e-12))
    x_t = forward_samples(_unit_variance_uniform(ctx), schedule, "preserving", MC_TIMES)
    for row, t in zip(x_t, MC_TIMES, strict=True):
        name = f"diffusion.variance_preserving[t={t}].E[x_t^2]"
        results.append(mean_result(name, row**2, 1.0))
    return results
