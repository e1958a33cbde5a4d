"""Noise schedules for Gaussian diffusion, in the paper convention.

Every table has length T + 1 and is indexed by the paper timestep t = 0..T, where t = 0 is
the clean data::

    betas[0] = 0,                   betas[t] = beta_t                    (t = 1..T)
    alphas[t] = 1 - betas[t]
    alphas_cumprod[t] = prod_{s=1..t} (1 - betas[s])                     (abar_t; abar_0 = 1)
    one_minus_alphas_cumprod[t] = 1 - abar_t              (as -expm1(log abar_t): no cancellation)
    snr[t] = abar_t / (1 - abar_t)
    log_snr[t] = log(abar_t) - log1p(-abar_t)
    sigmas[t] = sqrt((1 - abar_t) / abar_t)

so that q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I).

Mapping to 0-based libraries (diffusers, improved-diffusion): their timestep i = 0..T-1 is the
paper timestep t = i + 1, so ``diffusers.betas[i] == betas[i + 1]`` and
``diffusers.alphas_cumprod[i] == alphas_cumprod[i + 1]``; paper t = 0 (the data) has no 0-based
counterpart.

All tables are float64 tensors on the CPU, computed once at construction. ``gather`` is the one
place where a table row is read at t, cast to the dtype and device of the tensor it multiplies and
shaped to broadcast against it; ``Schedule.coef`` is its checked form.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["Schedule", "gather"]

_SPACINGS = ("trailing", "leading", "linspace")
_DIFFUSERS_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid")


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int >= {low}, got {value!r} ({type(value).__name__})")
    if value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _check_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def _check_beta_range(beta_start: Any, beta_end: Any) -> tuple[float, float]:
    beta_start = _check_float(beta_start, "beta_start")
    beta_end = _check_float(beta_end, "beta_end")
    if not 0.0 < beta_start <= 1.0:
        raise ValueError(f"beta_start must be in (0, 1], got {beta_start!r}")
    if not 0.0 < beta_end <= 1.0:
        raise ValueError(f"beta_end must be in (0, 1], got {beta_end!r}")
    if beta_start > beta_end:
        raise ValueError(
            f"beta_start must be <= beta_end, got beta_start={beta_start!r} > beta_end={beta_end!r}"
        )
    return beta_start, beta_end


def gather(table: torch.Tensor, t: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``table[t]`` in like's dtype and device, shaped to broadcast against ``like``.

    ``t`` is an already checked timestep (``Schedule.check_t``): an int or a 0-d tensor gives a
    0-d result; a tensor of shape (B,) gives shape (B, 1, ..., 1) with ``like.ndim`` dims. No
    validation (this is the hot path); the table is cast once, before the gather, which reads
    the same values as gathering in float64 and rounding each entry.
    """
    table = table.to(device=like.device, dtype=like.dtype)
    if isinstance(t, int):
        return table[t]
    out = table[t.to(like.device)]
    if t.ndim == 1:
        out = out.reshape(t.shape + (1,) * (like.ndim - 1))
    return out


