"""Diffusion suite: q_sample and the reverse samplers against diffusers' schedulers.

- q_sample on an image batch against ``DDPMScheduler.add_noise`` (same x0, noise and
  timesteps) and the copy floor.
- Per-step sampler overhead: a whole reverse chain of `steps` steps with a trivial model
  (it returns one preallocated zero tensor, so the model costs nothing) divided by `steps`:
  gausslab's ``Diffusion.sample`` (which plans the coefficients once, then loops) against
  diffusers' ``set_timesteps`` + ``step`` loop on the same tensors, "trailing" spacing on
  both sides so that they visit the same timesteps. DDIM with eta = 0 is deterministic, so
  the two chains must agree; DDPM draws noise, so only its speed is compared.
- End to end on Gaussian-mixture data: DDIM driven by the Bayes-optimal eps model of a
  2-d mixture (``Diffusion.optimal_model``), gausslab's loop against diffusers' loop with the
  same model.

Paper timestep t (1..T) is diffusers' 0-based timestep t - 1.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from benchmarks.harness import Candidates, Target, Workload
from benchmarks.inputs import copy_floor, randn
from gausslab.diffusion import Diffusion, Schedule

__all__ = ["workloads"]

_T = 1000


def _q_sample(shape: tuple[int, ...], device: torch.device) -> Candidates:
    from diffusers import DDPMScheduler

    diffusion = Diffusion(Schedule.linear(_T))
    scheduler = DDPMScheduler(num_train_timesteps=_T)
    x0 = randn(*shape, seed=1, dtype=torch.float32, device=device)
    noise = randn(*shape, seed=2, dtype=torch.float32, device=device)
    generator = torch.Generator().manual_seed(3)
    t = torch.randint(1, _T + 1, (shape[0],), generator=generator).to(device)
    t_diffusers = t - 1
    return Candidates(
        gausslab=lambda: diffusion.q_sample(x0, t, noise),
        anchors={"diffusers add_noise": lambda: scheduler.add_noise(x0, noise, t_diffusers)},
        floor=copy_floor(x0),
        reference="diffusers add_noise",
    )


def _diffusers_loop(scheduler: object, model, x_T: Tensor, steps: int) -> Tensor:
    """diffusers' sampling loop: set_timesteps, then one step per timestep."""
    scheduler.set_timesteps(steps)
    x = x_T
    for timestep in scheduler.timesteps:
        x = scheduler.step(model(x, timestep + 1), timestep, x).prev_sample
    return x


def _sampler_overhead(
    sampler: str, shape: tuple[int, ...], steps: int, device: torch.device
) -> Candidates:
    from diffusers import DDIMScheduler, DDPMScheduler

    diffusion = Diffusion(Schedule.linear(_T))
    options = {"num_train_timesteps": _T, "clip_sample": False, "timestep_spacing": "trailing"}
    scheduler = DDPMScheduler(**options) if sampler == "ddpm" else DDIMScheduler(**options)
    x_T = randn(*shape, seed=1, dtype=torch.float32, device=device)
    zero = torch.zeros_like(x_T)

    def trivial_model(x: Tensor, t: Tensor) -> Tensor:
        return zero

    def draws_and_updates() -> None:
        """The floor of one chain: per step one x-sized update, plus one normal draw for
        ddpm (ddim with eta = 0 draws nothing)."""
        x = x_T.clone()
        for _ in range(steps):
            x.mul_(0.5)
            if sampler == "ddpm":
                x.add_(torch.randn_like(x))

    anchor = f"diffusers {type(scheduler).__name__}.step"
    return Candidates(
        gausslab=lambda: diffusion.sample(
            trivial_model, shape, sampler=sampler, steps=steps, x_T=x_T
        ),
        anchors={anchor: lambda: _diffusers_loop(scheduler, trivial_model, x_T, steps)},
        floor=(
            "randn + in-place update" if sampler == "ddpm" else "in-place update",
            draws_and_updates,
        ),
        reference=anchor if sampler == "ddim" else None,
    )


def _mixture_end_to_end(n: int, steps: int, device: torch.device) -> Candidates:
    from diffusers import DDIMScheduler

    from gausslab import Gaussian
    from gausslab.mixture import GaussianMixture

    k, d = 8, 2
    angles = torch.arange(k, dtype=torch.float32) * (2 * torch.pi / k)
    means = torch.stack([angles.cos(), angles.sin()], dim=-1).mul(2.0).to(device)
    components = Gaussian.isotropic(means, torch.full((k,), 0.3, device=device))
    data = GaussianMixture(torch.zeros(k, device=device), components)
    diffusion = Diffusion(Schedule.linear(_T))
    model = diffusion.optimal_model(data)
    scheduler = DDIMScheduler(
        num_train_timesteps=_T, clip_sample=False, timestep_spacing="trailing"
    )
    x_T = randn(n, d, seed=1, dtype=torch.float32, device=device)

    def model_with_batched_t(x: Tensor, t: Tensor) -> Tensor:
        return model(x, t.expand(x.shape[0]) if t.dim() == 0 else t)

    return Candidates(
        gausslab=lambda: diffusion.sample(model, (n, d), sampler="ddim", steps=steps, x_T=x_T),
        anchors={
            "diffusers DDIMScheduler": lambda: _diffusers_loop(
                scheduler, model_with_batched_t, x_T, steps
            )
        },
        reference="diffusers DDIMScheduler",
    )


def workloads(device: torch.device, quick: bool) -> list[Workload]:
    """The diffusion suite at full size, or every workload at a tiny size when `quick`."""
    image_batch = (4, 3, 4, 4) if quick else (256, 3, 64, 64)
    step_batch = (2, 3, 4, 4) if quick else (64, 3, 32, 32)
    # diffusers steps from t to t - T // steps: with "trailing" spacing that is the next
    # timestep of the chain only when steps divides T (1000), hence 4 and 50.
    steps = 4 if quick else 50
    gmm_n = 16 if quick else 10_000

    def label(shape: tuple[int, ...]) -> str:
        return "(" + ", ".join(map(str, shape)) + ") float32"

    items = [
        Workload(
            "q_sample",
            label(image_batch),
            functools.partial(_q_sample, image_batch, device),
            targets=(Target(floor_at_most=3.0),),
        )
    ]
    for sampler in ("ddpm", "ddim"):
        items.append(
            Workload(
                f"{sampler} step overhead",
                f"{label(step_batch)}, {steps} steps, time per step, zero model",
                functools.partial(_sampler_overhead, sampler, step_batch, steps, device),
                targets=(
                    Target(anchor=f"diffusers {sampler.upper()}Scheduler.step", at_least=2.0),
                ),
                calls_per_run=steps,
            )
        )
    items.append(
        Workload(
            "ddim end to end, mixture data",
            f"N={gmm_n} d=2 K=8, {steps} steps, Bayes-optimal eps model",
            functools.partial(_mixture_end_to_end, gmm_n, steps, device),
        )
    )
    return items
