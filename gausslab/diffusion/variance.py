"""Why sqrt(abar_t) and sqrt(1 - abar_t): the variance of x_t under other step coefficients.

A forward step x_t = a_t x_{t-1} + b_t eps_t, with eps_t ~ N(0, 1) independent of x_{t-1}, gives

    Var(x_t) = a_t^2 Var(x_{t-1}) + b_t^2.

DDPM takes a_t = sqrt(1 - beta_t), b_t = sqrt(beta_t), so a_t^2 + b_t^2 = 1 and

    Var(x_t) = abar_t Var(x_0) + 1 - abar_t,      abar_t = prod_{s <= t} (1 - beta_s):

exactly 1 at every t for unit-variance data, and -> 1 for any data, so x_T matches the N(0, 1)
prior the reverse process starts from, whatever T. The same coefficients compose into the
one-jump marginal q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t)). Other choices (``CHOICES``):

    exploding  a_t = 1,              b_t = sqrt(beta_t):  Var = Var(x_0) + sum_{s<=t} beta_s
    growing    a_t = sqrt(1 + beta), b_t = sqrt(beta_t):  Var + 1 = prod (1 + beta_s) (Var(x_0) + 1)
    shrinking  a_t = 1 - beta_t,     b_t = beta_t:        Var -> about beta / 2 (vanishes)

The first grows without bound with T (the variance-exploding family, Brownian motion), the
second geometrically, the third leaves almost nothing: x_T is not N(0, 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from gausslab.diffusion.schedule import Schedule

__all__ = ["CHOICES", "forward_samples", "forward_variance", "step_coefficients"]

CHOICES: dict[str, tuple[str, Callable[[Tensor], tuple[Tensor, Tensor]]]] = {
    "preserving": ("a = √(1−β), b = √β (DDPM)", lambda b: ((1 - b).sqrt(), b.sqrt())),
    "exploding": ("a = 1, b = √β", lambda b: (torch.ones_like(b), b.sqrt())),
    "growing": ("a = √(1+β), b = √β", lambda b: ((1 + b).sqrt(), b.sqrt())),
    "shrinking": ("a = 1 − β, b = β", lambda b: (1 - b, b)),
}
"""Step coefficients (a_t, b_t) as functions of beta_t, with a label for plots."""


def step_coefficients(schedule: Schedule, choice: str = "preserving") -> tuple[Tensor, Tensor]:
    """(a, b): float64 tables of length T + 1 with x_t = a[t] x_{t-1} + b[t] eps_t (index 0,
    the data, has a = 1, b = 0)."""
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a gausslab.diffusion.Schedule, got {type(schedule)}")
    if not isinstance(choice, str) or choice not in CHOICES:
        raise ValueError(f"choice must be one of {list(CHOICES)}, got {choice!r}")
    a, b = CHOICES[choice][1](schedule.betas)
    a[0], b[0] = 1.0, 0.0
    return a, b


def forward_variance(
    schedule: Schedule, data_variance: float = 1.0, choice: str = "preserving"
) -> Tensor:
    """Var(x_t) for t = 0..T (float64, length T + 1) by Var_t = a_t^2 Var_{t-1} + b_t^2 from
    Var_0 = ``data_variance``; for "preserving" it equals abar_t Var(x_0) + 1 - abar_t."""
    if isinstance(data_variance, bool) or not isinstance(data_variance, int | float):
        raise TypeError(f"data_variance must be a number, got {data_variance!r}")
    if not 0 <= data_variance < float("inf"):
        raise ValueError(f"data_variance must be finite and >= 0, got {data_variance!r}")
    a, b = step_coefficients(schedule, choice)
    variance = torch.empty_like(a)
    variance[0] = data_variance
    for t in range(1, len(a)):
        variance[t] = a[t] ** 2 * variance[t - 1] + b[t] ** 2
    return variance


def forward_samples(
    x0: Tensor,
    schedule: Schedule,
    choice: str = "preserving",
    times: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Run the chain x_t = a_t x_{t-1} + b_t eps_t from the samples ``x0`` (any shape) and
    return x_t at each of ``times`` (default 0..T), stacked: shape (len(times), *x0.shape)."""
    a, b = step_coefficients(schedule, choice)
    wanted = list(range(schedule.T + 1)) if times is None else [int(t) for t in times]
    for t in wanted:
        schedule.check_t(t, low=0)
    x = torch.as_tensor(x0)
    if not x.is_floating_point():
        raise TypeError(f"x0 must be a floating-point tensor, got dtype {x.dtype}")
    x = x.clone()
    noise = torch.empty_like(x)
    recorded: dict[int, Tensor] = {}
    for t in range(max(wanted) + 1):
        if t > 0:
            noise.normal_(generator=generator)
            x.mul_(float(a[t])).add_(noise, alpha=float(b[t]))
        if t in wanted:
            recorded[t] = x.clone()
    return torch.stack([recorded[t] for t in wanted])
