"""Algebra suite: KL divergence, conditioning and the mixture score.

- KL between dense Gaussians against ``torch.distributions.kl_divergence`` on two
  ``MultivariateNormal`` (both given the same factorized distributions, so only the KL is
  timed).
- Conditioning a dense Gaussian on half of its coordinates (every other one, so that the
  conditioned block is not a leading block) for a batch of observed values, against the naive
  float64 numpy formula with ``np.linalg.inv`` of the conditioned block:
  mu_{1|2} = mu_1 + S_12 S_22^{-1} (v - mu_2), S_{1|2} = S_11 - S_12 S_22^{-1} S_21.
- The score grad_x log p(x) of a Gaussian mixture against autograd through
  ``MixtureSameFamily.log_prob``, for isotropic and for dense components.

Floors are GEMMs: of the same flops (KL: the d^3 / 3 of a triangular solve with a triangular
right-hand side; conditioning: the textbook formula's products; dense mixture: two
triangular solves per component), or the products the computation cannot avoid (isotropic
mixture: x M^T for the responsibilities and R M for the weighted means); and the bare
triangular solve that torch's KL does.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch.distributions import (
    Categorical,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)
from torch.distributions import kl_divergence as torch_kl

from gausslab import Gaussian, kl_divergence
from gausslab.bench.floors import GEMM, equal_flops, gemm_floor, gemm_flops, solve_floor
from gausslab.bench.harness import Candidates, Target, Workload
from gausslab.bench.inputs import randn, spd_matrix
from gausslab.bench.suites import fmt_dtype
from gausslab.mixture import GaussianMixture

__all__ = ["workloads"]

TORCH_KL = "torch kl_divergence(MVN, MVN)"
NUMPY = "numpy float64, inv(S_22)"
AUTOGRAD = "autograd of MixtureSameFamily.log_prob"


def _mixture_gemms(kind: str, k: int, d: int, n: int) -> list[tuple[int, int, int]]:
    """The products a mixture score needs. Isotropic components: x M^T (n, d) @ (d, k) for
    the squared distances and R M (n, k) @ (k, d) for the responsibility-weighted means.
    Dense components: two triangular solves of n right-hand sides per component, as one
    GEMM of the same flops (2 k n d^2)."""
    if kind == "isotropic":
        return [(n, d, k), (n, k, d)]
    return [equal_flops(2.0 * k * n * d * d)]


def _kl(d: int, dtype: torch.dtype, device: torch.device) -> Candidates:
    pairs = []
    for seed in (1, 2):
        loc = randn(d, seed=seed, dtype=dtype, device=device)
        covariance = spd_matrix(d, seed=seed + 10, dtype=dtype, device=device)
        pairs.append(
            (
                Gaussian(loc, covariance, validate_args=False),
                MultivariateNormal(loc, covariance, validate_args=False),
            )
        )
    (p, p_torch), (q, q_torch) = pairs
    return Candidates(
        gausslab=lambda: kl_divergence(p, q),
        anchors={TORCH_KL: lambda: torch_kl(p_torch, q_torch)},
        floors=dict(
            [
                gemm_floor(equal_flops(d**3 / 3), dtype=dtype, device=device),
                solve_floor(q_torch.scale_tril, p_torch.scale_tril),
            ]
        ),
        reference=TORCH_KL,
    )


def _naive_condition(
    mean: np.ndarray, covariance: np.ndarray, idx: np.ndarray, others: np.ndarray, values
) -> tuple[np.ndarray, np.ndarray]:
    """The textbook formula in float64 numpy, with an explicit inverse of S_22."""
    s11 = covariance[np.ix_(others, others)]
    s12 = covariance[np.ix_(others, idx)]
    gain = s12 @ np.linalg.inv(covariance[np.ix_(idx, idx)])
    conditional_mean = mean[others] + (values - mean[idx]) @ gain.T
    return conditional_mean, s11 - gain @ s12.T


def _textbook_condition_flops(d: int, k: int, n: int) -> float:
    """Flops of the textbook formula: inv(S_22) (2 k^3), the gain S_12 S_22^{-1} (2 m k^2),
    the Schur complement (2 m^2 k) and n conditional means (2 n k m), with m = d - k."""
    m = d - k
    return float(2 * k**3 + 2 * m * k * k + 2 * m * m * k + 2 * n * k * m)


def _condition(d: int, k: int, n: int, device: torch.device) -> Candidates:
    dtype = torch.float64
    loc = randn(d, seed=1, dtype=dtype, device=device)
    covariance = spd_matrix(d, seed=2, dtype=dtype, device=device)
    g = Gaussian(loc, covariance, validate_args=False)
    idx = list(range(0, 2 * k, 2))
    others = [i for i in range(d) if i not in set(idx)]
    values = randn(n, k, seed=3, dtype=dtype, device=device)
    mean_np, cov_np, values_np = loc.cpu().numpy(), covariance.cpu().numpy(), values.cpu().numpy()
    idx_np, others_np = np.asarray(idx), np.asarray(others)
    flops = _textbook_condition_flops(d, k, n)
    return Candidates(
        gausslab=lambda: g.condition(idx, values).loc,
        anchors={NUMPY: lambda: _naive_condition(mean_np, cov_np, idx_np, others_np, values_np)[0]},
        floors=dict([gemm_floor(equal_flops(flops), dtype=dtype, device=device)]),
        reference=NUMPY,
    )


def _mixture_score(kind: str, k: int, d: int, n: int, device: torch.device) -> Candidates:
    dtype = torch.float32
    means = randn(k, d, seed=1, dtype=dtype, device=device).mul(2.0)
    logits = randn(k, seed=2, dtype=dtype, device=device)
    if kind == "isotropic":
        std = randn(k, seed=3, dtype=dtype, device=device).abs().add(0.5)
        components = Gaussian.isotropic(means, std, validate_args=False)
        torch_components = Independent(
            Normal(means, std[:, None].expand(k, d), validate_args=False), 1
        )
    else:
        scale_tril = torch.stack(
            [
                torch.linalg.cholesky(spd_matrix(d, seed=10 + j, dtype=dtype, device=device))
                for j in range(k)
            ]
        )
        components = Gaussian(means, scale_tril=scale_tril, validate_args=False)
        torch_components = MultivariateNormal(means, scale_tril=scale_tril, validate_args=False)
    mixture = GaussianMixture(logits, components, validate_args=False)
    anchor = MixtureSameFamily(
        Categorical(logits=logits, validate_args=False), torch_components, validate_args=False
    )
    x = randn(n, d, seed=4, dtype=dtype, device=device)

    def autograd_score() -> torch.Tensor:
        leaf = x.detach().requires_grad_(True)
        (gradient,) = torch.autograd.grad(anchor.log_prob(leaf).sum(), leaf)
        return gradient

    return Candidates(
        gausslab=lambda: mixture.score(x),
        anchors={AUTOGRAD: autograd_score},
        floors=dict([gemm_floor(*_mixture_gemms(kind, k, d, n), dtype=dtype, device=device)]),
        reference=AUTOGRAD,
    )


def workloads(device: torch.device, quick: bool) -> list[Workload]:
    """The algebra suite at full size, or every workload at a tiny size when `quick`."""
    kl_d = 8 if quick else 1024
    cond_d, cond_k, cond_n = (8, 4, 3) if quick else (1024, 512, 1000)
    mix_k, mix_d, mix_n = (3, 4, 16) if quick else (16, 64, 100_000)
    items = [
        Workload(
            "KL dense",
            f"d={kl_d} {fmt_dtype(dtype)}",
            functools.partial(_kl, kl_d, dtype, device),
            targets=(Target(anchor=TORCH_KL, at_least=1.5),),
            flops=kl_d**3 / 3,
        )
        for dtype in (torch.float32, torch.float64)
    ]
    items.append(
        Workload(
            "condition dense",
            f"d={cond_d} on {cond_k} coordinates (every other one), {cond_n} values, float64",
            functools.partial(_condition, cond_d, cond_k, cond_n, device),
            targets=(Target(anchor=NUMPY, at_least=1.0),),
            flops=_textbook_condition_flops(cond_d, cond_k, cond_n),
        )
    )
    for kind in ("isotropic", "dense"):
        items.append(
            Workload(
                f"mixture score, {kind} components",
                f"K={mix_k} d={mix_d} N={mix_n} float32",
                functools.partial(_mixture_score, kind, mix_k, mix_d, mix_n, device),
                targets=(Target(floor=GEMM, at_most=2.0),) if kind == "isotropic" else (),
                flops=gemm_flops(*_mixture_gemms(kind, mix_k, mix_d, mix_n)),
            )
        )
    return items
