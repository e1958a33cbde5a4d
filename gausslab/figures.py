"""The seed's pictures as matplotlib figures (PNG and SVG), drawn from the library itself.

The exercise-4 mixture and schedule are the ones ``gausslab verify`` checks.

``FIGURES`` maps each figure's file stem to a function that draws it; ``draw(out)`` writes
``<stem>.png`` and ``<stem>.svg`` for each into the folder ``out``; ``run_cli(out)`` is
``gausslab figures``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after selecting the non-interactive backend
import numpy as np
import torch
from matplotlib.figure import Figure
from torch.distributions import Exponential

from gausslab import maxent
from gausslab.brownian import brownian_marginal, random_walk, variance_exploding_marginal
from gausslab.clt import ks_distance, standardized_sums
from gausslab.diffusion import Diffusion, Schedule
from gausslab.diffusion.evaluation import forward_mixture_trajectory
from gausslab.diffusion.variance import CHOICES, forward_samples, forward_variance
from gausslab.gaussian import Gaussian
from gausslab.gradient_estimators import pathwise_gradients, score_function_gradients
from gausslab.verify.checks.diffusion import exercise4_schedule
from gausslab.verify.checks.mixture import seed_mixture
from gausslab.verify.registry import Context

__all__ = ["FIGURES", "draw", "run_cli"]

DTYPE = torch.float64
SEED = 0
DPI = 120


def _tensor(data: object) -> torch.Tensor:
    return torch.as_tensor(data, dtype=DTYPE)


def _grid(low: float, high: float, size: int = 400) -> torch.Tensor:
    return torch.linspace(low, high, size, dtype=DTYPE)


# ---------------------------------------------------------------------- univariate


def univariate_pdfs() -> Figure:
    """N(x; mu, sigma^2) for several mu and sigma, the area under each curve shaded."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    x = _grid(-6.0, 6.0, 1201)
    for mu, sigma in ((0.0, 1.0), (0.0, 0.5), (0.0, 2.0), (2.0, 0.75), (-3.0, 1.0)):
        g = Gaussian.univariate(_tensor(mu), _tensor(sigma))
        density = g.prob(x)
        whole_line = _grid(mu - 12 * sigma, mu + 12 * sigma, 4001)  # beyond 12 sigma: < 1e-32
        area = torch.trapezoid(g.prob(whole_line), whole_line).item()
        label = f"μ = {mu:g}, σ = {sigma:g}  (area = {area:.3f})"
        (line,) = ax.plot(x, density, label=label)
        ax.fill_between(x, density, alpha=0.15, color=line.get_color())
    ax.set(
        title="Univariate Gaussian densities: μ shifts the curve, σ widens it, area stays 1",
        xlabel="x",
        ylabel="density p(x) = exp(−(x−μ)²/(2σ²)) / √(2πσ²)",
        ylim=(0, None),
    )
    ax.legend()
    return fig


# ---------------------------------------------------------------------- multivariate


def _density_grid(g: Gaussian, extent: float, size: int = 200):
    axis = _grid(-extent, extent, size)
    x1, x2 = torch.meshgrid(axis, axis, indexing="xy")
    density = g.prob(torch.stack([x1, x2], dim=-1))
    return x1.numpy(), x2.numpy(), density.numpy()


def _draw_axes(ax: plt.Axes, g: Gaussian) -> None:
    """Arrows from the mean along each eigenvector of Sigma, of length sqrt(lambda)."""
    variances, directions = g.principal_axes()
    center = g.mean.numpy()
    for i, (variance, color) in enumerate(zip(variances.tolist(), ("C3", "C1"), strict=True)):
        tip = directions[:, i].numpy() * math.sqrt(variance)
        ax.annotate(
            "",
            xy=center + tip,
            xytext=center,
            arrowprops={"arrowstyle": "->", "color": color, "lw": 2},
        )
        ax.plot([], [], color=color, lw=2, label=f"axis {i + 1}: √λ = {math.sqrt(variance):.2f}")


