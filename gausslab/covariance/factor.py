"""Factorizing a symmetric matrix once, or saying exactly why it cannot be.

    Sigma = L L^T  (Cholesky), refused when Sigma is
    - not symmetric: |Sigma - Sigma^T| beyond round-off;
    - not positive semidefinite: an eigenvalue below -d eps lambda_max;
    - singular to working precision: a pivot L_ii^2 / Sigma_ii <= d eps (the Schur
      complement is round-off; a rank-deficient matrix can pass Cholesky on such a pivot
      and give densities that are wrong by orders of magnitude);
    - too ill-conditioned for its dtype (float32): positive definite in float64, but its
      condition number exceeds what the dtype's Cholesky resolves.
Each error names the argument, the failing batch member and the numbers behind the verdict.
float16/bfloat16 matrices are factorized in float32 (``compute_dtype``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from gausslab.covariance.base import compute_dtype

__all__ = ["check_square", "cholesky", "diagnose", "singular_cutoff", "symmetrized"]


def check_square(matrix: Tensor, name: str) -> None:
    if matrix.dim() < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(
            f"{name} must be a square matrix of shape (..., d, d), got shape {tuple(matrix.shape)}"
        )
    if matrix.shape[-1] == 0:
        raise ValueError(f"{name} must have d >= 1, got shape {tuple(matrix.shape)}")


def symmetrized(matrix: Tensor, name: str) -> Tensor:
    """(M + M^T) / 2 in the compute dtype, after checking that M is symmetric to round-off."""
    check_square(matrix, name)
    asymmetry = (matrix - matrix.mT).abs().amax() if matrix.numel() else matrix.new_zeros(())
    tolerance = 64 * torch.finfo(matrix.dtype).eps * max(matrix.abs().amax().item(), 1e-300)
    if asymmetry.item() > tolerance:
        raise ValueError(
            f"{name} must be symmetric, but |M - M^T| reaches {asymmetry.item():.3g} "
            f"(tolerance {tolerance:.3g}) for {name} of shape {tuple(matrix.shape)}"
        )
    work = matrix.to(compute_dtype(matrix.dtype))
    return 0.5 * (work + work.mT)


def singular_cutoff(dtype: torch.dtype, dim: int) -> float:
    """Relative size d eps below which a pivot or eigenvalue is round-off (numpy's
    matrix_rank tolerance), eps being that of the input dtype."""
    return dim * torch.finfo(dtype).eps


def cholesky(matrix: Tensor, name: str, *, singular_hint: str = "") -> Tensor:
    """The Cholesky factor of a symmetric positive-definite matrix, in the compute dtype,
    or a ValueError from ``diagnose``. `singular_hint` is appended to the message for a
    singular matrix (e.g. how to ask for a degenerate Gaussian)."""
    symmetric = symmetrized(matrix, name)
    scale_tril, info = torch.linalg.cholesky_ex(symmetric)
    d = symmetric.shape[-1]
    pivots = scale_tril.diagonal(dim1=-2, dim2=-1).square()
    relative = pivots / symmetric.diagonal(dim1=-2, dim2=-1)
    tiny = (relative <= singular_cutoff(matrix.dtype, d)).any(-1)
    failed = (info != 0) | tiny
    if bool(failed.any()):
        raise diagnose(symmetric, name, failed, matrix.dtype, singular_hint)
    return scale_tril


def diagnose(
    symmetric: Tensor, name: str, failed: Tensor, dtype: torch.dtype, singular_hint: str = ""
) -> ValueError:
    """Why the first failing batch member of a symmetric matrix cannot be factorized:
    indefinite, singular to working precision, or too ill-conditioned for its dtype."""
    index = tuple(int(i) for i in failed.nonzero()[0]) if failed.dim() else ()
    member = symmetric[index].detach().to(torch.float64)
    eigenvalues = torch.linalg.eigvalsh(member)
    smallest, largest = eigenvalues[0].item(), eigenvalues[-1].item()
    d = member.shape[-1]
    where = f" at batch index {index}" if index else ""
    shape = f"(shape {tuple(symmetric.shape)}{where})"
    cutoff = singular_cutoff(dtype, d) * max(abs(largest), 1e-300)
    if smallest < -cutoff:
        return ValueError(
            f"{name} must be positive definite, but its smallest eigenvalue is "
            f"{smallest:.6g} {shape}"
        )
    if smallest > singular_cutoff(torch.float64, d) * largest and dtype != torch.float64:
        return ValueError(
            f"{name} is positive definite but too ill-conditioned for {dtype}: its condition "
            f"number is about {largest / smallest:.3g} (eigenvalues {smallest:.3g} to "
            f"{largest:.3g}), beyond the 1 / (d eps) = {1 / singular_cutoff(dtype, d):.3g} "
            f"that a {dtype} Cholesky factorization resolves {shape}; use float64"
        )
    rank = int((eigenvalues > cutoff).sum())
    rank_text = f"numerical rank {rank} of {d}, " if rank < d else ""
    return ValueError(
        f"{name} must be positive definite, but it is singular to working precision "
        f"({dtype}): {rank_text}eigenvalues {smallest:.3g} to "
        f"{largest:.3g}, condition number about {largest / max(smallest, 1e-300):.3g} "
        f"{shape}{singular_hint}"
    )
