"""Reverse-process samplers on any timestep subset: DDPM, DDIM (eta), probability-flow Euler/Heun.

The reverse chain visits t_0 > t_1 > ... > t_{n-1} >= 1 (paper indexing) and ends at t = 0.
For one step from t to s (the next kept timestep, or 0), with abar = alphas_cumprod and
(x0_hat, eps_hat) the model's prediction at (x_t, t):

- "ddpm": ancestral sampling with the respaced posterior. Between consecutive kept steps the
  effective beta is beta' = 1 - abar_t / abar_s, and
  x_s = coef1 x0_hat + coef2 x_t + sqrt(beta_tilde') z,
  coef1 = beta' sqrt(abar_s) / (1 - abar_t), coef2 = (1 - abar_s) sqrt(1 - beta') / (1 - abar_t),
  beta_tilde' = beta' (1 - abar_s) / (1 - abar_t); with all T steps this is exactly DDPM. The
  last step (s = 0) returns x0_hat, without noise.
- "ddim" (Song et al. 2021, eq. 12):
  x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s - sigma^2) eps_hat + sigma z,
  sigma = eta sqrt((1 - abar_s) / (1 - abar_t)) sqrt(1 - abar_t / abar_s).
  eta = 0 is deterministic; eta = 1 is the DDPM step above.
- "euler" / "heun": the probability-flow ODE in the variance-exploding parametrization
  y = x / sqrt(abar), sigma = sqrt((1 - abar) / abar): dy/dsigma = eps_hat(x, t). Euler:
  y_s = y_t + (sigma_s - sigma_t) eps_hat(x_t, t), which is algebraically DDIM with eta = 0.
  Heun (Karras et al. 2022, Alg. 1) re-evaluates eps_hat at the Euler point (x_s', s) and uses
  the average slope, y_s = y_t + (sigma_s - sigma_t) (eps_hat(x_t, t) + eps_hat(x_s', s)) / 2,
  except on the final step to sigma = 0, which stays an Euler step.

The model output is read as an eps, x0 or v prediction; (x0_hat, eps_hat) are linear in
(x_t, output) with coefficients taken from ``Diffusion.to_x0_eps``, so every step is
x_s = A x_t + B output (+ C z), with A, B, C precomputed once per call as Python floats from
the float64 tables. The loop does two or three fused elementwise operations per step and no
validation.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from gausslab._validation import describe
from gausslab.diffusion.process import PREDICTIONS, Diffusion
from gausslab.diffusion.schedule import Schedule

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["SAMPLERS", "SamplerPlan", "plan", "sample"]

SAMPLERS = ("ddpm", "ddim", "euler", "heun")

Model = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class _Step:
    """One step t -> s: x_s = a x_t + b output(x_t, t) + c z.

    For "heun" (when s > 0) the Euler point x_s' = a x_t + b out1 is corrected to
    x_s = heun[0] x_t + heun[1] out1 + heun[2] x_s' + heun[3] out2, out2 = output(x_s', s).
    """

    t: int
    s: int
    a: float
    b: float
    c: float
    heun: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class SamplerPlan:
    """A validated sampler run: the timesteps and each step's precomputed coefficients.

    Build it with ``plan(...)``; ``run(model, x_T, ...)`` executes it. A plan is an affine map
    of (x_T, the step noises) whenever the model is affine in x_t, which is what
    ``gausslab.diffusion.evaluation`` uses to compute a sampler's exact output law.
    """

    sampler: str
    prediction: str
    timesteps: tuple[int, ...]
    steps: tuple[_Step, ...]

    @property
    def num_noises(self) -> int:
        """How many standard normal draws (each of x's shape) one run takes."""
        return sum(step.c != 0.0 for step in self.steps)

    @property
    def num_model_calls(self) -> int:
        """Model evaluations per run: one per step, plus one per Heun correction."""
        return sum(1 + (step.heun is not None) for step in self.steps)

    def run(
        self,
        model: Model,
        x_T: Tensor,
        *,
        generator: torch.Generator | None = None,
        noise: Sequence[Tensor] | None = None,
        progress: bool = False,
    ) -> Tensor:
        """Run the reverse chain from x_T (the state at t_0) down to t = 0; return x_0.

        The step noises are `noise` (``num_noises`` tensors of x_T's shape, used in order)
        or fresh draws from `generator`. x_T is not modified. Gradients flow when grad mode is
        on (every update writes into a fresh tensor).
        """
        _check_model(model)
        x = _check_x(x_T, "x_T")
        if noise is not None:
            noise = _check_noise(noise, x, self.num_noises)
        _check_generator(generator, x)
        batch, device = x.shape[0], x.device
        t_batch = {
            t: torch.full((batch,), t, dtype=torch.int64, device=device)
            for step in self.steps
            for t in (step.t, step.s)
        }
        draws = iter(noise) if noise is not None else None
        steps: Iterable[_Step] = self.steps
        if progress:
            steps = _progress(self.steps, f"{self.sampler} sampling")

        for i, step in enumerate(steps):
            out = model(x, t_batch[step.t])
            if i == 0:
                _check_output(out, x)
            if step.c == 0.0 or draws is not None:
                x_next = torch.mul(x, step.a).add_(out, alpha=step.b)
                if step.c != 0.0:
                    x_next.add_(next(draws), alpha=step.c)
            else:  # c z drawn straight into the new state: one pass less
                x_next = torch.empty_like(x).normal_(0.0, step.c, generator=generator)
                x_next.add_(x, alpha=step.a).add_(out, alpha=step.b)
            if step.heun is not None:
                out2 = model(x_next, t_batch[step.s])
                ax, aout, apred, aout2 = step.heun
                x_next = (
                    torch.mul(x, ax)
                    .add_(out, alpha=aout)
                    .add_(x_next, alpha=apred)
                    .add_(out2, alpha=aout2)
                )
            x = x_next
        return x


def plan(
    diffusion: Diffusion,
    *,
    sampler: str = "ddpm",
    steps: int | None = None,
    eta: float = 0.0,
    prediction: str = "eps",
    timesteps: Sequence[int] | Tensor | None = None,
) -> SamplerPlan:
    """Validate the sampler settings and precompute every step's coefficients.

    Arguments as in ``sample``. Raises ValueError naming the argument for an unknown sampler
    or prediction, steps outside 1..T, a timesteps sequence that is not strictly descending
    within 1..T, both steps and timesteps given, eta outside [0, 1] (or nonzero for a sampler
    other than "ddim"), and for settings whose coefficients are infinite (abar_{t_0} = 0, zero
    terminal SNR, with an eps prediction or an ODE sampler).
    """
    if not isinstance(diffusion, Diffusion):
        raise TypeError(f"diffusion must be a Diffusion, got {type(diffusion).__name__}")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
    eta = _check_eta(eta, sampler)
    schedule = diffusion.schedule
    ts = _resolve_timesteps(schedule, steps, timesteps)
    ss = torch.cat([ts[1:], ts.new_zeros(1)])

    # (x0_hat, eps_hat) = (x0_x x + x0_out out, eps_x x + eps_out out), per kept timestep.
    probe = torch.ones(ts.shape[0], 1, dtype=torch.float64)
    # Unchecked: ts is validated, and an infinite coefficient gets the message below.
    x0_x, eps_x = diffusion._to_x0_eps(torch.zeros_like(probe), probe, ts, prediction)
    x0_out, eps_out = diffusion._to_x0_eps(probe, torch.zeros_like(probe), ts, prediction)
    x0_x, eps_x, x0_out, eps_out = (c.reshape(-1) for c in (x0_x, eps_x, x0_out, eps_out))
    abar_s = schedule.alphas_cumprod[ss]
    heun = None

    if sampler == "ddpm":
        coef_x0, coef_xt, std = _respaced_posterior(schedule, ts)
        a, b, c = coef_x0 * x0_x + coef_xt, coef_x0 * x0_out, std
    elif sampler == "ddim":
        one_minus_t = schedule.one_minus_alphas_cumprod[ts]
        one_minus_s = schedule.one_minus_alphas_cumprod[ss]
        beta_eff = -torch.expm1(schedule.alphas_cumprod[ts].log() - abar_s.log())
        c = eta * (one_minus_s / one_minus_t * beta_eff).sqrt()
        direction = (one_minus_s - c**2).clamp(min=0.0).sqrt()
        a = abar_s.sqrt() * x0_x + direction * eps_x
        b = abar_s.sqrt() * x0_out + direction * eps_out
    else:
        sigmas = schedule.sigmas
        ratio = (abar_s / schedule.alphas_cumprod[ts]).sqrt()
        k = abar_s.sqrt() * (sigmas[ss] - sigmas[ts])
        a, b, c = ratio + k * eps_x, k * eps_out, torch.zeros_like(k)
        if sampler == "heun":
            # x_s = x_s' + (k/2) (eps(x_s', s) - eps(x_t, t)), eps at s from the next entry.
            half = k / 2
            eps_x_s = torch.cat([eps_x[1:], eps_x.new_zeros(1)])
            eps_out_s = torch.cat([eps_out[1:], eps_out.new_zeros(1)])
            heun = torch.stack(
                [-half * eps_x, -half * eps_out, 1 + half * eps_x_s, half * eps_out_s]
            )

    coefficients = torch.stack([a, b, c] + ([] if heun is None else list(heun)))
    if not bool(torch.isfinite(coefficients).all()):
        raise ValueError(
            f"sampler={sampler!r} with prediction={prediction!r} is undefined on this schedule: "
            f"alphas_cumprod at the first timestep t = {int(ts[0])} is "
            f"{schedule.alphas_cumprod[ts[0]].item()!r} (zero terminal SNR), where x0 cannot be "
            "recovered from eps and sigma = sqrt((1 - abar) / abar) is infinite; use "
            "prediction='v' or 'x0' with 'ddpm' or 'ddim', or timesteps starting below T"
        )
    rows = coefficients.T.tolist()
    ts_list, ss_list = ts.tolist(), ss.tolist()
    plan_steps = tuple(
        _Step(
            t=t,
            s=s,
            a=row[0],
            b=row[1],
            c=row[2],
            heun=tuple(row[3:]) if heun is not None and s > 0 else None,
        )
        for t, s, row in zip(ts_list, ss_list, rows, strict=True)
    )
    return SamplerPlan(sampler, prediction, tuple(ts_list), plan_steps)


def sample(
    diffusion: Diffusion,
    model: Model,
    shape: Sequence[int] | torch.Size,
    *,
    sampler: str = "ddpm",
    steps: int | None = None,
    eta: float = 0.0,
    prediction: str = "eps",
    x_T: Tensor | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
    timesteps: Sequence[int] | Tensor | None = None,
) -> Tensor:
    """x_0 samples of `shape` = (B, *event_shape) from `model` by the reverse chain.

    - model(x_t, t) gets t as an int64 tensor of shape (B,) in paper indexing and returns a
      tensor of x_t's shape, read as `prediction` ("eps", "x0" or "v").
    - sampler: "ddpm", "ddim" (with `eta` in [0, 1]), "euler" or "heun" (see the module
      docstring for each update).
    - steps=None runs all T steps; steps = n runs the evenly spaced subset ending at t = T,
      ``schedule.timesteps(n, "trailing")``; or pass `timesteps`, a strictly descending
      sequence in 1..T (then x_T is the state at its first entry).
    - x_T fixes the starting noise (shape `shape`; its dtype and device are used); otherwise
      x_T ~ N(0, I) is drawn from `generator` in the default dtype on the generator's device.
      `generator` drives all randomness, so ddim with eta = 0 and the ODE samplers are
      deterministic given x_T.
    - progress=True shows a rich progress bar.
    """
    sampler_plan = plan(
        diffusion,
        sampler=sampler,
        steps=steps,
        eta=eta,
        prediction=prediction,
        timesteps=timesteps,
    )
    shape = _check_shape(shape)
    if x_T is None:
        _check_generator(generator, None)
        device = generator.device if generator is not None else torch.device("cpu")
        x_T = torch.randn(shape, generator=generator, device=device)
    else:
        _check_x(x_T, "x_T")
        if tuple(x_T.shape) != shape:
            raise ValueError(
                f"x_T must have shape {shape} (the `shape` argument), got {tuple(x_T.shape)}"
            )
    return sampler_plan.run(model, x_T, generator=generator, progress=progress)


# ---------------------------------------------------------------------------- coefficients


def _respaced_posterior(schedule: Schedule, ts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(coef1, coef2, std) of q(x_s | x_t, x0) for each kept step t -> s, from the respaced
    schedule whose step j = 1..n has abar'_j = abar_{t_{n-j}}, i.e. beta'_j = 1 - abar'_j /
    abar'_{j-1}; its posterior tables (``Diffusion``) at j give the step t_{n-j} -> t_{n-j+1}.
    At j = 1 (the last step, to t = 0) coef1 = 1, coef2 = 0, std = 0: the step returns x0_hat.
    """
    log_abar = schedule.alphas_cumprod[ts.flip(0)].log()
    previous = torch.cat([log_abar.new_zeros(1), log_abar[:-1]])
    respaced = Diffusion(Schedule.from_betas(-torch.expm1(log_abar - previous)))
    j = torch.arange(ts.shape[0], 0, -1)
    return (
        respaced.posterior_mean_coef1[j],
        respaced.posterior_mean_coef2[j],
        respaced.posterior_variance[j].sqrt(),
    )


# ---------------------------------------------------------------------------- validation


def _resolve_timesteps(
    schedule: Schedule, steps: int | None, timesteps: Sequence[int] | Tensor | None
) -> Tensor:
    """The kept timesteps t_0 > ... > t_{n-1} as an int64 CPU tensor."""
    if timesteps is None:
        return schedule.timesteps(schedule.T if steps is None else steps, "trailing")
    if steps is not None:
        raise ValueError(
            f"pass either steps or timesteps, not both (got steps={steps!r} and timesteps)"
        )
    if isinstance(timesteps, Tensor):
        ts = timesteps.detach().cpu()
    else:
        try:
            ts = torch.as_tensor(list(timesteps))
        except (TypeError, ValueError, RuntimeError) as error:
            raise ValueError(
                f"timesteps must be a 1-D sequence of ints in 1..{schedule.T}, got {timesteps!r}"
            ) from error
    if ts.ndim != 1 or ts.numel() == 0:
        raise ValueError(f"timesteps must be a non-empty 1-D sequence, got shape {tuple(ts.shape)}")
    ts = schedule.check_t(ts, name="timesteps")
    if ts.numel() > 1 and not bool((ts[1:] < ts[:-1]).all()):
        raise ValueError(f"timesteps must be strictly descending, got {ts.tolist()}")
    return ts


def _check_eta(eta: Any, sampler: str) -> float:
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be a real number in [0, 1], got {eta!r}")
    if eta != 0.0 and sampler != "ddim":
        raise ValueError(f"eta applies to sampler='ddim' only, got eta={eta!r} with {sampler!r}")
    return float(eta)


def _check_shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) or not isinstance(shape, Sequence):
        raise ValueError(f"shape must be a sequence (B, *event_shape), got {shape!r}")
    if len(shape) == 0 or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in shape
    ):
        raise ValueError(f"shape must be (B, *event_shape) with positive ints, got {shape!r}")
    return tuple(int(n) for n in shape)


def _check_x(x: Any, name: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.ndim < 1:
        got = describe(x) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"{name} must be a floating-point tensor of shape (B, *event_shape), got {got}"
        )
    return x


def _check_model(model: Any) -> None:
    if not callable(model):
        raise TypeError(f"model must be callable as model(x_t, t), got {type(model).__name__}")


def _check_output(out: Any, x: Tensor) -> None:
    if not isinstance(out, Tensor) or out.shape != x.shape:
        got = describe(out) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"model(x_t, t) must return a tensor of x_t's shape {tuple(x.shape)}, got {got}"
        )


def _check_noise(noise: Sequence[Tensor], x: Tensor, expected: int) -> list[Tensor]:
    noise = list(noise)
    if len(noise) != expected:
        raise ValueError(
            f"noise must hold {expected} tensors (one per noisy step), got {len(noise)}"
        )
    for i, z in enumerate(noise):
        if not isinstance(z, Tensor) or z.shape != x.shape:
            got = describe(z) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"noise[{i}] must have x_T's shape {tuple(x.shape)}, got {got}")
    return noise


def _check_generator(generator: Any, x: Tensor | None) -> None:
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if x is not None and generator.device.type != x.device.type:
        raise ValueError(
            f"generator must be on x_T's device {x.device}, got a generator on {generator.device}"
        )


# ---------------------------------------------------------------------------- loop helpers


def _progress(steps: Sequence[_Step], description: str) -> Iterable[_Step]:
    from rich.progress import track

    return track(steps, description=description, total=len(steps), transient=True)
