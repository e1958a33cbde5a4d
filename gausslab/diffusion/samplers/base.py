"""The sampler interface: a reverse-process solver on a grid, registered by name.

A ``Sampler`` subclass with a ``name`` registers itself in ``REGISTRY`` (the names are
``SAMPLERS``). Its constructor takes the ``Grid``, the model's ``prediction`` and its own
options, validates them once and precomputes every step's coefficients as Python floats from
the grid's float64 tables; ``step(i, x, out, run)`` then advances x from grid point i to i + 1
with a few fused elementwise operations and no validation. ``out`` is model(x, t_i), read as
``prediction``; ``run`` (a ``Run``) calls the model again where a method needs it, hands out
the step noises and keeps the history a multistep method carries from step to step.

Whenever the model is affine in x_t, a run is an affine map of (x_T, the step noises): that is
what ``gausslab.diffusion.evaluation`` uses to compute a sampler's exact output law.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from gausslab._validation import describe
from gausslab.diffusion.process import conversion_coefficients
from gausslab.diffusion.samplers.grid import Grid

__all__ = ["REGISTRY", "Model", "Run", "Sampler", "affine_update"]

Model = Callable[[Tensor, Tensor], Tensor]

#: Every sampler class by name, in the order their modules were imported.
REGISTRY: dict[str, type[Sampler]] = {}


class Sampler(ABC):
    """A reverse-process solver on a fixed ``Grid``: coefficients computed once, then ``run``.

    Attributes: ``name`` (registry key), ``grid``, ``timesteps`` (the model's t at each step,
    a tuple of ints), ``prediction`` ("eps", "x0" or "v"), ``num_noises`` (standard normal
    draws of x's shape per run), ``num_model_calls``; and ``conversion`` = (x0_x, x0_out, eps_x,
    eps_out), float64 tensors of shape (n,), with x0_hat = x0_x x + x0_out out and
    eps_hat = eps_x x + eps_out out at each grid point (``conversion_coefficients``).
    """

    name: ClassVar[str]
    #: Whether the sampler takes DDIM's eta (every other sampler accepts only eta = 0).
    takes_eta: ClassVar[bool] = False
    num_noises: int = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is not None:
            if name in REGISTRY:
                raise TypeError(f"sampler name {name!r} is taken by {REGISTRY[name].__name__}")
            REGISTRY[name] = cls

    def __init__(self, grid: Grid, prediction: str = "eps") -> None:
        self.grid = grid
        self.prediction = prediction
        self.timesteps: tuple[int, ...] = tuple(grid.timesteps.tolist())
        self.conversion = conversion_coefficients(
            grid.alphas_cumprod[:-1], grid.one_minus_alphas_cumprod[:-1], prediction
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(steps={len(self.timesteps)}, prediction={self.prediction!r})"

    @property
    def num_model_calls(self) -> int:
        """Model evaluations per run: one per step unless a method needs more."""
        return len(self.timesteps)

    @abstractmethod
    def step(self, i: int, x: Tensor, out: Tensor, run: Run) -> Tensor:
        """x at grid point i + 1 from x at point i and out = model(x, t_i); a new tensor."""

    # ------------------------------------------------------------------ helpers for subclasses

    def rows(self, *coefficients: Tensor | Sequence[float]) -> list[list[float]]:
        """Per-step coefficient rows as Python floats: row i holds coefficients[j][i].

        Raises the ValueError every sampler gives when a coefficient is infinite: the first
        grid point has abar = 0 (zero terminal SNR) where the prediction cannot give x0 or
        the method divides by sigma.
        """
        table = torch.stack([torch.as_tensor(c, dtype=torch.float64) for c in coefficients])
        if not bool(torch.isfinite(table).all()):
            abar = self.grid.alphas_cumprod[0].item()
            raise ValueError(
                f"sampler={self.name!r} with prediction={self.prediction!r} is undefined on this "
                f"schedule: alphas_cumprod at the first timestep t = {self.timesteps[0]} is "
                f"{abar!r} (zero terminal SNR), where x0 cannot be recovered from eps and "
                "sigma = sqrt((1 - abar) / abar) is infinite; use prediction='v' or 'x0' with "
                "'ddpm' or 'ddim', or timesteps starting below T"
            )
        return table.T.tolist()

    # ------------------------------------------------------------------ running

    def run(
        self,
        model: Model,
        x_T: Tensor,
        *,
        generator: torch.Generator | None = None,
        noise: Sequence[Tensor] | None = None,
        progress: bool = False,
    ) -> Tensor:
        """Run the reverse chain from x_T (the state at t_0) down to t = 0; return x_0.

        The step noises are `noise` (``num_noises`` tensors of x_T's shape, used in order; see
        ``draw_noises``) or fresh draws from `generator`. x_T is not modified. Gradients flow
        when grad mode is on (every update writes into a fresh tensor).
        """
        if not callable(model):
            raise TypeError(f"model must be callable as model(x_t, t), got {type(model).__name__}")
        x = check_x(x_T, "x_T")
        if noise is not None:
            noise = _check_noise(noise, x, self.num_noises)
        check_generator(generator, x)
        run = Run(model, self.timesteps, x, generator, noise)
        steps: Iterable[int] = range(len(self.timesteps))
        if progress:
            steps = _progress(len(self.timesteps), f"{self.name} sampling")
        for i in steps:
            x = self.step(i, x, run.output(x, i), run)
        return x

    def draw_noises(self, x_T: Tensor, generator: torch.Generator | None = None) -> list[Tensor]:
        """``num_noises`` standard normal tensors like x_T, from `generator`: pass them as
        ``run(..., noise=...)`` to give several runs the same random numbers."""
        check_generator(generator, check_x(x_T, "x_T"))
        return [
            torch.randn(x_T.shape, generator=generator, dtype=x_T.dtype, device=x_T.device)
            for _ in range(self.num_noises)
        ]


class Run:
    """One execution of a sampler: calls the model, hands out step noises in order, and holds
    what a multistep method carries between steps: ``predictions`` (its past data predictions,
    newest last; empty at the start) and ``previous`` (its state at the last grid point)."""

    def __init__(
        self,
        model: Model,
        timesteps: Sequence[int],
        x: Tensor,
        generator: torch.Generator | None,
        noise: Sequence[Tensor] | None,
    ) -> None:
        batch, device = x.shape[0], x.device
        by_value = {t: torch.full((batch,), t, dtype=torch.int64, device=device) for t in timesteps}
        self._t = [by_value[t] for t in timesteps]
        self._model = model
        self._checked = False
        self._noise = iter(noise) if noise is not None else None
        self._generator = generator
        self.predictions: list[Tensor] = []
        self.previous: Tensor | None = None

    def output(self, x: Tensor, k: int) -> Tensor:
        """model(x, t_k) at grid point k (t as an int64 (B,) tensor); its shape checked once."""
        out = self._model(x, self._t[k])
        if not self._checked:
            _check_output(out, x)
            self._checked = True
        return out

    def noise(self, std: float, like: Tensor) -> Tensor:
        """A fresh tensor std z of like's shape, dtype and device: z is the next given noise,
        or is drawn from the generator straight into the new tensor."""
        if self._noise is not None:
            return torch.mul(next(self._noise).to(like), std)
        return torch.empty_like(like).normal_(0.0, std, generator=self._generator)


def affine_update(x: Tensor, a: float, out: Tensor, b: float, c: float, run: Run) -> Tensor:
    """x' = a x + b out + c z (z the run's next noise when c != 0), in a fresh tensor."""
    if c == 0.0:
        return torch.mul(x, a).add_(out, alpha=b)
    return run.noise(c, x).add_(x, alpha=a).add_(out, alpha=b)


# ---------------------------------------------------------------------------- validation


def check_x(x: Any, name: str) -> Tensor:
    """Raise unless x is a floating tensor with a batch dimension."""
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.ndim < 1:
        got = describe(x) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"{name} must be a floating-point tensor of shape (B, *event_shape), got {got}"
        )
    return x


def check_generator(generator: Any, x: Tensor | None) -> None:
    """Raise unless generator is None or a torch.Generator on x's device type."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if x is not None and generator.device.type != x.device.type:
        raise ValueError(
            f"generator must be on x_T's device {x.device}, got a generator on {generator.device}"
        )


