"""Diffusion suite: q_sample and the reverse samplers against diffusers' schedulers.

- q_sample on an image batch against ``DDPMScheduler.add_noise`` (same x0, noise and
  timesteps) and the read and copy floors of x0 (q_sample reads x0 and the noise and writes
  x_t: three streams where the copy has two).
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
from collections.abc import Callable
from types import ModuleType

import torch
from torch import Tensor

from gausslab.bench.floors import COPY, copy_floor, read_floor
from gausslab.bench.harness import Candidates, Target, Workload
from gausslab.bench.inputs import randn
from gausslab.bench.suites import optional_module
from gausslab.diffusion import Diffusion, Schedule

__all__ = ["workloads"]

_T = 1000
ADD_NOISE = "diffusers add_noise"
DDIM_LOOP = "diffusers DDIMScheduler"


def _diffusers() -> ModuleType | None:
    return optional_module("diffusers")


def _q_sample(shape: tuple[int, ...], device: torch.device) -> Candidates:
    diffusion = Diffusion(Schedule.linear(_T))
    x0 = randn(*shape, seed=1, dtype=torch.float32, device=device)
    noise = randn(*shape, seed=2, dtype=torch.float32, device=device)
    generator = torch.Generator().manual_seed(3)
    t = torch.randint(1, _T + 1, (shape[0],), generator=generator).to(device)
    anchors = {}
    diffusers = _diffusers()
    if diffusers is not None:
        scheduler = diffusers.DDPMScheduler(num_train_timesteps=_T)
        t_diffusers = t - 1
        anchors[ADD_NOISE] = lambda: scheduler.add_noise(x0, noise, t_diffusers)
    return Candidates(
        gausslab=lambda: diffusion.q_sample(x0, t, noise),
        anchors=anchors,
        floors=dict([read_floor(x0), copy_floor(x0)]),
        reference=ADD_NOISE if anchors else None,
    )


def _diffusers_loop(scheduler: object, model, x_T: Tensor, steps: int) -> Tensor:
    """diffusers' sampling loop: set_timesteps, then one step per timestep."""
    scheduler.set_timesteps(steps)
    x = x_T
    for timestep in scheduler.timesteps:
        x = scheduler.step(model(x, timestep + 1), timestep, x).prev_sample
    return x


def _chain_floor(sampler: str, x_T: Tensor, steps: int) -> tuple[str, Callable[[], object]]:
    """The floor of one chain: per step one in-place update of x, plus for ddpm one normal
    draw into a preallocated buffer added to it (ddim with eta = 0 draws nothing)."""
    x, noise = torch.empty_like(x_T), torch.empty_like(x_T)
    draws = sampler == "ddpm"

    def chain() -> None:
        x.copy_(x_T)
        for _ in range(steps):
            x.mul_(0.5)
            if draws:
                x.add_(noise.normal_())

    return ("in-place update + normal_" if draws else "in-place update"), chain


def _sampler_overhead(
    sampler: str, shape: tuple[int, ...], steps: int, device: torch.device
) -> Candidates:
    diffusion = Diffusion(Schedule.linear(_T))
    x_T = randn(*shape, seed=1, dtype=torch.float32, device=device)
    zero = torch.zeros_like(x_T)

    def trivial_model(x: Tensor, t: Tensor) -> Tensor:
        return zero

    anchors = {}
    diffusers = _diffusers()
    if diffusers is not None:
        options = {"num_train_timesteps": _T, "clip_sample": False, "timestep_spacing": "trailing"}
        family = diffusers.DDPMScheduler if sampler == "ddpm" else diffusers.DDIMScheduler
        scheduler = family(**options)
        anchors[_step_anchor(sampler)] = lambda: _diffusers_loop(
            scheduler, trivial_model, x_T, steps
        )
    return Candidates(
        gausslab=lambda: diffusion.sample(
            trivial_model, shape, sampler=sampler, steps=steps, x_T=x_T
        ),
        anchors=anchors,
        floors=dict([_chain_floor(sampler, x_T, steps)]),
        reference=_step_anchor(sampler) if anchors and sampler == "ddim" else None,
    )


def _step_anchor(sampler: str) -> str:
    return f"diffusers {sampler.upper()}Scheduler.step"


def _mixture_end_to_end(n: int, steps: int, device: torch.device) -> Candidates:
    from gausslab import Gaussian
    from gausslab.mixture import GaussianMixture

    k, d = 8, 2
    angles = torch.arange(k, dtype=torch.float32) * (2 * torch.pi / k)
    means = torch.stack([angles.cos(), angles.sin()], dim=-1).mul(2.0).to(device)
    components = Gaussian.isotropic(means, torch.full((k,), 0.3, device=device))
    data = GaussianMixture(torch.zeros(k, device=device), components)
    diffusion = Diffusion(Schedule.linear(_T))
    model = diffusion.optimal_model(data)
    x_T = randn(n, d, seed=1, dtype=torch.float32, device=device)

    def model_with_batched_t(x: Tensor, t: Tensor) -> Tensor:
        return model(x, t.expand(x.shape[0]) if t.dim() == 0 else t)

    anchors = {}
    diffusers = _diffusers()
    if diffusers is not None:
        scheduler = diffusers.DDIMScheduler(
            num_train_timesteps=_T, clip_sample=False, timestep_spacing="trailing"
        )
        anchors[DDIM_LOOP] = lambda: _diffusers_loop(scheduler, model_with_batched_t, x_T, steps)
    return Candidates(
        gausslab=lambda: diffusion.sample(model, (n, d), sampler="ddim", steps=steps, x_T=x_T),
        anchors=anchors,
        reference=DDIM_LOOP if anchors else None,
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
            targets=(Target(floor=COPY, at_most=1.5),),
        )
    ]
    for sampler in ("ddpm", "ddim"):
        items.append(
            Workload(
                f"{sampler} step overhead",
                f"{label(step_batch)}, {steps} steps, time per step, zero model",
                functools.partial(_sampler_overhead, sampler, step_batch, steps, device),
                targets=(Target(anchor=_step_anchor(sampler), at_least=2.0),),
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