class Schedule:
    """A discrete noise schedule beta_1..beta_T with its derived tables (paper indexing).

    ``Schedule(betas)`` (same as ``Schedule.from_betas(betas)``) takes beta_1..beta_T as a 1-D
    sequence, array or tensor of length T >= 1, each in (0, 1]; beta = 1 is allowed only at the
    last step t = T (it makes abar_T = 0: zero terminal SNR). The tables are attributes
    (float64 tensors of length T + 1, index t; see the module docstring for the formulas):
    ``betas``, ``alphas``, ``alphas_cumprod``, ``one_minus_alphas_cumprod``, ``snr``,
    ``log_snr``, ``sigmas``; ``T`` is the number of steps; ``kind`` is a label ("linear",
    "cosine", ..., "custom", with "+zero_terminal_snr" after a rescale) shown by ``repr``.

    Infinities appear only where the exact value is infinite: ``snr[0] = log_snr[0] = +inf``;
    when abar_T = 0 (zero terminal SNR) ``log_snr[T] = -inf`` and ``sigmas[T] = +inf``. No table
    holds a NaN.
    """

    T: int
    kind: str
    betas: torch.Tensor
    alphas: torch.Tensor
    alphas_cumprod: torch.Tensor
    one_minus_alphas_cumprod: torch.Tensor
    snr: torch.Tensor
    log_snr: torch.Tensor
    sigmas: torch.Tensor

    def __init__(self, betas: Sequence[float] | np.ndarray | torch.Tensor, *, kind: str = "custom"):
        try:
            b = torch.as_tensor(
                betas.detach().cpu() if isinstance(betas, torch.Tensor) else betas,
                dtype=torch.float64,
            )
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"betas must be a 1-D sequence of real numbers (beta_1..beta_T), got {betas!r}"
            ) from err
        if b.ndim != 1 or b.numel() < 1:
            raise ValueError(
                f"betas must be 1-D with length T >= 1 (beta_1..beta_T), got shape {tuple(b.shape)}"
            )
        bad = ~torch.isfinite(b) | (b <= 0) | (b > 1)
        if bad.any():
            i = int(bad.nonzero()[0])
            raise ValueError(
                f"betas must be finite and in (0, 1], got betas[{i}] = {b[i].item()!r} "
                f"(paper t = {i + 1})"
            )
        T = b.numel()
        if (b[:-1] == 1).any():
            i = int((b[:-1] == 1).nonzero()[0])
            raise ValueError(
                f"betas may equal 1 only at the last step t = T = {T}, got betas[{i}] = 1.0 "
                f"(paper t = {i + 1}); abar would be 0 from there on"
            )

        zero = torch.zeros(1, dtype=torch.float64)
        self.T = T
        self.kind = kind
        self.betas = torch.cat([zero, b])
        self.alphas = 1.0 - self.betas
        # log abar_t = sum_{s<=t} log1p(-beta_s); 1 - abar_t = -expm1(log abar_t) keeps full
        # relative precision at small t, where 1 - abar_t is tiny.
        log_abar = torch.cumsum(torch.log1p(-self.betas), dim=0)
        self.alphas_cumprod = torch.exp(log_abar)
        # abs() turns -expm1(0) = -0.0 into +0.0, so snr[0] = +inf and sigmas[0] = +0.
        self.one_minus_alphas_cumprod = torch.expm1(log_abar).abs()
        self.snr = self.alphas_cumprod / self.one_minus_alphas_cumprod
        self.log_snr = log_abar - torch.log(self.one_minus_alphas_cumprod)
        self.sigmas = torch.sqrt(self.one_minus_alphas_cumprod / self.alphas_cumprod)

        abar = self.alphas_cumprod
        if not bool((abar[1:] < abar[:-1]).all()):
            i = int((abar[1:] >= abar[:-1]).nonzero()[0]) + 1
            raise ValueError(
                f"alphas_cumprod must be strictly decreasing in t, but alphas_cumprod[{i}] = "
                f"{abar[i].item()!r} >= alphas_cumprod[{i - 1}] = {abar[i - 1].item()!r} "
                f"(betas[{i}] = {self.betas[i].item()!r} is below float64 resolution, or "
                "alphas_cumprod underflowed to 0)"
            )
        if abar[-1] == 0 and self.betas[-1] != 1:
            raise ValueError(
                f"alphas_cumprod underflowed to 0 at t = T = {T} although betas[T] = "
                f"{self.betas[-1].item()!r} < 1; the schedule is too long or too noisy for float64"
            )

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_betas(cls, betas: Sequence[float] | np.ndarray | torch.Tensor) -> Schedule:
        """Schedule from beta_1..beta_T (a 1-D sequence/array/tensor of length T, each in (0, 1]).

        ``betas[0] = 0`` is prepended, so ``schedule.betas[t]`` is the given ``betas[t - 1]``.
        """
        return cls(betas, kind="custom")

    @classmethod
    def linear(cls, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
        """DDPM (Ho et al. 2020) linear schedule.

        beta_t = beta_start + (beta_end - beta_start) * (t - 1) / (T - 1) for t = 1..T
        (beta_1 = beta_start, beta_T = beta_end; T = 1 gives beta_1 = beta_start).
        """
        T = _check_int(T, "T", 1)
        beta_start, beta_end = _check_beta_range(beta_start, beta_end)
        betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
        return cls(betas, kind="linear")

    @classmethod
    def scaled_linear(
        cls, T: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012
    ) -> Schedule:
        """Stable Diffusion (latent diffusion) schedule: linear in sqrt(beta), then squared.

        beta_t = (sqrt(beta_start) + (sqrt(beta_end) - sqrt(beta_start)) * (t - 1) / (T - 1))^2
        for t = 1..T.
        """
        T = _check_int(T, "T", 1)
        beta_start, beta_end = _check_beta_range(beta_start, beta_end)
        root = torch.linspace(math.sqrt(beta_start), math.sqrt(beta_end), T, dtype=torch.float64)
        return cls(root**2, kind="scaled_linear")

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
        """Cosine schedule (Nichol & Dhariwal 2021, improved DDPM; diffusers "squaredcos_cap_v2").

        f(t) = cos(((t / T + s) / (1 + s)) * pi / 2)^2,  abar(t) = f(t) / f(0),
        beta_t = min(1 - abar(t) / abar(t - 1), max_beta)   for t = 1..T,

        and then ``alphas_cumprod[t] = prod_{s<=t} (1 - beta_s)``, which equals f(t)/f(0) except
        where the cap max_beta bites (the last steps). f is evaluated as the equivalent
        sin((1 - t/T) / (1 + s) * pi/2)^2, and 1 - f(t)/f(t-1) as a product of sines (no
        cancellation); f(T) = 0 exactly, so max_beta = 1 gives beta_T = 1: zero terminal SNR.
        """
        T = _check_int(T, "T", 1)
        s = _check_float(s, "s")
        if s < 0:
            raise ValueError(f"s must be >= 0, got {s!r}")
        max_beta = _check_float(max_beta, "max_beta")
        if not 0.0 < max_beta <= 1.0:
            raise ValueError(f"max_beta must be in (0, 1], got {max_beta!r}")
        # With u_t = (T - t) / (T (1 + s)) * pi/2, f(t) = sin(u_t)^2 and
        # 1 - f(t)/f(t-1) = sin(u_{t-1} - u_t) sin(u_{t-1} + u_t) / sin(u_{t-1})^2,
        # which keeps full relative precision for the tiny early betas (no 1 - ratio cancellation).
        scale = (math.pi / 2) / (T * (1.0 + s))
        t = torch.arange(1, T + 1, dtype=torch.float64)
        u_prev = (T - t + 1) * scale
        betas = math.sin(scale) * torch.sin((2 * (T - t) + 1) * scale) / torch.sin(u_prev) ** 2
        betas[-1] = 1.0  # f(T) = 0 exactly
        betas = torch.clamp(betas, max=max_beta)
        return cls(betas, kind="cosine")

    @classmethod
    def sigmoid(cls, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
        """Sigmoid schedule (GeoDiff; diffusers "sigmoid").

        beta_t = beta_start + (beta_end - beta_start) * sigmoid(-6 + 12 * (t - 1) / (T - 1))
        for t = 1..T (T = 1 gives sigmoid(-6)). Note beta_1 > beta_start and beta_T < beta_end.
        """
        T = _check_int(T, "T", 1)
        beta_start, beta_end = _check_beta_range(beta_start, beta_end)
        x = torch.linspace(-6.0, 6.0, T, dtype=torch.float64)
        betas = torch.sigmoid(x) * (beta_end - beta_start) + beta_start
        return cls(betas, kind="sigmoid")

    @classmethod
    def from_diffusers_config(cls, config: Mapping[str, Any]) -> Schedule:
        """Schedule from a diffusers scheduler config (a dict such as ``scheduler.config``).

        Reads ``num_train_timesteps`` (T, default 1000), ``beta_schedule`` (default "linear":
        "linear" -> ``linear``, "scaled_linear" -> ``scaled_linear``, "squaredcos_cap_v2" ->
        ``cosine(T, s=0.008, max_beta=0.999)``, "sigmoid" -> ``sigmoid``), ``beta_start``
        (default 1e-4), ``beta_end`` (default 0.02), ``trained_betas`` (default None; when given
        it overrides beta_schedule, as in diffusers) and ``rescale_betas_zero_snr`` (default
        False). Other keys (timestep_spacing, steps_offset, prediction_type, ...) are ignored.
        The tables are computed in float64, diffusers computes them in float32, so they agree
        to float32 precision. diffusers' 0-based table index i is paper t = i + 1.
        """
        if not isinstance(config, Mapping):
            raise ValueError(f"config must be a mapping (dict), got {type(config).__name__}")
        T = _check_int(config.get("num_train_timesteps", 1000), "num_train_timesteps", 1)
        beta_start = config.get("beta_start", 1e-4)
        beta_end = config.get("beta_end", 0.02)
        trained = config.get("trained_betas")
        name = config.get("beta_schedule", "linear")
        if trained is not None:
            sched = cls.from_betas(trained)
            if sched.T != T:
                raise ValueError(
                    f"trained_betas has length {sched.T}, expected num_train_timesteps = {T}"
                )
        elif name == "linear":
            sched = cls.linear(T, beta_start, beta_end)
        elif name == "scaled_linear":
            sched = cls.scaled_linear(T, beta_start, beta_end)
        elif name == "squaredcos_cap_v2":
            sched = cls.cosine(T, s=0.008, max_beta=0.999)
        elif name == "sigmoid":
            sched = cls.sigmoid(T, beta_start, beta_end)
        else:
            raise ValueError(f"beta_schedule must be one of {_DIFFUSERS_SCHEDULES}, got {name!r}")
        if config.get("rescale_betas_zero_snr", False):
            sched = sched.rescale_zero_terminal_snr()
        return sched

    def to_diffusers_config(self) -> dict[str, Any]:
        """A diffusers scheduler config with this schedule's tables:
        ``SchedulerClass.from_config(schedule.to_diffusers_config())`` has
        ``alphas_cumprod == schedule.alphas_cumprod[1:]`` (to float32, diffusers' dtype).

        The betas travel exactly as ``trained_betas`` (beta_1..beta_T, which every beta-based
        diffusers scheduler reads in place of ``beta_schedule``), with
        ``num_train_timesteps = T``. The sampling settings match gausslab's samplers:
        ``timestep_spacing="trailing"`` with ``steps_offset=0`` (the steps of
        ``Schedule.timesteps(n)``, 0-based), ``prediction_type="epsilon"`` (set "sample" or
        "v_prediction" for x0 or v models), ``clip_sample=False`` (no clamping of x0 to
        [-1, 1]), ``set_alpha_to_one=True`` (DDIM's last step lands on abar_0 = 1) and
        ``final_sigmas_type="zero"``; with zero terminal SNR (abar_T = 0)
        ``rescale_betas_zero_snr=True``, so the schedulers that need a finite sigma_T
        substitute abar_T = 2^-24 as diffusers does. Keys a scheduler class does not know are
        ignored by ``from_config``. Two diffusers classes change the tables on purpose: the
        CogVideoX schedulers shift the SNR (add ``snr_shift_scale=1.0`` to keep it), and
        RePaintScheduler reads trained_betas only as a numpy array. Inverse:
        ``from_diffusers_config`` (to float64 rounding).
        """
        return {
            "num_train_timesteps": self.T,
            "trained_betas": self.betas[1:].tolist(),
            "timestep_spacing": "trailing",
            "steps_offset": 0,
            "prediction_type": "epsilon",
            "clip_sample": False,
            "set_alpha_to_one": True,
            "final_sigmas_type": "zero",
            "rescale_betas_zero_snr": bool(self.alphas_cumprod[-1] == 0),
        }

    def rescale_zero_terminal_snr(self) -> Schedule:
        """A new Schedule with zero terminal SNR (Lin et al. 2023, Algorithm 1).

        With r_t = sqrt(abar_t) for t = 1..T, the rescaled
        r'_t = (r_t - r_T) * r_1 / (r_1 - r_T)
        keeps r'_1 = r_1 and makes r'_T = 0; then abar'_t = r'_t^2 and
        beta'_t = 1 - abar'_t / abar'_{t-1} (abar'_0 = 1), so beta'_1 = beta_1 and beta'_T = 1
        exactly, abar'_T = 0, snr[T] = 0, log_snr[T] = -inf and sigmas[T] = +inf.
        Requires T >= 2 (with T = 1 the only step would have to be pure noise and data at once).
        """
        if self.T < 2:
            raise ValueError(
                f"rescale_zero_terminal_snr needs T >= 2, got T = {self.T} "
                "(it keeps sqrt(abar_1) and sets sqrt(abar_T) = 0)"
            )
        r = self.alphas_cumprod[1:].sqrt()
        r1, rT = r[0].clone(), r[-1].clone()
        r = (r - rT) * (r1 / (r1 - rT))
        r[0], r[-1] = r1, 0.0  # exact by construction
        abar = torch.cat([torch.ones(1, dtype=torch.float64), r**2])
        betas = 1.0 - abar[1:] / abar[:-1]
        betas[0] = self.betas[1]
        suffix = "+zero_terminal_snr"
        kind = self.kind if self.kind.endswith(suffix) else self.kind + suffix
        return type(self)(betas, kind=kind)

    # ------------------------------------------------------------------ timesteps

    def timesteps(self, steps: int, spacing: str = "trailing") -> torch.Tensor:
        """``steps`` paper timesteps in 1..T, strictly DESCENDING: the reverse chain to run.

        Returns an int64 tensor. With T the number of training steps and k = 0..steps-1
        (values computed in float64 with numpy, rounding half to even, so that they are
        exactly diffusers' ``DDIMScheduler.set_timesteps(steps).timesteps + 1`` for the same
        ``timestep_spacing`` and ``steps_offset = 0``):

        - "trailing" (default; Lin et al. 2023, Table 2): t_k = round(T - k * T / steps),
          where the sequence T - k * (T / steps) is numpy's ``arange(T, 0, -T / steps)``. Starts
          at t = T, so sampling starts from pure noise; the last step is t = round(T / steps).
          Difference from diffusers: its float ``arange`` sometimes yields steps + 1 entries
          (e.g. T = 1000, steps = 61), the extra one being 0-based timestep -1; we return
          exactly ``steps`` of them, i.e. diffusers' first ``steps`` entries + 1.
        - "leading" (DDIM, Stable Diffusion): t_k = (steps - 1 - k) * (T // steps) + 1. Ends at
          t = 1 but starts at (steps - 1) * (T // steps) + 1, which is below T unless steps = 1
          or T // steps = (T - 1) / (steps - 1).
        - "linspace": t_k = round((steps - 1 - k) * (T - 1) / (steps - 1)) + 1 (numpy's
          ``linspace(0, T - 1, steps)``): from T down to 1; steps = 1 gives [1].

        Mapping to 0-based libraries: their timestep i is paper t = i + 1, so pass
        ``timesteps - 1`` to a model trained with 0-based timesteps.
        """
        steps = _check_int(steps, "steps", 1)
        if steps > self.T:
            raise ValueError(f"steps must be in 1..T = 1..{self.T}, got {steps}")
        T = self.T
        if spacing == "trailing":
            grid = np.arange(T, 0, -T / steps, dtype=np.float64)[:steps]
            t = np.round(grid).astype(np.int64)
        elif spacing == "leading":
            t = np.arange(steps - 1, -1, -1, dtype=np.int64) * (T // steps) + 1
        elif spacing == "linspace":
            t = np.round(np.linspace(0, T - 1, steps, dtype=np.float64)[::-1]).astype(np.int64) + 1
        else:
            raise ValueError(f"spacing must be one of {_SPACINGS}, got {spacing!r}")
        return torch.from_numpy(np.ascontiguousarray(t))

    # ------------------------------------------------------------------ helpers for the process

    def check_t(
        self, t: int | torch.Tensor, low: int = 1, high: int | None = None, name: str = "t"
    ) -> torch.Tensor:
        """Validate a timestep and return it as an int64 tensor (0-d for an int, else shape (B,)).

        ``t`` must be a Python int (not a bool) or an integer tensor that is a scalar or has
        shape (B,), with every entry in low..high (high defaults to T). A float, a bool, a float
        or bool tensor, a tensor of another shape, or a value out of range raises ValueError
        naming ``name``, the value received and the valid range. A tensor keeps its device.
        """
        high = self.T if high is None else high
        if isinstance(t, torch.Tensor):
            if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
                raise ValueError(
                    f"{name} must be an integer tensor with values in {low}..{high}, "
                    f"got dtype {t.dtype}"
                )
            if t.ndim > 1:
                raise ValueError(
                    f"{name} must be a scalar or have shape (B,), got shape {tuple(t.shape)}"
                )
            t = t.to(torch.int64)
            if t.numel() > 0:
                lo, hi = int(t.min()), int(t.max())
                if lo < low or hi > high:
                    bad = lo if lo < low else hi
                    raise ValueError(
                        f"{name} must be in {low}..{high}, got {bad} ({name} = {t.tolist()})"
                    )
            return t
        if isinstance(t, bool) or not isinstance(t, numbers.Integral):
            raise ValueError(
                f"{name} must be an int or an integer tensor in {low}..{high}, "
                f"got {t!r} ({type(t).__name__})"
            )
        if not low <= t <= high:
            raise ValueError(f"{name} must be in {low}..{high}, got {t}")
        return torch.tensor(int(t), dtype=torch.int64)

    def coef(self, table: torch.Tensor, t: int | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``table[t]`` cast to x's dtype and device, shaped to broadcast against x.

        ``table`` is one of this schedule's tables (length T + 1, e.g. ``self.alphas_cumprod``
        or ``self.alphas_cumprod.sqrt()``); ``t`` is checked with ``check_t(t, low=0)``. For t of
        shape (B,) and x of shape (B, *event) the result has shape (B, 1, ..., 1) (x.ndim dims);
        for an int or 0-d t it is 0-d (``gather`` after the checks).
        Example: mean of q(x_t | x_0) = ``coef(sqrt_abar, t, x0) * x0``.
        """
        if not isinstance(table, torch.Tensor) or table.shape != (self.T + 1,):
            shape = tuple(table.shape) if isinstance(table, torch.Tensor) else type(table).__name__
            raise ValueError(f"table must be a tensor of shape ({self.T + 1},), got {shape}")
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a floating-point tensor, got {got}")
        t = self.check_t(t, low=0)
        if t.ndim == 1 and (x.ndim < 1 or t.shape[0] not in (1, x.shape[0])):
            raise ValueError(
                f"t of shape {tuple(t.shape)} does not match the batch dimension of x "
                f"(shape {tuple(x.shape)}); expected t of shape (B,) with B = x.shape[0]"
            )
        return gather(table, t, x)

    def __repr__(self) -> str:
        return f"Schedule(kind={self.kind!r}, T={self.T})"