def _check_output(out: Any, x: Tensor) -> None:
    if not isinstance(out, Tensor) or out.shape != x.shape:
        got = describe(out) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"model(x_t, t) must return a tensor of x_t's shape {tuple(x.shape)}, got {got}"
        )


def _check_noise(noise: Sequence[Tensor], x: Tensor, expected: int) -> list[Tensor]:
    noise = list(noise)
    if len(noise) != expected:
        raise ValueError(
            f"noise must hold {expected} tensors (one per noisy step), got {len(noise)}"
        )
    for i, z in enumerate(noise):
        if not isinstance(z, Tensor) or z.shape != x.shape:
            got = describe(z) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"noise[{i}] must have x_T's shape {tuple(x.shape)}, got {got}")
    return noise


def check_eta(eta: Any, sampler: type[Sampler]) -> float:
    """Raise unless eta is a real in [0, 1], and 0 for a sampler that does not take it."""
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be a real number in [0, 1], got {eta!r}")
    if eta != 0.0 and not sampler.takes_eta:
        takers = [name for name, cls in REGISTRY.items() if cls.takes_eta]
        raise ValueError(
            f"eta applies to sampler={', '.join(map(repr, takers))} only, got eta={eta!r} "
            f"with {sampler.name!r}"
        )
    return float(eta)


def _progress(total: int, description: str) -> Iterable[int]:
    from rich.progress import track

    return track(range(total), description=description, total=total, transient=True)
