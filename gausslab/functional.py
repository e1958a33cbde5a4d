"""Elementwise kernels for the univariate normal distribution N(loc, std^2).

Every function broadcasts its arguments, is differentiable with autograd, and runs on
whatever device and floating dtype its inputs come in: the work happens in the widest
floating dtype among the tensor arguments (Python numbers do not widen it; integer-only
inputs get the default float dtype), and float32 is never routed through float64. float16
and bfloat16, for which torch lacks some special functions, are computed in float32 and
returned in their own dtype.
Arguments may be tensors or Python numbers.

Validation policy: these are raw kernels. Distributions validate their parameters once, at
construction, and then call the kernels on the hot path, so no kernel checks that ``std`` is
positive or that ``x`` is finite: invalid parameters propagate as NaN/inf exactly as the
formula gives them. The one exception is the probability argument of ``normal_icdf``, which
no constructor can see: by default it is checked to lie in [0, 1] (one reduction per call),
and ``validate=False`` skips the check for callers that have checked it themselves.

Accuracy (measured against mpmath at 50 digits, see tests/test_functional.py):

- ``normal_log_cdf``: relative error below 1e-14 (float64) and 1e-6 (float32) for
  z = (x - loc) / std in [-1000, 40], including both tails; its gradient stays finite and
  accurate there.
- ``normal_icdf``: relative error of the quantile below 1e-15 (float64) for p from the
  smallest subnormal up to 1 - 2^-53, and below 5e-7 in float32.
- ``normal_kl``: relative error below 1e-14 (float64) and 1e-6 (float32) both for nearly
  identical and for wildly different pairs of Gaussians.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "normal_cdf",
    "normal_icdf",
    "normal_kl",
    "normal_log_cdf",
    "normal_log_prob",
    "standardize",
    "unstandardize",
]

TensorLike = Tensor | float | int

LOG_2PI = math.log(2.0 * math.pi)
HALF_LOG_2PI = 0.5 * LOG_2PI
SQRT_2 = math.sqrt(2.0)

# Dtypes for which torch has no erfcx/ndtri kernels; they are computed in float32.
_LOW_PRECISION = (torch.float16, torch.bfloat16)

# z beyond which Phi(-z) < 1e-349 underflows to 0 in every dtype.
_UPPER_TAIL_END = 40.0

# |u| below which e^u - 1 - u is summed as its Taylor series instead of expm1(u) - u.
_SERIES_CUTOFF = 0.5
# 1/k! for k = 2..16: the series e^u - 1 - u = u^2 * sum_{j>=0} u^j / (j+2)! truncated where
# its next term is below 1e-17 of the sum for |u| < _SERIES_CUTOFF.
_EXPM1_MINUS_X_COEFFS = tuple(1.0 / math.factorial(k) for k in range(2, 17))


def _promote(*args: TensorLike) -> tuple[Tensor, ...]:
    """Convert the arguments to tensors of one floating dtype on one device.

    The dtype is the widest floating dtype among the tensor arguments (Python numbers do not
    widen it), or the default float dtype when no tensor argument is floating. The device is
    that of the first tensor argument.
    """
    tensors = [a for a in args if isinstance(a, Tensor)]
    dtype = None
    for t in tensors:
        if t.is_floating_point():
            dtype = t.dtype if dtype is None else torch.promote_types(dtype, t.dtype)
    if dtype is None:
        dtype = torch.get_default_dtype()
    device = tensors[0].device if tensors else None
    return tuple(torch.as_tensor(a, dtype=dtype, device=device) for a in args)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a kernel that needs erfcx/ndtri runs in: float32 for float16/bfloat16."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def standardize(x: TensorLike, loc: TensorLike, std: TensorLike) -> Tensor:
    """Standardize x: z = (x - loc) / std, so that X ~ N(loc, std^2) gives Z ~ N(0, 1)."""
    x, loc, std = _promote(x, loc, std)
    return (x - loc) / std


def unstandardize(z: TensorLike, loc: TensorLike, std: TensorLike) -> Tensor:
    """Invert ``standardize``: x = loc + std * z."""
    z, loc, std = _promote(z, loc, std)
    return loc + std * z


def normal_log_prob(x: TensorLike, loc: TensorLike, std: TensorLike) -> Tensor:
    """Log density of N(loc, std^2) at x.

    log N(x; loc, std^2) = -0.5 * ((x - loc) / std)^2 - log(std) - 0.5 * log(2 pi)
    """
    x, loc, std = _promote(x, loc, std)
    z = (x - loc) / std
    return -0.5 * z * z - torch.log(std) - HALF_LOG_2PI


def normal_cdf(x: TensorLike, loc: TensorLike = 0.0, std: TensorLike = 1.0) -> Tensor:
    """Distribution function of N(loc, std^2) at x.

    Phi(z) = 0.5 * erfc(-z / sqrt(2)) with z = (x - loc) / std; the erfc form keeps
    relative accuracy in the lower tail, where 0.5 * (1 + erf(z / sqrt(2))) would cancel.
    There the relative error grows like z^2 * eps, the condition number of Phi times the
    rounding of z itself; ``normal_log_cdf`` is the accurate route far into the tail.
    """
    z = standardize(x, loc, std)
    return 0.5 * torch.special.erfc(-z / SQRT_2)


def _exp_neg_half_square(z: Tensor) -> Tensor:
    """exp(-z^2 / 2) to a few ulp even where z^2 / 2 is in the hundreds.

    Rounding z^2 costs a relative error of eps * z^2 / 2 in the exponential (1.5e-13 at
    z = 37). Split z = a + b with a = round(16 z) / 16, so that a^2 / 2 is exact and
    |b| <= 1/32: exp(-z^2 / 2) = exp(-a^2 / 2) * exp(-(a b + b^2 / 2)). Gradients flow
    through b (d/dz = -z exp(-z^2 / 2)).
    """
    a = torch.round(16.0 * z) / 16.0
    b = z - a
    return torch.exp(-0.5 * a * a) * torch.exp(-(a * b + 0.5 * b * b))


def _log_ndtr(z: Tensor) -> Tensor:
    """log Phi(z), piecewise so that neither tail cancels.

    z < 0:  log Phi(z) = log(0.5 * erfcx(-z / sqrt(2))) - z^2 / 2   (both terms <= 0)
    z >= 0: log Phi(z) = log1p(-Phi(-z)),  Phi(-z) = 0.5 * erfcx(z / sqrt(2)) * exp(-z^2 / 2)

    Each branch is evaluated on z clamped to its own half line and to finite values (the upper
    one to z <= _UPPER_TAIL_END, past which Phi(-z) is 0 in every dtype), so the branch that
    ``torch.where`` discards stays finite and passes no NaN into the gradient, and z = +-inf
    gets its exact value (-inf, 0) with gradient 0 instead of NaN.
    """
    z_neg = z.clamp(min=torch.finfo(z.dtype).min, max=0.0)
    z_pos = z.clamp(min=0.0, max=_UPPER_TAIL_END)
    lower = torch.log(0.5 * torch.special.erfcx(-z_neg / SQRT_2)) - 0.5 * z_neg * z_neg
    upper = torch.log1p(-0.5 * torch.special.erfcx(z_pos / SQRT_2) * _exp_neg_half_square(z_pos))
    return torch.where(z < 0, lower, upper)


def normal_log_cdf(x: TensorLike, loc: TensorLike = 0.0, std: TensorLike = 1.0) -> Tensor:
    """Log distribution function of N(loc, std^2) at x, accurate in both tails.

    log Phi(z) with z = (x - loc) / std:
    z < 0:  log(0.5 * erfcx(-z / sqrt(2))) - z^2 / 2, finite far into the lower tail
            (z = -1000 gives -500000 - log(1000) - 0.5 log(2 pi) + O(1e-6));
    z >= 0: log1p(-Phi(-z)) ~ -Phi(-z), with no log(1 - tiny) cancellation, and Phi(-z) =
            0.5 * erfcx(z / sqrt(2)) * exp(-z^2 / 2) with z^2 / 2 split so it is not rounded.
    Autograd differentiates this form without 0/0 or cancellation: the gradient
    d/dz log Phi(z) = phi(z) / Phi(z) stays finite and accurate (~ -z as z -> -inf).
    torch.special.log_ndtr is not used: measured against mpmath, its gradient is off by 7% at
    z = -1000 in float32 (1.5e-10 relative in float64), and its upper tail rounds z / sqrt(2)
    before erfc, a relative error of about z^2 * eps (1.5e-13 at z = 37).
    """
    z = standardize(x, loc, std)
    return _log_ndtr(z.to(_compute_dtype(z.dtype))).to(z.dtype)


def normal_icdf(
    p: TensorLike, loc: TensorLike = 0.0, std: TensorLike = 1.0, *, validate: bool = True
) -> Tensor:
    """Quantile function of N(loc, std^2): the x with Phi((x - loc) / std) = p.

    x = loc + std * Phi^-1(p), with Phi^-1 = ``torch.special.ndtri``, which is accurate to
    about 2.5e-16 relative in float64 for every p from the smallest subnormal up to
    1 - 2^-53 (measured against mpmath; no refinement step is needed), so p = 1e-300 gives
    z = -37.0471... to full precision. p = 0 gives -inf and p = 1 gives +inf exactly.
    The derivative dz/dp = sqrt(2 pi) * exp(z^2 / 2) is finite for every p > 0 whose value
    fits the dtype (about 3e298 at p = 1e-300).

    With ``validate=True`` (the default) a p outside [0, 1], or NaN, raises ``ValueError``;
    ``validate=False`` skips that check (one reduction and host sync) and returns NaN there.
    """
    p, loc, std = _promote(p, loc, std)
    if validate:
        bad = ~((p >= 0) & (p <= 1))
        if bool(bad.any()):
            raise ValueError(
                f"normal_icdf: p must lie in [0, 1]; got {int(bad.sum())} value(s) outside it, "
                f"e.g. p = {p[bad].flatten()[0].item()!r} (p has shape {tuple(p.shape)})"
            )
    z = torch.special.ndtri(p.to(_compute_dtype(p.dtype))).to(p.dtype)
    return loc + std * z


def _expm1_minus_x(u: Tensor) -> Tensor:
    """e^u - 1 - u without cancellation: its Taylor series u^2/2 + u^3/6 + ... for
    |u| < 0.5, expm1(u) - u beyond (where at most ~2 bits cancel)."""
    small = u.abs() < _SERIES_CUTOFF
    us = torch.where(small, u, 0.0)
    acc = torch.full_like(us, _EXPM1_MINUS_X_COEFFS[-1])
    for c in reversed(_EXPM1_MINUS_X_COEFFS[:-1]):
        acc = acc * us + c
    return torch.where(small, acc * us * us, torch.expm1(u) - u)


def _log_std_ratio(std_p: Tensor, std_q: Tensor) -> Tensor:
    """log(std_p / std_q) to full relative accuracy.

    |std_p / std_q - 1| <= 1/2: log1p((std_p - std_q) / std_q); the difference is exact there
    (Sterbenz), so a ratio within 1e-9 of 1 keeps all its digits.
    otherwise: log(std_p / std_q), or log(std_p) - log(std_q) where the ratio itself would
    overflow or underflow (the log is then large, so the latter loses nothing).
    """
    d = (std_p - std_q) / std_q
    near = d.abs() <= 0.5
    ratio = std_p / std_q
    fits = (ratio >= torch.finfo(ratio.dtype).tiny) & torch.isfinite(ratio)
    far = torch.where(
        fits, torch.log(torch.where(fits, ratio, 1.0)), torch.log(std_p) - torch.log(std_q)
    )
    return torch.where(near, torch.log1p(torch.where(near, d, 0.0)), far)


def normal_kl(loc_p: TensorLike, std_p: TensorLike, loc_q: TensorLike, std_q: TensorLike) -> Tensor:
    """KL(N(loc_p, std_p^2) || N(loc_q, std_q^2)).

    KL = log(std_q / std_p) + (std_p^2 + (loc_p - loc_q)^2) / (2 std_q^2) - 1/2
       = 0.5 * (r - 1 - log r) + 0.5 * ((loc_p - loc_q) / std_q)^2,   r = (std_p / std_q)^2.

    With u = log r = 2 log(std_p / std_q), r - 1 - log r = e^u - 1 - u, which is summed as a
    series for small |u|; both halves are then non-negative and nothing cancels, so the
    relative error stays below 1e-14 in float64 (1e-6 in float32) both for nearly identical
    Gaussians (KL ~ 1e-18) and for wildly different ones (std ratio 1e-400).
    """
    loc_p, std_p, loc_q, std_q = _promote(loc_p, std_p, loc_q, std_q)
    u = 2.0 * _log_std_ratio(std_p, std_q)
    m = (loc_p - loc_q) / std_q
    return 0.5 * _expm1_minus_x(u) + 0.5 * m * m
