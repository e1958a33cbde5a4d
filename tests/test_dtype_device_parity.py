"""float32 vs float64 parity, and cuda vs cpu parity (skipped without a GPU).

The same parameters are built in float64 and rounded once to float32; each float32 result
must equal the float64 one within a float32 tolerance (RTOL32 relative to the quantity's
scale: the inputs' own rounding, 6e-8, amplified by the mild condition numbers used here,
plus a few roundings per operation; times the number of model calls for samplers), and
come back in float32 (no silent round trip
through float64). The CUDA tests run the same operations on "cuda" and "cpu" in float64 and
compare them to 1e-10 relative (different kernels, same precision).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from gausslab import Gaussian, GaussianMixture, kl_divergence, wasserstein2
from gausslab.diffusion import Diffusion, Schedule
from tests.structures import STRUCTURES, random_gaussian

F32, F64 = torch.float32, torch.float64
RTOL32 = 2e-6
HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device on this machine")


def _params(seed: int = 0, d: int = 4, batch: int = 3) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "seed": seed,
        "loc": torch.randn(batch, d, dtype=F64, generator=generator),
        "cov": random_gaussian("dense", d=d, seed=seed).covariance_matrix,
        "x": torch.randn(5, batch, d, dtype=F64, generator=generator) * 2,
    }


def build(structure: str, p: dict[str, Any], dtype: torch.dtype, device="cpu") -> Gaussian:
    """A (3,)-batch Gaussian of the given structure drawn from p's seed in float64, cast to
    dtype/device."""
    return random_gaussian(structure, 3, d=4, seed=p["seed"], dtype=dtype, device=device)


def _mixture(p: dict[str, torch.Tensor], dtype: torch.dtype, device="cpu") -> GaussianMixture:
    components = Gaussian(
        p["loc"].to(dtype=dtype, device=device), p["cov"].to(dtype=dtype, device=device)
    )
    logits = torch.tensor([0.1, -0.4, 0.3], dtype=dtype, device=device)
    return GaussianMixture(logits, components)


# name -> f(params, dtype, device) returning one tensor
OPERATIONS: dict[str, Callable[..., torch.Tensor]] = {}


def operation(name: str):
    def register(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        OPERATIONS[name] = fn
        return fn

    return register


for _structure in STRUCTURES:

    def _log_prob(p, dtype, device="cpu", s=_structure):
        return build(s, p, dtype, device).log_prob(p["x"].to(dtype=dtype, device=device))

    def _entropy(p, dtype, device="cpu", s=_structure):
        return build(s, p, dtype, device).entropy()

    def _kl(p, dtype, device="cpu", s=_structure):
        q = _params(seed=1)
        return kl_divergence(build(s, p, dtype, device), build("dense", q, dtype, device))

    def _w2(p, dtype, device="cpu", s=_structure):
        q = _params(seed=2)
        return wasserstein2(build(s, p, dtype, device), build("dense", q, dtype, device))

    def _condition(p, dtype, device="cpu", s=_structure):
        g = build(s, p, dtype, device)
        value = torch.tensor([[0.3, -1.2]], dtype=dtype, device=device)
        result = g.condition([3, 1], value)
        return torch.cat([result.mean.flatten(), result.covariance_matrix.flatten()])

    operation(f"log_prob[{_structure}]")(_log_prob)
    operation(f"entropy[{_structure}]")(_entropy)
    operation(f"kl[{_structure}||dense]")(_kl)
    operation(f"w2[{_structure},dense]")(_w2)
    operation(f"condition[{_structure}]")(_condition)


@operation("mixture.score")
def _mixture_score(p, dtype, device="cpu"):
    x = p["x"][:, 0].to(dtype=dtype, device=device)
    return _mixture(p, dtype, device).score(x)


@operation("mixture.log_prob")
def _mixture_log_prob(p, dtype, device="cpu"):
    x = p["x"][:, 0].to(dtype=dtype, device=device)
    return _mixture(p, dtype, device).log_prob(x)


# Linear schedule: abar_T = 0.36, so the ODE steps do not amplify the float32 rounding of
# x_T by sigma_T (cosine(100) has sigma_T ~ 2000, where float32 sampling loses ~3 digits
# whatever the implementation).
DIFFUSION = Diffusion(Schedule.linear(100))
# Each sampler step rounds once more: the tolerance grows with the number of steps.
STEPS = {"sample[ddim,10 steps]": 10, "sample[heun,8 steps]": 16}


@operation("q_sample")
def _q_sample(p, dtype, device="cpu"):
    x0, noise = p["x"][0], p["x"][1]
    t = torch.tensor([1, 50, 100], device=device)
    return DIFFUSION.q_sample(
        x0.to(dtype=dtype, device=device), t, noise.to(dtype=dtype, device=device)
    )


@operation("q_posterior")
def _q_posterior(p, dtype, device="cpu"):
    x_t, x0 = (p["x"][i].to(dtype=dtype, device=device) for i in (0, 1))
    posterior = DIFFUSION.q_posterior(x_t, x0, torch.tensor([2, 50, 100], device=device))
    return torch.cat([posterior.mean.flatten(), posterior.stddev.flatten()])


@operation("p_step")
def _p_step(p, dtype, device="cpu"):
    x_t, output, noise = (p["x"][i].to(dtype=dtype, device=device) for i in (0, 1, 2))
    t = torch.tensor([1, 40, 99], device=device)
    return DIFFUSION.p_step(output, x_t, t, prediction="v", noise=noise)


@operation("sample[ddim,10 steps]")
def _ddim(p, dtype, device="cpu"):
    data = Gaussian.isotropic(torch.zeros(4, dtype=dtype, device=device), 0.7)
    model = DIFFUSION.optimal_model(data)
    x_T = p["x"][0].to(dtype=dtype, device=device)
    return DIFFUSION.sample(model, tuple(x_T.shape), sampler="ddim", steps=10, x_T=x_T)


@operation("sample[heun,8 steps]")
def _heun(p, dtype, device="cpu"):
    data = Gaussian.diagonal(
        torch.zeros(4, dtype=dtype, device=device),
        torch.linspace(0.3, 1.2, 4, dtype=dtype, device=device),
    )
    model = DIFFUSION.optimal_model(data, prediction="v")
    x_T = p["x"][0].to(dtype=dtype, device=device)
    return DIFFUSION.sample(
        model, tuple(x_T.shape), sampler="heun", steps=8, prediction="v", x_T=x_T
    )


NAMES = sorted(OPERATIONS)


@pytest.mark.parametrize("name", NAMES)
def test_float32_matches_float64(name: str):
    """The float32 result equals the float64 one within RTOL32 of its scale, and stays in
    float32."""
    p = _params()
    result32 = OPERATIONS[name](p, F32)
    result64 = OPERATIONS[name](p, F64)
    assert result32.dtype == F32 and result64.dtype == F64
    assert torch.isfinite(result32).all()
    scale = result64.abs().max().clamp(min=1.0)
    error = (result32.double() - result64).abs().max()
    rtol = RTOL32 * STEPS.get(name, 1)
    print(f"\n[float32 vs float64] {name}: {(error / scale).item():.2e} relative to scale")
    assert error <= rtol * scale, f"{name}: {error.item():.3g} > {rtol} * {scale.item():.3g}"


@needs_cuda
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name: str):
    """The same operation on cuda and on cpu (float64) agrees to 1e-10 relative, and the
    result stays on cuda."""
    p = _params()
    on_cuda = OPERATIONS[name](p, F64, "cuda")
    on_cpu = OPERATIONS[name](p, F64, "cpu")
    assert on_cuda.device.type == "cuda"
    torch.testing.assert_close(on_cuda.cpu(), on_cpu, rtol=1e-10, atol=1e-10)


@needs_cuda
def test_cuda_float32_matches_cpu_float64():
    """float32 on cuda is as close to float64 on cpu as float32 on cpu is (log_prob,
    dense)."""
    p = _params()
    on_cuda = OPERATIONS["log_prob[dense]"](p, F32, "cuda")
    reference = OPERATIONS["log_prob[dense]"](p, F64)
    assert on_cuda.dtype == F32 and on_cuda.device.type == "cuda"
    scale = reference.abs().max().clamp(min=1.0)
    assert (on_cuda.cpu().double() - reference).abs().max() <= RTOL32 * scale
