"""Kernels at the machine's floor: fused, cache-chunked and blocked versions of the hot loops.

The structures (covariance, gaussian, divergences, algebra, diffusion) call these instead of
writing ``(x - mu) * w`` and friends inline, because on a CPU the straightforward form pays
twice: every step allocates a full-size intermediate (tens of MB: page faults that cost
several times the memory traffic) and streams it through main memory once more. Here the
rows of x are processed in chunks that fit in the cores' L2 caches, into one buffer that is
reused from chunk to chunk, with in-place operations; only the result is allocated.

- ``sq_norm_centered(x, loc, inv_scale)``: sum over the last dim of ((x - loc) * inv_scale)^2,
  the Mahalanobis distance of diagonal and isotropic Gaussians (log_prob);
- ``tril_solve_(a, b)``: b <- a^{-1} b in place for lower-triangular a, blocked so that most
  flops are GEMMs (a blocked solve beats the BLAS triangular solve, TRSM, on CPUs whose GEMM
  is much faster than their TRSM); with ``rhs_lower=True`` a lower-triangular b costs half;
- ``sq_norm_whitened(x, loc, scale_tril)``: |L^{-1} (x - loc)|^2 per row (dense log_prob);
- ``strict_lower_sq_norm(a, b)``: |tril(a^{-1} b, -1)|_F^2 (the KL trace term);
- ``affine_(z, loc, scale)``: z <- loc + scale * z in place (rsample after an in-place draw);
- ``scaled_sum(a, x, b, y)``: a x + b y with per-row or scalar coefficients (q_sample).

Every kernel has two paths. The fast path runs on CPU tensors when autograd is not
recording through them; everything else (CUDA tensors, which the caching allocator already
serves without page faults, and any computation that needs gradients) takes the plain torch
expression, whose derivatives are exact. The two agree to rounding (tests/test_kernels.py).
No kernel validates its inputs: the structures validate once, at construction.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "affine_",
    "chunk_rows",
    "scaled_sum",
    "sq_norm_centered",
    "sq_norm_whitened",
    "strict_lower_sq_norm",
    "sum_squares",
    "tril_solve_",
]

# Diagonal blocks of at most this size are solved by one TRSM call; larger problems split in
# two, and the off-diagonal block becomes one GEMM.
LEAF_SIZE = 128
# sq_norm_whitened's split: a chunk of rows is solved by one TRSM up to this size. On the CPU
# this was tuned on (AMD EPYC, MKL), one TRSM on a chunk in cache beat the GEMM-blocked split
# (the TRSM leaves of the split run at half its rate, and GEMMs 128 wide no faster than it).
WHITEN_LEAF = 4096

_DEFAULT_L2_BYTES = 1 << 20


@functools.cache
def _l2_bytes() -> int:
    """The L2 cache of one core, from sysfs (Linux), else 1 MiB."""
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for index in sorted(root.glob("index*")):
            if (index / "level").read_text().strip() == "2":
                size = (index / "size").read_text().strip().upper()
                scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1], 1)
                return int(size.rstrip("KM")) * scale
    except (OSError, ValueError):
        pass
    return _DEFAULT_L2_BYTES


def chunk_rows(row_bytes: int) -> int:
    """Rows per chunk: as many as fill the L2 caches of the threads that share a chunk (each
    thread works on its own slice of it), at least one."""
    budget = _l2_bytes() * max(1, torch.get_num_threads())
    return max(1, budget // max(1, row_bytes))


def _fast(*tensors: Tensor | None) -> bool:
    """True when the in-place CPU path may run: every tensor on the CPU and autograd not
    recording through any of them."""
    present = [t for t in tensors if t is not None]
    if any(t.device.type != "cpu" for t in present):
        return False
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in present))


def sum_squares(v: Tensor) -> Tensor:
    """sum_i v_i^2 over the last dim.

    Without autograd, |v|_2^2 by ``vector_norm`` (one fused pass, about 2x faster than
    ``vecdot`` on large CPU tensors); with autograd, ``vecdot``, whose derivatives stay exact
    at v = 0 to every order (the norm's second derivative there is masked to zero).
    """
    if torch.is_grad_enabled() and v.requires_grad:
        return torch.linalg.vecdot(v, v)
    return torch.linalg.vector_norm(v, dim=-1).square()


def _row_block(x: Tensor, *params: Tensor | None) -> tuple[int, ...] | None:
    """The trailing shape P that the parameters broadcast over, when x is a stack of rows of
    shape P (x.shape = (..., *P)) and each parameter is the same for every row: then x can be
    processed in chunks of rows. None otherwise (e.g. a parameter with more batch dims than
    x has)."""
    shapes = [p.shape for p in params if p is not None]
    block = torch.broadcast_shapes(x.shape[-1:], *shapes)
    while len(block) > 1 and block[0] == 1:
        block = block[1:]
    if len(block) > x.dim() or tuple(x.shape[x.dim() - len(block) :]) != tuple(block):
        return None
    return tuple(block)


def _as_block(param: Tensor, block: tuple[int, ...]) -> Tensor:
    """A parameter broadcast to the row block (its extra leading dims are singletons)."""
    extra = max(0, param.dim() - len(block))
    return param.reshape(param.shape[extra:]).expand(block).contiguous()


def sq_norm_centered(
    x: Tensor, loc: Tensor | None = None, inv_scale: Tensor | None = None
) -> Tensor:
    """sum_j ((x_j - loc_j) * inv_scale_j)^2 over the last dim of x; loc and inv_scale
    broadcast against x (None means 0 and 1).

    Fast path: rows of x in L2-sized chunks, each centered and scaled by one fused
    ``addcmul`` (or ``sub`` / ``mul``) into a reused buffer and reduced by ``vector_norm``:
    one read of x from memory, no full-size intermediate.
    """
    if loc is None and inv_scale is None:
        return sum_squares(x)
    block = _row_block(x, loc, inv_scale) if _fast(x, loc, inv_scale) else None
    if block is None or not x.is_contiguous():
        centered = x if loc is None else x - loc
        return sum_squares(centered if inv_scale is None else centered * inv_scale)
    rows = x.reshape(-1, *block)
    out = torch.empty(rows.shape[:-1], dtype=x.dtype, device=x.device)
    step = chunk_rows(rows[0].numel() * x.element_size())
    buffer = torch.empty((min(step, rows.shape[0]), *block), dtype=x.dtype, device=x.device)
    loc = None if loc is None else _as_block(loc, block)
    if inv_scale is not None:
        inv_scale = _as_block(inv_scale, block)
        if loc is not None:
            loc = -(loc * inv_scale)  # (x - loc) w = x w - loc w: one fused addcmul
    for start in range(0, rows.shape[0], step):
        chunk = rows[start : start + step]
        work = buffer[: chunk.shape[0]]
        if inv_scale is None:
            torch.sub(chunk, loc, out=work)
        elif loc is None:
            torch.mul(chunk, inv_scale, out=work)
        else:
            torch.addcmul(loc, chunk, inv_scale, out=work)
        torch.linalg.vector_norm(work, dim=-1, out=out[start : start + step])
    return out.square_().reshape(x.shape[:-1])


def tril_solve_(
    a: Tensor, b: Tensor, *, rhs_lower: bool = False, leaf: int | None = None
) -> Tensor:
    """b <- a^{-1} b in place, for a lower-triangular (n, n) matrix a and an (n, m) matrix b
    (any strides: b may be a transposed view). Returns b. No autograd.

    On 2 x 2 blocks, with h = n // 2,
        [a11 0; a21 a22]^{-1} [b1; b2] = [x1; x2],  x1 = a11^{-1} b1,
        x2 = a22^{-1} (b2 - a21 x1),
    so the work is two half-size solves and one GEMM; recursing down to `leaf` (default
    LEAF_SIZE) rows puts all but about leaf / n of the flops in GEMMs. With ``rhs_lower`` (b
    square and lower triangular, so is x) the zero block of b is never touched:
        x11 = a11^{-1} b11,  x21 = a22^{-1} (b21 - a21 x11),  x22 = a22^{-1} b22,
    about n^3 / 2 flops against n^3 for a full solve; x21 is a general solve (with `leaf`).
    """
    n = a.shape[-1]
    if n <= (LEAF_SIZE if leaf is None else leaf):
        return torch.linalg.solve_triangular(a, b, upper=False, out=b)
    h = n // 2
    a11, a21, a22 = a[..., :h, :h], a[..., h:, :h], a[..., h:, h:]
    if rhs_lower:
        tril_solve_(a11, b[..., :h, :h], rhs_lower=True, leaf=leaf)
        _sub_product_(b[..., h:, :h], a21, b[..., :h, :h])
        tril_solve_(a22, b[..., h:, :h], leaf=leaf)
        tril_solve_(a22, b[..., h:, h:], rhs_lower=True, leaf=leaf)
    else:
        tril_solve_(a11, b[..., :h, :], leaf=leaf)
        _sub_product_(b[..., h:, :], a21, b[..., :h, :])
        tril_solve_(a22, b[..., h:, :], leaf=leaf)
    return b


def _sub_product_(c: Tensor, a: Tensor, b: Tensor) -> None:
    """c <- c - a b in place (one GEMM into c when unbatched)."""
    if c.dim() == 2:
        c.addmm_(a, b, alpha=-1)
    else:
        c.sub_(a @ b)


def sq_norm_whitened(x: Tensor, loc: Tensor, scale_tril: Tensor) -> Tensor:
    """|L^{-1} (x - loc)|^2 over the last dim, for an unbatched (d, d) lower-triangular L and
    a loc that is one vector (d,) for every row of x.

    Fast path: rows of x in L2-sized chunks; each chunk is centered into a reused buffer,
    whitened there in place by ``tril_solve_`` (Z^T = L^{-1} X^T on the transposed view, no
    copy; WHITEN_LEAF sets how far it splits) and reduced by ``vector_norm``: no full-size
    intermediate.
    """
    d = x.shape[-1]
    fast = _fast(x, loc, scale_tril) and x.is_contiguous() and _row_block(x, loc) == (d,)
    if not fast:
        centered = (x - loc).reshape(-1, d)
        z = torch.linalg.solve_triangular(scale_tril.mT, centered, upper=True, left=False)
        return sum_squares(z).reshape(torch.broadcast_shapes(x.shape, loc.shape)[:-1])
    rows = x.reshape(-1, d)
    out = torch.empty(rows.shape[0], dtype=x.dtype, device=x.device)
    step = chunk_rows(d * x.element_size())
    buffer = torch.empty((min(step, rows.shape[0]), d), dtype=x.dtype, device=x.device)
    loc = _as_block(loc, (d,))
    for start in range(0, rows.shape[0], step):
        chunk = rows[start : start + step]
        work = buffer[: chunk.shape[0]]
        torch.sub(chunk, loc, out=work)
        tril_solve_(scale_tril, work.mT, leaf=WHITEN_LEAF)
        torch.linalg.vector_norm(work, dim=-1, out=out[start : start + step])
    return out.square_().reshape(x.shape[:-1])


def strict_lower_sq_norm(a: Tensor, b: Tensor) -> Tensor:
    """|tril(a^{-1} b, -1)|_F^2 over the last two dims, for lower-triangular a and b (the
    off-diagonal part of the KL trace term |L_q^{-1} L_p|_F^2).

    Fast path: a^{-1} b by the blocked ``tril_solve_`` with a lower-triangular right-hand
    side (about d^3 / 2 flops, mostly GEMM, against d^3 for a full TRSM), in a copy of b; the
    diagonal is then zeroed and the rest reduced, a sum of non-negative terms.
    """
    if not _fast(a, b):
        solution = torch.linalg.solve_triangular(a, b, upper=False)
        return solution.tril(-1).square().sum((-2, -1))
    shape = torch.broadcast_shapes(a.shape, b.shape)
    solution = tril_solve_(a.expand(shape), b.expand(shape).clone(), rhs_lower=True)
    solution.diagonal(dim1=-2, dim2=-1).zero_()
    return torch.linalg.vector_norm(solution.flatten(-2), dim=-1).square()


def schur_condition(
    matrix: Tensor, observed: Tensor, others: Tensor, residual: Tensor
) -> tuple[Tensor, Tensor] | None:
    """Condition N(0, Sigma) on x[observed] = residual, from the covariance matrix Sigma
    (..., d, d) and index tensors `observed` (k) and `others` (m):

        L_22 = chol(Sigma_22),  W = L_22^{-1} Sigma_21,
        shift = Sigma_12 Sigma_22^{-1} residual = (L_22^{-T} W)^T residual,
        Sigma_{1|2} = Sigma_11 - W^T W = L_{1|2} L_{1|2}^T.

    Returns (shift of shape (..., m), L_{1|2}), or None when a Cholesky factorization fails
    (Sigma_22 or the Schur complement not positive definite to working precision: the caller
    then takes a route that cannot, such as a QR of the reordered factor).

    k^3 / 3 + 2 k^2 m + m^3 / 3 flops in factorizations and triangular solves and
    2 m^2 k + 2 n k m in GEMMs for n residuals: fewer than the textbook formula with an
    explicit inverse, and no inverse. The residuals' batch is folded into the rows of one
    GEMM when Sigma is unbatched. Plain torch operations: differentiable as they stand.
    """
    s22 = matrix[..., observed[:, None], observed]
    s21 = matrix[..., observed[:, None], others]
    s11 = matrix[..., others[:, None], others]
    l22, info = torch.linalg.cholesky_ex(s22)
    if bool((info != 0).any()):
        return None
    w = torch.linalg.solve_triangular(l22, s21, upper=False)
    gain_t = torch.linalg.solve_triangular(l22.mT, w, upper=True)
    factor, info = torch.linalg.cholesky_ex(s11 - w.mT @ w)
    if bool((info != 0).any()):
        return None
    if matrix.dim() == 2:
        rows = residual.reshape(-1, residual.shape[-1])
        shift = (rows @ gain_t).reshape(*residual.shape[:-1], gain_t.shape[-1])
    else:
        shift = (residual.unsqueeze(-2) @ gain_t).squeeze(-2)
    return shift, factor


def affine_(z: Tensor, loc: Tensor, scale: Tensor) -> Tensor:
    """z <- loc + scale * z in place (z of the full broadcast shape), e.g. on a fresh draw;
    one fused ``addcmul`` pass. Returns z. With autograd recording through loc or scale, the
    out-of-place expression instead (z itself is then a plain draw)."""
    if torch.is_grad_enabled() and (loc.requires_grad or scale.requires_grad):
        return loc + scale * z
    return torch.addcmul(loc, z, scale, out=z)


def scaled_sum(a: Tensor | float, x: Tensor, b: Tensor | float, y: Tensor) -> Tensor:
    """a x + b y for coefficients that are Python floats, 0-d tensors or (B, 1, ..., 1)
    tensors; x and y of one shape (B, ...) take the fast path (others broadcast as usual).

    Fast path: the result is written chunk by chunk of rows (L2-sized): a x into the chunk,
    then b y added in place while the chunk is still in cache, so x, y and the result each
    cross main memory once.
    """
    coefficients = [c for c in (a, b) if isinstance(c, Tensor)]
    fast = _fast(x, y, *coefficients) and x.dim() > 0 and x.shape == y.shape
    if not (fast and x.is_contiguous() and y.is_contiguous()):
        return _add_scaled_(x * a, b, y)
    out = torch.empty_like(x)
    batch = x.shape[0]
    step = chunk_rows(x[0].numel() * x.element_size())

    def rows(c: Tensor | float, start: int) -> Tensor | float:
        per_row = isinstance(c, Tensor) and c.dim() == x.dim() and c.shape[0] != 1
        return c[start : start + step] if per_row else c

    for start in range(0, batch, step):
        chunk = out[start : start + step]
        torch.mul(x[start : start + step], rows(a, start), out=chunk)
        _add_scaled_(chunk, rows(b, start), y[start : start + step])
    return out


def _add_scaled_(out: Tensor, c: Tensor | float, y: Tensor) -> Tensor:
    """out <- out + c y in place, c a Python float or a tensor broadcasting against y."""
    if isinstance(c, Tensor):
        return out.addcmul_(y, c)
    return out.add_(y, alpha=c)
