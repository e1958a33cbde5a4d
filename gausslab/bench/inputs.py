"""Deterministic benchmark inputs: random tensors and positive-definite matrices.

Every builder takes an explicit seed so that a workload sees the same numbers on every run.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["randn", "spd_matrix"]


def randn(*shape: int, seed: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Standard normal draws of `shape` from a generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=dtype).to(device)


def spd_matrix(d: int, *, seed: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A well-conditioned symmetric positive-definite (d, d) matrix: A A^T / d + I."""
    a = randn(d, d, seed=seed, dtype=torch.float64, device=torch.device("cpu"))
    matrix = a @ a.T / d + torch.eye(d, dtype=torch.float64)
    return matrix.to(dtype=dtype, device=device)