def mvn_contours() -> Figure:
    """Contours of isotropic, diagonal and rotated 2-D Gaussians with their principal axes."""
    cases = {
        "isotropic  Σ = I": [[1.0, 0.0], [0.0, 1.0]],
        "diagonal  Σ = diag(2.5, 0.5)": [[2.5, 0.0], [0.0, 0.5]],
        "rotated  Σ = [[1.5, 1.0], [1.0, 1.5]]": [[1.5, 1.0], [1.0, 1.5]],
    }
    fig, axes = plt.subplots(1, 3, figsize=(15, 5), constrained_layout=True)
    for ax, (title, covariance) in zip(axes, cases.items(), strict=True):
        g = Gaussian(_tensor([0.0, 0.0]), _tensor(covariance))
        x1, x2, density = _density_grid(g, 4.0)
        filled = ax.contourf(x1, x2, density, levels=12, cmap="viridis")
        ax.contour(x1, x2, density, levels=6, colors="white", linewidths=0.6)
        _draw_axes(ax, g)
        ax.set(title=title, xlabel="x₁", ylabel="x₂", aspect="equal")
        ax.legend(loc="upper left", fontsize=8)
    fig.colorbar(filled, ax=axes, label="density p(x₁, x₂)", shrink=0.8)
    fig.suptitle(
        "2-D Gaussian contours are ellipses along the eigenvectors of Σ, semi-axes ∝ √(eigenvalue)"
    )
    return fig


def mvn_surface() -> Figure:
    """The bivariate density as a 3-D surface (correlation 0.7)."""
    g = Gaussian(_tensor([0.0, 0.0]), _tensor([[1.0, 0.7], [0.7, 1.0]]))
    x1, x2, density = _density_grid(g, 3.0, 120)
    fig = plt.figure(figsize=(8, 6))
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(x1, x2, density, cmap="viridis", linewidth=0, antialiased=True)
    ax.contour(x1, x2, density, levels=8, zdir="z", offset=0, cmap="viridis")
    ax.set(
        title="Bivariate Gaussian density, μ = (0, 0), Σ = [[1, 0.7], [0.7, 1]]",
        xlabel="x₁",
        ylabel="x₂",
        zlabel="p(x₁, x₂)",
    )
    ax.view_init(elev=30, azim=-60)
    return fig


def conditional_slice() -> Figure:
    """Exercise 2: the slice x2 = 1.5 of the joint and the conditional N(1.05, 0.51)."""
    observed = 1.5
    joint = Gaussian(_tensor([0.0, 0.0]), _tensor([[1.0, 0.7], [0.7, 1.0]]))
    conditional = joint.condition([1], _tensor([observed]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), constrained_layout=True)
    x1, x2, density = _density_grid(joint, 3.5)
    left.contourf(x1, x2, density, levels=12, cmap="Blues")
    left.axhline(observed, color="C3", lw=2, label=f"slice x₂ = {observed}")
    left.set(title="Joint density, Σ = [[1, 0.7], [0.7, 1]]", xlabel="x₁", ylabel="x₂")
    left.set_aspect("equal")
    left.legend(loc="upper left")

    x = _grid(-2.0, 4.0, 600)
    slice_density = joint.prob(torch.stack([x, torch.full_like(x, observed)], dim=-1))
    slice_density = slice_density / torch.trapezoid(slice_density, x)
    torch.manual_seed(SEED)
    samples = conditional.sample((20_000,))[:, 0]
    right.hist(
        samples, bins=80, density=True, color="C0", alpha=0.35, label="samples of p(x₁ | x₂)"
    )
    mean, variance = conditional.mean[0].item(), conditional.variance[0].item()
    right.plot(
        x,
        conditional.prob(x[:, None]),
        color="C0",
        lw=2,
        label=f"closed form N({mean:.2f}, {variance:.2f})",
    )
    right.plot(x, slice_density, "--", color="C3", lw=2, label="joint slice, renormalized")
    right.set(
        title=f"Conditional p(x₁ | x₂ = {observed}) = N(0.7·1.5, 1 − 0.7²)",
        xlabel="x₁",
        ylabel="density",
    )
    right.legend()
    return fig


# ---------------------------------------------------------------------- central limit theorem


