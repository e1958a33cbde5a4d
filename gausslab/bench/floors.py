"""Machine floors: the cheapest operations that do the same amount of work as a workload.

A floor answers "how fast could this possibly be on this machine?", so it must not pay for
anything the workload does not have to pay for. In particular no floor allocates its output
afresh: a fresh allocation of tens of MB costs page faults (on CPU, several times the memory
traffic it stands for), so every output buffer is allocated once, at setup.

- elementwise work: ``read_floor`` (one read of the input, ``x.sum()``) and ``copy_floor``
  (one read and one write, ``buf.copy_(x)`` into a preallocated buffer);
- draws: ``normal_floor`` (``buf.normal_()`` into a preallocated buffer);
- dense linear algebra: ``gemm_floor`` (matrix products of the same flops, into
  preallocated outputs, i.e. the flops at the machine's GEMM rate) and ``solve_floor`` (a
  bare ``solve_triangular`` with as many right-hand sides).

Each builder returns ``(name, call)``; ``Candidates(floors=dict([...]))`` takes a list of
them, and a ``Target(floor=NAME, at_most=r)`` names one by the constants below.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "COPY",
    "GEMM",
    "NORMAL",
    "READ",
    "SOLVE",
    "copy_floor",
    "equal_flops",
    "gemm_floor",
    "gemm_flops",
    "normal_floor",
    "read_floor",
    "solve_floor",
]

READ = "one read (x.sum())"
COPY = "in-place copy"
NORMAL = "normal_ into buffer"
GEMM = "GEMM, same flops"
SOLVE = "solve_triangular"

Floor = tuple[str, Callable[[], object]]
Shape = tuple[int, int, int]


def read_floor(x: Tensor) -> Floor:
    """One pass reading x: the least any function of all of x must do."""
    return READ, x.sum


def copy_floor(x: Tensor) -> Floor:
    """One read of x and one write of the same size, into a buffer allocated once."""
    buffer = torch.empty_like(x)
    return COPY, lambda: buffer.copy_(x)


def normal_floor(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Floor:
    """A standard normal draw of `shape` into a buffer allocated once."""
    buffer = torch.empty(shape, dtype=dtype, device=device)
    return NORMAL, buffer.normal_


def gemm_flops(*shapes: Shape) -> float:
    """Flops of the products (m, k) @ (k, n): 2 m k n each."""
    return float(sum(2 * m * k * n for m, k, n in shapes))


def equal_flops(flops: float) -> Shape:
    """A square GEMM (s, s) @ (s, s) of about `flops` flops: the machine's GEMM rate at that
    amount of work, for computations whose own products are not plain GEMMs."""
    side = max(1, round((flops / 2) ** (1 / 3)))
    return side, side, side


def gemm_floor(*shapes: Shape, dtype: torch.dtype, device: torch.device) -> Floor:
    """The products (m, k) @ (k, n) of `shapes`, each into an output allocated once."""
    generator = torch.Generator().manual_seed(0)
    operands = []
    for m, k, n in shapes:
        a = torch.randn(m, k, generator=generator, dtype=dtype).to(device)
        b = torch.randn(k, n, generator=generator, dtype=dtype).to(device)
        operands.append((a, b, torch.empty(m, n, dtype=dtype, device=device)))

    def products() -> None:
        for a, b, out in operands:
            torch.matmul(a, b, out=out)

    return GEMM, products


def solve_floor(scale_tril: Tensor, rows: Tensor) -> Floor:
    """Z = X L^{-T} (each row z_i = L^{-1} x_i) by one bare triangular solve, into a buffer
    allocated once."""
    buffer = torch.empty_like(rows)
    upper = scale_tril.mT
    return SOLVE, lambda: torch.linalg.solve_triangular(
        upper, rows, upper=True, left=False, out=buffer
    )
