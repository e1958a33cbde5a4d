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

from gausslab.clt import ks_distance, standardized_sums
from gausslab.diffusion import Schedule
from gausslab.diffusion.evaluation import forward_mixture_trajectory
from gausslab.gaussian import Gaussian
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


FIGURES: dict[str, Callable[[], Figure]] = {
    "univariate_pdfs": univariate_pdfs,
    "mvn_contours": mvn_contours,
    "mvn_surface": mvn_surface,
    "conditional_slice": conditional_slice,
    "clt_histograms": clt_histograms,
    "diffusion_forward": diffusion_forward,
    "schedules": schedules,
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
