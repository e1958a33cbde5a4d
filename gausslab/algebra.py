"""Closure of the Gaussian family under linear maps, marginals, conditionals, products and sums.

For x ~ N(mu, Sigma):

- affine:    A x + b ~ N(A mu + b, A Sigma A^T)
- marginal:  x[idx] ~ N(mu[idx], Sigma[idx][:, idx])
- condition: x_1 | x_2 = v ~ N(mu_1 + Sigma_12 Sigma_22^{-1} (v - mu_2),
                               Sigma_11 - Sigma_12 Sigma_22^{-1} Sigma_21)   (Schur complement)
- product:   N(x; mu_g, S_g) N(x; mu_h, S_h) = Z N(x; mu, S) with S^{-1} = S_g^{-1} + S_h^{-1},
             mu = S (S_g^{-1} mu_g + S_h^{-1} mu_h), Z = N(mu_g; mu_h, S_g + S_h)
- convolve:  X + Y ~ N(mu_g + mu_h, S_g + S_h) for independent X ~ g, Y ~ h

Each keeps the covariance structure where the math allows (isotropic, diagonal, dense) and
factorizes a new dense matrix once. The methods ``Gaussian.affine``, ``marginal``,
``condition`` and ``convolve`` delegate here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gausslab._validation import as_operand, broadcast_shapes, check_indices
from gausslab.covariance import Covariance
from gausslab.gaussian import Gaussian

__all__ = ["affine", "check_pair", "condition", "convolve", "marginal", "product"]


def check_pair(p: Any, q: Any, names: tuple[str, str] = ("g", "h")) -> torch.Size:
    """Check that two Gaussians can be combined; return their broadcast batch shape.

    Both must be ``Gaussian``s with one event shape, dtype and device, and batch shapes that
    broadcast.
    """
    for name, value in zip(names, (p, q), strict=True):
        if not isinstance(value, Gaussian):
            raise TypeError(f"{name} must be a gausslab.Gaussian, got {type(value).__name__}")
    first, second = names
    if p.event_shape != q.event_shape:
        raise ValueError(
            f"{second} must have the event shape of {first}, {tuple(p.event_shape)}, "
            f"got {tuple(q.event_shape)}"
        )
    if p.loc.dtype != q.loc.dtype or p.loc.device != q.loc.device:
        raise ValueError(
            f"{second} must have the dtype and device of {first} ({p.loc.dtype} on "
            f"{p.loc.device}), got {q.loc.dtype} on {q.loc.device}"
        )
    return broadcast_shapes(
        f"the batch shapes of {first} and {second}",
        **{first: p.batch_shape, second: q.batch_shape},
    )


def _vector_event_size(g: Gaussian, operation: str) -> int:
    if len(g.event_shape) != 1:
        raise ValueError(
            f"{operation} needs vector events (event_shape (d,)), got event_shape "
            f"{tuple(g.event_shape)}; flatten the event first"
        )
    return g.event_shape[0]


def _result(g: Gaussian, loc: Tensor, covariance: Any) -> Gaussian:
    return Gaussian.from_covariance(loc, covariance, validate_args=g._validate_args)


# ---------------------------------------------------------------------------- affine
def affine(g: Gaussian, A: Any, b: Any = None) -> Gaussian:
    """The law of y = A x + b for x ~ g = N(mu, Sigma): N(A mu + b, A Sigma A^T).

    A may be
    - a scalar (0-dim): Sigma -> A^2 Sigma; isotropic stays isotropic;
    - elementwise (a diagonal map y_i = A_i x_i): for vector events a 1-dim tensor of shape
      (d,) or (1,); for scalar events and events of several dims any tensor that broadcasts
      to batch_shape + event_shape (its leading dims broadcast with the batch). Isotropic
      becomes diagonal (stays isotropic when A is constant over the event), diagonal stays
      diagonal, dense rescales its Cholesky factor without a new factorization;
    - a matrix of shape (..., d_out, d) with d_out <= d and full row rank, for vector events
      only (flatten an image event first). The new factor comes from a QR of (A L)^T, which
      does not square the condition number.
    Entries of a scalar or elementwise A must be nonzero (otherwise A x is degenerate).
    b broadcasts with the result's batch_shape + event_shape without changing the event.
    """
    loc = g.loc
    A = as_operand(A, "A", like=loc)
    k = len(g.event_shape)
    if k == 1 and A.dim() >= 2:
        loc, covariance = _matrix_map(g, A)
    else:
        _check_elementwise(g, A)
        loc, covariance = A * loc, g.covariance.scaled(A)
    if b is not None:
        b = as_operand(b, "b", like=g.loc)
        event = loc.shape[loc.dim() - k :]
        full = broadcast_shapes("b must broadcast with A mu", b=b.shape, A_mu=loc.shape)
        if full[len(full) - k :] != event:
            raise ValueError(
                f"b must broadcast to the event shape {tuple(event)} of A x, got b of shape "
                f"{tuple(b.shape)}"
            )
        loc = loc + b
    return _result(g, loc, covariance)


def _check_elementwise(g: Gaussian, A: Tensor) -> None:
    event = g.event_shape
    if len(event) == 1 and A.dim() == 1 and A.shape[0] not in (1, event[0]):
        raise ValueError(
            f"A must be a scalar, a vector of shape ({event[0]},) or (1,), or a matrix of "
            f"shape (..., d_out, {event[0]}); got A of shape {tuple(A.shape)}"
        )
    k = len(event)
    try:
        full = torch.broadcast_shapes(A.shape, g.batch_shape + event)
    except RuntimeError:
        full = None
    if full is None or full[len(full) - k :] != event:
        raise ValueError(
            f"A must be a scalar or broadcast to batch_shape + event_shape "
            f"{tuple(g.batch_shape + event)} without enlarging the event (a matrix map needs "
            f"vector events: flatten the event first), got A of shape {tuple(A.shape)}"
        )
    if bool((A == 0).any()):
        raise ValueError(
            f"A must be nonzero everywhere (A x would be degenerate), got a zero entry in A "
            f"of shape {tuple(A.shape)}"
        )


def _matrix_map(g: Gaussian, A: Tensor) -> tuple[Tensor, Covariance]:
    d = g.event_shape[0]
    d_out = A.shape[-2]
    if A.shape[-1] != d or d_out > d:
        raise ValueError(
            f"A must be a matrix of shape (..., d_out, {d}) with d_out <= {d} (a wider output "
            f"would be degenerate), got A of shape {tuple(A.shape)}"
        )
    try:
        covariance = g.covariance.transformed(A)
    except ValueError as error:
        raise ValueError(
            f"A must have full row rank: A Sigma A^T is singular for A of shape "
            f"{tuple(A.shape)} ({error})"
        ) from None
    return (A @ g.loc[..., None])[..., 0], covariance


# ------------------------------------------------------------------- marginal, condition
def marginal(g: Gaussian, idx: Any) -> Gaussian:
    """The law of x[idx]: N(mu[idx], Sigma[idx][:, idx]), in the order given by idx.

    idx: distinct coordinates (a sequence of ints or a 1-dim integer tensor; negative ones
    count from the end) of a vector event. Isotropic and diagonal structures are kept; a
    dense one needs no new factorization when idx is 0..k-1 and one QR otherwise.
    """
    index = check_indices(idx, _vector_event_size(g, "marginal"), "idx")
    rows = torch.as_tensor(index, device=g.loc.device)
    return _result(g, g.loc[..., rows], g.covariance.select(index))


def condition(g: Gaussian, idx: Any, value: Any) -> Gaussian:
    """The law of the other coordinates x_1 given x_2 = x[idx] = value (Schur complement):

        mu_{1|2}    = mu_1 + Sigma_12 Sigma_22^{-1} (value - mu_2)
        Sigma_{1|2} = Sigma_11 - Sigma_12 Sigma_22^{-1} Sigma_21

    Computed from one Cholesky factor L' of the joint reordered with x_2 first (none is
    needed when idx is 0..k-1): L'_22 is the Cholesky factor of the Schur complement and
    mu_{1|2} = mu_1 + L'_21 L'_11^{-1} (value - mu_2), one triangular solve, no inverse and no
    subtraction. With isotropic or diagonal covariance the coordinates are independent: the
    result is the marginal of the others, structure kept.

    value: shape (..., len(idx)); its batch dims broadcast with g.batch_shape. The other
    coordinates keep their original order.
    """
    d = _vector_event_size(g, "condition")
    index = check_indices(idx, d, "idx", allow_all=False)
    value = as_operand(value, "value", like=g.loc)
    if value.dim() < 1 or value.shape[-1] != len(index):
        raise ValueError(
            f"value must have shape (..., {len(index)}), one entry per conditioned "
            f"coordinate, got value of shape {tuple(value.shape)}"
        )
    batch = broadcast_shapes(
        "the batch dims of value (all but the last) must broadcast with the batch shape",
        value=value.shape[:-1],
        batch_shape=g.batch_shape,
    )
    observed = set(index)
    others = [i for i in range(d) if i not in observed]
    device = g.loc.device
    residual = value - g.loc[..., torch.as_tensor(index, device=device)]
    shift, covariance = g.covariance.condition(index, others, residual)
    loc = g.loc[..., torch.as_tensor(others, device=device)] + shift
    return _result(g, loc.expand(*batch, len(others)), covariance)


# ----------------------------------------------------------------- product, convolve
def product(g: Gaussian, h: Gaussian) -> tuple[Gaussian, Tensor]:
    """The normalized product of two densities and the log of its normalizer:

        g(x) h(x) = Z N(x; mu, S),  S = (S_g^{-1} + S_h^{-1})^{-1},
        mu = mu_g + S_g (S_g + S_h)^{-1} (mu_h - mu_g)   (= S (S_g^{-1} mu_g + S_h^{-1} mu_h)),
        log Z = log integral g(x) h(x) dx = log N(mu_g; mu_h, S_g + S_h).

    Returns (Gaussian, log Z) with log Z of the broadcast batch shape. Isotropic x isotropic
    stays isotropic, diagonal (or isotropic) x diagonal stays diagonal, elementwise with
    S = S_g S_h / (S_g + S_h); otherwise precisions add and S_g + S_h and the summed
    precision are each factorized once.
    """
    batch = check_pair(g, h)
    total = g.covariance.add(h.covariance)
    log_normalizer = Gaussian.from_covariance(h.loc, total, validate_args=False).log_prob(g.loc)
    loc = g.loc + g.covariance.product_shift(total, h.loc - g.loc)
    return _result(g, loc, g.covariance.parallel(h.covariance)), log_normalizer.expand(batch)


def convolve(g: Gaussian, h: Gaussian) -> Gaussian:
    """The law of X + Y for independent X ~ g, Y ~ h: N(mu_g + mu_h, S_g + S_h).

    Isotropic + isotropic stays isotropic, elementwise + elementwise stays diagonal; a sum
    involving a dense covariance is factorized once.
    """
    check_pair(g, h)
    return _result(g, g.loc + h.loc, g.covariance.add(h.covariance))
