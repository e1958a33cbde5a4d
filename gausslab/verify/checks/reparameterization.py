"""The reparameterization trick: z = mu + L eps carries unbiased gradients.

    grad_theta E_{z ~ p_theta}[L(z)] = E_{eps ~ N(0, I)}[grad_theta L(mu + L eps)]

Each Monte Carlo draw below is one per-sample gradient, so its mean estimates the gradient of
the expectation, which is known in closed form.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gausslab.gaussian import Gaussian
from gausslab.verify.registry import Context, Result, check, mean_result, mean_results

GROUPS = 500
"""Batches over which per-batch gradients of shared network weights are averaged."""


def _leaf(value: Tensor, count: int) -> Tensor:
    """`count` independent copies of `value` as one leaf, so each draw gets its own gradient."""
    return value.expand(count, *value.shape).clone().requires_grad_(True)


@check(
    "reparam.seed_example",
    "z = mu + exp(log_sigma) eps, L = z^2: E[dL/dmu] = 2 mu, E[dL/dlog_sigma] = 2 sigma^2",
)
def seed_example(ctx: Context) -> list[Result]:
    results = []
    for mu, log_sigma in ((1.0, 0.0), (-0.5, 0.4)):
        mus = _leaf(ctx.tensor(mu), ctx.samples)
        log_sigmas = _leaf(ctx.tensor(log_sigma), ctx.samples)
        z = Gaussian.univariate(mus, log_sigmas.exp()).rsample()
        (z**2).sum().backward()
        sigma_sq = math.exp(2 * log_sigma)
        label = f"mu={mu:g},log_sigma={log_sigma:g}"
        results.append(mean_result(f"reparam.seed_example[{label}].dL/dmu", mus.grad, 2 * mu))
        results.append(
            mean_result(
                f"reparam.seed_example[{label}].dL/dlog_sigma", log_sigmas.grad, 2 * sigma_sq
            )
        )
    return results


@check(
    "reparam.multivariate",
    "z = mu + L eps, loss |z|^2: E[grad_mu] = 2 mu, E[grad_L] = 2 L (lower triangle)",
)
def multivariate(ctx: Context) -> list[Result]:
    loc = ctx.tensor([0.5, -1.0, 2.0])
    scale_tril = ctx.tensor([[1.2, 0.0, 0.0], [0.5, 0.8, 0.0], [-0.3, 0.4, 0.6]])
    locs = _leaf(loc, ctx.samples)
    trils = _leaf(scale_tril, ctx.samples)
    z = Gaussian(locs, scale_tril=trils).rsample()
    (z**2).sum().backward()
    rows, cols = torch.tril_indices(3, 3)
    lower = trils.grad[:, rows, cols]
    results = mean_results("reparam.multivariate.grad_mu", locs.grad, 2 * loc)
    results += [
        mean_result(f"reparam.multivariate.grad_L[{i},{j}]", lower[:, k], 2 * scale_tril[i, j])
        for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True))
    ]
    return results


@check(
    "vae.encoder_gradients",
    "VAE encoder (mu, log_sigma) = W x + b, z = mu + sigma eps, L = |z - y|^2: "
    "E[dL/dmu] = 2 (mu - y), E[dL/dlog_sigma] = 2 sigma^2, and the weight gradient",
)
def vae_encoder(ctx: Context) -> list[Result]:
    latent = 2
    generator = torch.Generator().manual_seed(0)
    encoder = torch.nn.Linear(3, 2 * latent, dtype=ctx.dtype).to(ctx.device)
    with torch.no_grad():
        for parameter in encoder.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=ctx.dtype))
    x = ctx.tensor([0.3, -1.2, 0.8])
    y = ctx.tensor([1.0, -0.5])

    def loss_of_draws(count: int) -> tuple[Tensor, Tensor, Tensor]:
        out = encoder(x.expand(count, 3))
        mu, log_sigma = out[:, :latent], out[:, latent:]
        mu.retain_grad()
        log_sigma.retain_grad()
        z = Gaussian.diagonal(mu, log_sigma.exp()).rsample()
        return ((z - y) ** 2).sum(), mu, log_sigma

    encoder.zero_grad()
    loss, mu, log_sigma = loss_of_draws(ctx.samples)
    loss.backward()
    # Closed form: E[L] = |mu - y|^2 + sum sigma^2, differentiated with no sampling at all.
    mean_mu, mean_log_sigma = mu[0].detach(), log_sigma[0].detach()
    results = mean_results("vae.encoder_gradients.dL/dmu", mu.grad, 2 * (mean_mu - y))
    results += mean_results(
        "vae.encoder_gradients.dL/dlog_sigma", log_sigma.grad, 2 * (2 * mean_log_sigma).exp()
    )

    # The weights are shared by all draws: average their gradient over GROUPS batches.
    direction = torch.randn(encoder.weight.shape, generator=generator, dtype=ctx.dtype)
    direction = direction.to(ctx.device)
    per_group = max(ctx.samples // GROUPS, 1)
    projected = []
    for _ in range(GROUPS):
        encoder.zero_grad()
        loss, _, _ = loss_of_draws(per_group)
        (loss / per_group).backward()
        projected.append((encoder.weight.grad * direction).sum())
    encoder.zero_grad()
    out = encoder(x)
    expected_loss = ((out[:latent] - y) ** 2).sum() + (2 * out[latent:]).exp().sum()
    expected_loss.backward()
    exact = (encoder.weight.grad * direction).sum()
    results.append(mean_result("vae.encoder_gradients.<dL/dW,U>", torch.stack(projected), exact))
    return results
