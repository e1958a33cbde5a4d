"""Two unbiased Monte Carlo estimators of grad_theta E_{z ~ p_theta}[f(z)], one draw at a time.

Pathwise (reparameterization) — needs z = g(theta, eps) differentiable in theta:

    grad_theta E[f(z)] = E_eps[f'(g(theta, eps)) grad_theta g(theta, eps)]

Score function (REINFORCE, likelihood ratio) — needs only log p_theta(z) differentiable:

    grad_theta E[f(z)] = E_z[f(z) grad_theta log p_theta(z)]

For a Gaussian both exist (z = mu + sigma eps), and the pathwise one, which uses f', usually
has far lower variance. For a discrete law such as a Bernoulli the draw z = 1[u < p] is a step
function of p: its derivative is 0 wherever it exists, so no pathwise estimator exists (torch
marks such laws ``has_rsample = False``); the score-function estimator still works.

Both functions return per-draw gradients, one row per independent draw: their mean estimates
the gradient and their spread is the estimator's variance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution

from gausslab._validation import check_count

__all__ = ["pathwise_gradients", "score_function_gradients"]

Make = Callable[..., Distribution]
Loss = Callable[[Tensor], Tensor]


def _per_draw_leaves(params: Sequence[Any], num_draws: Any) -> list[Tensor]:
    """`num_draws` independent copies of each parameter as leaves of shape (N, *shape), so
    that each draw's gradient lands in its own row."""
    count = check_count("num_draws", num_draws, 2)
    leaves = []
    for i, param in enumerate(params):
        if not isinstance(param, Tensor) or not param.is_floating_point():
            raise TypeError(f"params[{i}] must be a floating-point tensor, got {param!r}")
        leaves.append(param.detach().expand(count, *param.shape).clone().requires_grad_(True))
    return leaves


def _losses(loss: Loss, z: Tensor, count: int) -> Tensor:
    values = loss(z)
    if not isinstance(values, Tensor) or values.shape != (count,):
        shape = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
        raise ValueError(
            f"loss must map the draws to one value per draw, shape ({count},), got {shape}"
        )
    return values


def _gradients(leaves: list[Tensor], objective: Tensor) -> tuple[Tensor, ...]:
    grads = torch.autograd.grad(objective, leaves, allow_unused=True)
    return tuple(
        torch.zeros_like(leaf) if grad is None else grad
        for leaf, grad in zip(leaves, grads, strict=True)
    )


def pathwise_gradients(
    make: Make, params: Sequence[Tensor], loss: Loss, num_draws: int
) -> tuple[Tensor, ...]:
    """Per-draw pathwise gradients f'(z) dz/dtheta, z = ``make(*params).rsample()``.

    ``make(*params)`` builds the distribution from parameters given with a leading draw
    dimension (each of shape (N, *param.shape)); ``loss`` maps the N draws to N values.
    Returns one tensor (N, *param.shape) per parameter; their means estimate
    grad E[f(z)]. Raises ValueError for a law without a reparameterized sampler.
    """
    leaves = _per_draw_leaves(params, num_draws)
    dist = make(*leaves)
    if not dist.has_rsample:
        raise ValueError(
            f"{type(dist).__name__} has no reparameterized sampler (has_rsample is False): its "
            "draws are not a differentiable function of the parameters (for a discrete law a "
            "step function, derivative 0 almost everywhere), so the pathwise gradient does not "
            "exist; use score_function_gradients"
        )
    z = dist.rsample()
    return _gradients(leaves, _losses(loss, z, len(leaves[0])).sum())


def score_function_gradients(
    make: Make, params: Sequence[Tensor], loss: Loss, num_draws: int
) -> tuple[Tensor, ...]:
    """Per-draw score-function (REINFORCE) gradients f(z) grad_theta log p_theta(z).

    z = ``make(*params).sample()`` (no gradient through the draw); arguments and result as
    in ``pathwise_gradients``. Works for discrete and continuous laws alike.
    """
    leaves = _per_draw_leaves(params, num_draws)
    dist = make(*leaves)
    z = dist.sample()
    values = _losses(loss, z, len(leaves[0])).detach()
    log_p = dist.log_prob(z).reshape(len(values), -1).sum(1)
    return _gradients(leaves, (values * log_p).sum())
