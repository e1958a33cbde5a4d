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

from benchmarks.harness import Candidates, Target, Workload
from benchmarks.inputs import randn, spd_matrix
from gausslab import Gaussian, kl_divergence
from gausslab.mixture import GaussianMixture

__all__ = ["workloads"]


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
        anchors={"torch kl_divergence(MVN, MVN)": lambda: torch_kl(p_torch, q_torch)},
        reference="torch kl_divergence(MVN, MVN)",
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
    return Candidates(
        gausslab=lambda: g.condition(idx, values).loc,
        anchors={
            "numpy float64, inv(S_22)": lambda: _naive_condition(
                mean_np, cov_np, idx_np, others_np, values_np
            )[0]
        },
        reference="numpy float64, inv(S_22)",
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
        anchors={"autograd of MixtureSameFamily.log_prob": autograd_score},
        reference="autograd of MixtureSameFamily.log_prob",
    )


def workloads(device: torch.device, quick: bool) -> list[Workload]:
    """The algebra suite at full size, or every workload at a tiny size when `quick`."""
    kl_d = 8 if quick else 1024
    cond_d, cond_k, cond_n = (8, 4, 3) if quick else (1024, 512, 1000)
    mix_k, mix_d, mix_n = (3, 4, 16) if quick else (16, 64, 100_000)
    items = [
        Workload(
            "KL dense",
            f"d={kl_d} {str(dtype).removeprefix('torch.')}",
            functools.partial(_kl, kl_d, dtype, device),
            targets=(Target(anchor="torch kl_divergence(MVN, MVN)", at_least=1.5),),
        )
        for dtype in (torch.float32, torch.float64)
    ]
    items.append(
        Workload(
            "condition dense",
            f"d={cond_d} on {cond_k} coordinates, {cond_n} values, float64",
            functools.partial(_condition, cond_d, cond_k, cond_n, device),
        )
    )
    for kind in ("isotropic", "dense"):
        items.append(
            Workload(
                f"mixture score, {kind} components",
                f"K={mix_k} d={mix_d} N={mix_n} float32",
                functools.partial(_mixture_score, kind, mix_k, mix_d, mix_n, device),
            )
        )
    return items