def clt_histograms() -> Figure:
    """Standardized sums of n Exponential(1) draws for growing n, against N(0, 1)."""
    sizes = (1, 2, 5, 30)
    generator = torch.Generator().manual_seed(SEED)
    fig, axes = plt.subplots(1, len(sizes), figsize=(16, 4), sharey=True, constrained_layout=True)
    z_axis = _grid(-4.0, 4.0, 400)
    normal = Gaussian.univariate(_tensor(0.0), _tensor(1.0)).prob(z_axis)
    start = Exponential(_tensor(1.0))
    for ax, n in zip(axes, sizes, strict=True):
        z = standardized_sums(start, n, 40_000, generator=generator)
        ax.hist(z, bins=np.linspace(-4, 4, 81), density=True, alpha=0.5, label="standardized sums")
        ax.plot(z_axis, normal, color="C3", lw=2, label="N(0, 1)")
        ax.set(title=f"n = {n}  (KS distance {ks_distance(z):.3f})", xlabel="z = (Sₙ − n) / √n")
    axes[0].set_ylabel("density")
    axes[0].legend()
    fig.suptitle("Central limit theorem: sums of n Exponential(1) draws approach N(0, 1)")
    return fig


# ---------------------------------------------------------------------- diffusion


def diffusion_forward() -> Figure:
    """Exercise 4: a 1-D mixture forward-diffused to N(0, 1), as a heat map of the exact
    marginal q(x_t) over t and as snapshots next to histograms of the simulated chain."""
    schedule = exercise4_schedule()
    mixture = seed_mixture(Context(samples=1, device=torch.device("cpu")))
    generator = torch.Generator().manual_seed(SEED)
    trajectory = forward_mixture_trajectory(
        mixture, schedule, range(schedule.T + 1), num_samples=20_000, generator=generator
    )
    grid = trajectory.grid.numpy()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 9), constrained_layout=True)
    image = top.imshow(
        trajectory.density.T.numpy(),
        origin="lower",
        aspect="auto",
        extent=(0, schedule.T, grid[0], grid[-1]),
        cmap="magma",
    )
    fig.colorbar(image, ax=top, label="density q(x_t)")
    top.set(
        title="Forward diffusion of 0.3·N(−2, 0.3²) + 0.7·N(1.5, 0.5²), linear schedule, T = 100",
        xlabel="timestep t",
        ylabel="x_t",
        ylim=(-4, 4),
    )

    edges = trajectory.bin_edges.numpy()
    for i, t in enumerate((0, 10, 40, 100)):
        color = f"C{i}"
        bottom.stairs(trajectory.histogram[t].numpy(), edges, fill=True, alpha=0.25, color=color)
        abar = schedule.alphas_cumprod[t].item()
        label = f"t = {t} (ᾱ_t = {abar:.3g})"
        bottom.plot(grid, trajectory.density[t].numpy(), color=color, lw=2, label=label)
    standard = Gaussian.univariate(_tensor(0.0), _tensor(1.0)).prob(trajectory.grid)
    bottom.plot(grid, standard.numpy(), "k--", lw=1.5, label="N(0, 1)")
    bottom.set(
        title="Snapshots: exact marginal q(x_t) (lines) and simulated single steps (histograms)",
        xlabel="x_t",
        ylabel="density",
        xlim=(-4, 4),
    )
    bottom.legend()
    return fig


def schedules() -> Figure:
    """abar_t and the signal-to-noise ratio of the linear and cosine schedules (T = 1000)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), constrained_layout=True)
    for schedule in (Schedule.linear(1000), Schedule.cosine(1000)):
        t = np.arange(1, schedule.T + 1)
        left.plot(t, schedule.alphas_cumprod[1:].numpy(), label=schedule.kind)
        right.plot(t, schedule.snr[1:].numpy(), label=schedule.kind)
    left.set(
        title="Signal kept: ᾱ_t = ∏ (1 − β_s)",
        xlabel="timestep t",
        ylabel="ᾱ_t",
    )
    right.set(
        title="Signal-to-noise ratio SNR(t) = ᾱ_t / (1 − ᾱ_t)",
        xlabel="timestep t",
        ylabel="SNR (log scale)",
        yscale="log",
    )
    for ax in (left, right):
        ax.legend(title="schedule")
        ax.grid(alpha=0.3)
    return fig


# ---------------------------------------------------------------------- maximum entropy


def maximum_entropy() -> Figure:
    """Entropies of eight laws with variance 1, their densities, and the entropy of three
    families along their shape parameter: the Gaussian member is always the maximum."""
    fig, (bars, densities, shapes) = plt.subplots(1, 3, figsize=(18, 5), constrained_layout=True)
    rows = maxent.entropy_table(1.0)
    gaussian = rows[0].entropy
    colors = ["C3" if row.family == "gaussian" else "C0" for row in rows]
    bars.barh([row.label for row in rows], [row.entropy for row in rows], color=colors)
    for i, row in enumerate(rows):
        note = "max" if row.family == "gaussian" else f"−{row.gap:.3f}"
        bars.text(row.entropy + 0.005, i, note, va="center", fontsize=9)
    bars.axvline(gaussian, color="C3", ls="--", lw=1)
    bars.set(
        title="H(p) at variance 1 (gap to the Gaussian = KL(p ‖ N))",
        xlabel="differential entropy (nats)",
        xlim=(min(r.entropy for r in rows) - 0.1, gaussian + 0.08),
    )
    bars.invert_yaxis()
    x = _grid(-4.0, 4.0, 801)
    for i, row in enumerate(rows):
        width = 3 if row.family == "gaussian" else 1.5
        densities.plot(x, maxent.density(row.law, x), lw=width, label=row.label, color=f"C{i}")
    densities.set(title="The densities: mean 0, variance 1", xlabel="x", ylabel="density")
    densities.legend(fontsize=8)
    sweeps = {
        "student_t": ("C5", np.geomspace(2.05, 200, 40)),
        "generalized_normal": ("C6", np.sort(np.append(np.geomspace(0.3, 8, 39), 2.0))),
        "mixture": ("C7", np.geomspace(0.02, 0.99, 40)),
    }
    for family, (color, values) in sweeps.items():
        shape = maxent.FAMILIES[family].shape
        gaps = [
            float(maxent.entropy_gap(maxent.same_variance(family, _tensor(1.0), shape=float(v))))
            for v in values
        ]
        shapes.plot(
            values, gaps, color=color, label=f"{maxent.FAMILIES[family].label} ({shape.name})"
        )
    shapes.axvline(2.0, color="C6", ls=":", lw=1)
    shapes.set(
        title="Gap along each family's shape: 0 only at the Gaussian",
        xlabel="shape parameter (log scale)",
        ylabel="H(N) − H(p)",
        xscale="log",
        yscale="log",
        ylim=(1e-5, None),
    )
    shapes.legend(fontsize=8)
    fig.suptitle("Maximum entropy: no law with variance σ² has more entropy than N(μ, σ²)")
    return fig


# ---------------------------------------------------------------------- Brownian motion


def brownian_motion() -> Figure:
    """Random walks of small uniform steps: paths inside ±2σ√t, variance linear in t, and
    Gaussian positions; then the forward process as Brownian motion, exploding vs preserving."""
    generator = torch.Generator().manual_seed(SEED)
    walk = random_walk(20_000, 200, steps="uniform", generator=generator)
    fig, axes = plt.subplots(2, 3, figsize=(17, 9), constrained_layout=True)
    paths, spread, positions = axes[0]
    times = walk.times.numpy()
    paths.plot(times, walk.positions[:, :30].numpy(), color="0.4", lw=0.6, alpha=0.6)
    for sign in (-1, 1):
        paths.plot(
            times, sign * 2 * np.sqrt(times), "C3--", lw=2, label="±2σ√t" if sign > 0 else None
        )
    paths.set(title="30 of 20,000 random walks (200 uniform steps)", xlabel="t", ylabel="X(t)")
    paths.legend()
    spread.plot(times, walk.positions.var(dim=1).numpy(), "C0", lw=2, label="sample variance")
    spread.plot(times, times, "k--", lw=1, label="σ²t")
    spread.set(title="Variances of independent steps add: Var X(t) = σ²t", xlabel="t")
    spread.legend()
    for i, t in enumerate((0.05, 0.25, 1.0)):
        index = round(t * 200)
        x = walk.positions[index].numpy()
        law = brownian_marginal(walk.times[index])
        grid = _grid(-3.5, 3.5)
        positions.hist(x, bins=np.linspace(-3.5, 3.5, 71), density=True, alpha=0.3, color=f"C{i}")
        ks = ks_distance(walk.positions[index] / law.stddev)
        positions.plot(
            grid, law.prob(grid), color=f"C{i}", lw=2, label=f"t = {t:g}: N(0, t), KS {ks:.3f}"
        )
    positions.set(title="Positions vs N(0, σ²t)", xlabel="X(t)", ylabel="density")
    positions.legend(fontsize=8)

    schedule = exercise4_schedule()
    data = seed_mixture(Context(samples=1, device=torch.device("cpu")))
    ve_axis, vp_axis, std_axis = axes[1]
    snapshots = (5, 20, 40, 60)
    width = 4 * math.sqrt(
        float(variance_exploding_marginal(data, schedule, snapshots[-1]).variance)
    )
    for i, t in enumerate(snapshots):
        exploding = variance_exploding_marginal(data, schedule, t)
        preserving = Diffusion(schedule).marginal(data, t)
        grid = _grid(-width, width, 800)
        sigma_t = float(schedule.sigmas[t])
        ve_axis.plot(
            grid, exploding.prob(grid), color=f"C{i}", label=f"t = {t}, σ_t = {sigma_t:.2f}"
        )
        grid = _grid(-4.0, 4.0, 800)
        scale = float(schedule.alphas_cumprod[t].sqrt())
        vp_axis.plot(
            grid, preserving.prob(grid), color=f"C{i}", label=f"t = {t}, √ᾱ_t = {scale:.2f}"
        )
    ve_axis.set(title="Variance exploding: x₀ + σ_t ε (Brownian motion at time σ_t²)", xlabel="x_t")
    vp_axis.set(title="Variance preserving: √ᾱ_t (x₀ + σ_t ε)", xlabel="x_t")
    ve_axis.legend(fontsize=8)
    vp_axis.legend(fontsize=8)
    steps = np.arange(1, schedule.T + 1)
    var0 = float(data.variance)
    sigmas_sq = schedule.sigmas[1:].numpy() ** 2
    abar = schedule.alphas_cumprod[1:].numpy()
    std_axis.plot(steps, np.sqrt(var0 + sigmas_sq), label="exploding: √(Var x₀ + σ_t²)")
    std_axis.plot(
        steps, np.sqrt(abar * var0 + 1 - abar), label="preserving: √(ᾱ_t Var x₀ + 1 − ᾱ_t)"
    )
    std_axis.set(
        title="Standard deviation of x_t (exercise-4 mixture data)",
        xlabel="timestep t",
        yscale="log",
    )
    std_axis.legend(fontsize=8)
    fig.suptitle(
        "Brownian motion: many small independent steps give Gaussian positions; "
        "diffusion models run it on data"
    )
    return fig


# ---------------------------------------------------------------------- conceptual questions


def correlation_collapse() -> Figure:
    """Question 2: as rho -> 1 the contours of N(0, [[1, rho], [rho, 1]]) collapse onto the
    line x2 = x1, the condition number (1 + rho) / (1 - rho) explodes and det Sigma -> 0."""
    rhos = (0.5, 0.9, 0.99, 0.999)
    fig = plt.figure(figsize=(17, 8), constrained_layout=True)
    grid_spec = fig.add_gridspec(2, len(rhos))
    torch.manual_seed(SEED)
    for i, rho in enumerate(rhos):
        ax = fig.add_subplot(grid_spec[0, i])
        g = Gaussian(_tensor([0.0, 0.0]), _tensor([[1.0, rho], [rho, 1.0]]))
        axis = _grid(-3.0, 3.0, 300)
        x1, x2 = torch.meshgrid(axis, axis, indexing="xy")
        log_density = g.log_prob(torch.stack([x1, x2], dim=-1)).numpy()
        ax.contour(x1.numpy(), x2.numpy(), log_density, levels=np.linspace(-12, 2, 12))
        samples = g.sample((400,)).numpy()
        ax.scatter(samples[:, 0], samples[:, 1], s=3, color="0.3", alpha=0.6)
        variances = g.principal_axes()[0]
        ax.set(
            title=f"ρ = {rho}: minor axis √(1 − ρ) = {math.sqrt(float(variances[1])):.3f}",
            aspect="equal",
            xlabel="x₁",
            ylabel="x₂",
        )
    condition = fig.add_subplot(grid_spec[1, :2])
    determinant = fig.add_subplot(grid_spec[1, 2:])
    one_minus = np.geomspace(1e-6, 1.0, 60)
    kappas, dets = [], []
    for gap in one_minus:
        rho = 1 - gap
        g = Gaussian(_tensor([0.0, 0.0]), _tensor([[1.0, rho], [rho, 1.0]]))
        variances = g.principal_axes()[0]
        kappas.append(float(variances[0] / variances[1]))
        dets.append(math.exp(2 * float(g.entropy()) - 2 * (1 + math.log(2 * math.pi))))
    condition.loglog(one_minus, kappas, "C0o", ms=3, label="λ₁/λ₂ from principal_axes")
    condition.loglog(one_minus, (2 - one_minus) / one_minus, "k-", lw=1, label="(1 + ρ)/(1 − ρ)")
    condition.set(title="Condition number of Σ", xlabel="1 − ρ", ylabel="κ(Σ)")
    determinant.loglog(one_minus, dets, "C1o", ms=3, label="det Σ from the entropy (log-det)")
    determinant.loglog(one_minus, 1 - (1 - one_minus) ** 2, "k-", lw=1, label="1 − ρ²")
    determinant.set(
        title="Determinant of Σ (area of the ellipse ∝ √det Σ)", xlabel="1 − ρ", ylabel="det Σ"
    )
    for ax in (condition, determinant):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(
        "As ρ → 1 the Gaussian concentrates on the line x₂ = x₁: κ → ∞, det Σ → 0 "
        "(a degenerate Gaussian)"
    )
    return fig


def gradient_estimators() -> Figure:
    """Question 3: per-draw gradients of E[z^2] for z ~ N(1, 0.5^2), pathwise vs score
    function, and their running means; a Bernoulli has only the score-function route."""
    torch.manual_seed(SEED)
    draws = 20_000
    params = (_tensor(1.0), _tensor(math.log(0.5)))

    def gaussian(mu: torch.Tensor, log_sigma: torch.Tensor) -> Gaussian:
        return Gaussian.univariate(mu, log_sigma.exp())

    pathwise = pathwise_gradients(gaussian, params, lambda z: z**2, draws)[0].numpy()
    score = score_function_gradients(gaussian, params, lambda z: z**2, draws)[0].numpy()
    fig, (spread, running, bernoulli) = plt.subplots(1, 3, figsize=(18, 5), constrained_layout=True)
    bins = np.linspace(-20, 40, 241)
    spread.hist(
        score,
        bins=bins,
        density=True,
        alpha=0.5,
        label=f"score function f(z) ∂log p/∂μ, std {score.std():.2f}",
    )
    spread.hist(
        pathwise,
        bins=bins,
        density=True,
        alpha=0.6,
        label=f"pathwise f′(z) ∂z/∂μ = 2z, std {pathwise.std():.2f}",
    )
    spread.axvline(2.0, color="k", ls="--", label="exact ∂E[z²]/∂μ = 2μ = 2")
    spread.set(
        title="One-draw gradient estimates, z ~ N(1, 0.5²), f(z) = z²",
        xlabel="estimate of ∂/∂μ",
        yscale="log",
    )
    spread.legend(fontsize=8)
    n = np.arange(1, draws + 1)
    for values, label, color in ((pathwise, "pathwise", "C1"), (score, "score function", "C0")):
        mean = np.cumsum(values) / n
        se = values.std() / np.sqrt(n)
        running.plot(n, mean, color=color, label=label)
        running.fill_between(n, mean - 2 * se, mean + 2 * se, color=color, alpha=0.2)
    running.axhline(2.0, color="k", ls="--")
    running.set(
        title="Both are unbiased; the pathwise one converges far faster",
        xlabel="draws",
        ylabel="running mean (±2 SE)",
        xscale="log",
        ylim=(0, 4),
    )
    running.legend()
    p, target = 0.3, 0.4
    (d_p,) = score_function_gradients(
        lambda q: torch.distributions.Bernoulli(probs=q),
        (_tensor(p),),
        lambda z: (z - target) ** 2,
        draws,
    )
    values, counts = np.unique(d_p.numpy().round(6), return_counts=True)
    bernoulli.bar(
        values,
        counts / draws,
        width=0.05,
        label=f"score-function values, mean {float(d_p.mean()):.3f}",
    )
    bernoulli.axvline(
        (1 - target) ** 2 - target**2, color="k", ls="--", label="exact f(1) − f(0) = 0.2"
    )
    bernoulli.set(
        title="z ~ Bernoulli(0.3): z = 1[u < p] has ∂z/∂p = 0,\n"
        "so no pathwise gradient; the score function works",
        xlabel="estimate of ∂E[(z − 0.4)²]/∂p",
        ylabel="frequency",
    )
    bernoulli.legend(fontsize=8)
    fig.suptitle("Why reparameterization needs a continuous law")
    return fig


def variance_preserving() -> Figure:
    """Question 4: Var(x_t) under DDPM's coefficients and three alternatives (exact lines,
    simulated points), and x_T of each against the N(0, 1) prior."""
    schedule = Schedule.linear(100, beta_start=1e-3, beta_end=0.2)
    generator = torch.Generator().manual_seed(SEED)
    x0 = (torch.rand(20_000, dtype=DTYPE, generator=generator) * 2 - 1) * math.sqrt(3)
    times = list(range(0, schedule.T + 1, 10))
    fig, (curves, finals) = plt.subplots(1, 2, figsize=(15, 5), constrained_layout=True)
    grid = _grid(-6.0, 6.0)
    edges = np.linspace(-6, 6, 121)
    for i, (choice, (label, _)) in enumerate(CHOICES.items()):
        exact = forward_variance(schedule, 1.0, choice).numpy()
        samples = forward_samples(x0, schedule, choice, times, generator=generator)
        curves.plot(range(schedule.T + 1), exact, color=f"C{i}", label=f"{choice}: {label}")
        curves.plot(times, samples.var(dim=1).numpy(), "o", color=f"C{i}", ms=4)
        # density over all draws: mass outside the window is left out, not renormalized
        counts, _ = np.histogram(samples[-1].numpy(), bins=edges)
        std = math.sqrt(exact[-1])
        finals.stairs(
            counts / (len(x0) * (edges[1] - edges[0])),
            edges,
            color=f"C{i}",
            lw=2,
            label=f"{choice}: std of x_T = {std:.3g}",
        )
    finals.plot(
        grid, Gaussian.univariate(_tensor(0.0), _tensor(1.0)).prob(grid), "k--", label="N(0, 1)"
    )
    curves.set(
        title="Var(x_t) from unit-variance uniform data: lines exact, dots simulated",
        xlabel="timestep t",
        ylabel="Var(x_t)",
        yscale="log",
    )
    curves.legend(fontsize=8)
    finals.set(
        title="x_T against the N(0, 1) prior the reverse process starts from",
        xlabel="x_T",
        ylabel="density",
    )
    finals.legend(fontsize=8)
    fig.suptitle(
        "Why √ᾱ_t and √(1 − ᾱ_t): a_t² + b_t² = 1 keeps Var(x_t) = ᾱ_t Var(x₀) + 1 − ᾱ_t → 1"
    )
    return fig


FIGURES: dict[str, Callable[[], Figure]] = {
    "univariate_pdfs": univariate_pdfs,
    "mvn_contours": mvn_contours,
    "mvn_surface": mvn_surface,
    "conditional_slice": conditional_slice,
    "clt_histograms": clt_histograms,
    "diffusion_forward": diffusion_forward,
    "schedules": schedules,
    "maximum_entropy": maximum_entropy,
    "brownian_motion": brownian_motion,
    "correlation_collapse": correlation_collapse,
    "gradient_estimators": gradient_estimators,
    "variance_preserving": variance_preserving,
}
"""Each figure's file stem and the function that draws it."""


def draw(out: Path, on_done: Callable[[str], None] | None = None) -> list[Path]:
    """Write every figure into `out` as PNG and SVG; return the paths written."""
    written = []
    for stem, make in FIGURES.items():
        fig = make()
        for suffix in ("png", "svg"):
            path = out / f"{stem}.{suffix}"
            fig.savefig(path, dpi=DPI)
            written.append(path)
        plt.close(fig)
        if on_done is not None:
            on_done(stem)
    return written


def _prepare(out: Path) -> str | None:
    """Create `out` if needed; a one-line reason when it cannot hold the figures."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".gausslab-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        return f"--out {str(out)!r} is not a writable folder: {error.strerror or error}"
    return None


def run_cli(out: Path) -> int:
    """`gausslab figures --out DIR`: 0 on success, 2 when DIR cannot be written."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console()
    problem = _prepare(Path(out))
    if problem is not None:
        Console(stderr=True).print(f"Error: {problem}", highlight=False, soft_wrap=True)
        return 2
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("drawing", total=len(FIGURES))
        written = draw(Path(out), lambda stem: progress.update(task, advance=1, description=stem))
    console.print(f"wrote {len(written)} files ({len(FIGURES)} figures) to {out}", highlight=False)
    return 0
