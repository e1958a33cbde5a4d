"""The Gaussian diffusion process: forward marginals, posteriors, the reverse step and its loss.

Paper convention (Ho et al. 2020), t = 1..T, with the Schedule tables indexed by t::

    q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t I)
    q(x_t | x_0)     = N(sqrt(abar_t) x_0, (1 - abar_t) I)
    q(x_{t-1} | x_t, x_0) = N(coef1_t x_0 + coef2_t x_t, beta_tilde_t I)          (t >= 2)
        coef1_t = beta_t sqrt(abar_{t-1}) / (1 - abar_t)
        coef2_t = (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t)
        beta_tilde_t = beta_t (1 - abar_{t-1}) / (1 - abar_t)
    p_theta(x_{t-1} | x_t) = N(coef1_t x0_theta(x_t, t) + coef2_t x_t, sigma_t^2)

A sample x has shape (B, *event_shape); t is a Python int or an integer tensor of shape (B,).
Returned Gaussians are isotropic (diagonal for a learned variance) over event_shape with batch
shape (B,). Model outputs are read as eps, x0 or v predictions, with
x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps and v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from gausslab import kernels
from gausslab.covariance import Diagonal, Isotropic
from gausslab.diffusion.schedule import Schedule, gather
from gausslab.gaussian import Gaussian

__all__ = [
    "PREDICTIONS",
    "VARIANCES",
    "DiffusionProcess",
    "check_choice",
    "check_same_shape",
    "check_sample",
    "conversion_coefficients",
]

PREDICTIONS = ("eps", "x0", "v")
VARIANCES = ("fixed_small", "fixed_large", "learned_range")

Model = Callable[[Tensor, Tensor], Tensor]
Timestep = int | Tensor


def check_sample(x: Any, name: str) -> Tensor:
    """Raise unless `x` is a floating tensor with a leading batch dimension."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a floating-point torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim < 1:
        raise ValueError(
            f"{name} must have shape (B, *event_shape) with a batch dimension, got a scalar"
        )
    return x


def check_same_shape(x: Tensor, y: Any, name_x: str, name_y: str) -> Tensor:
    """Raise unless `y` is a floating tensor of exactly x's shape."""
    check_sample(y, name_y)
    if y.shape != x.shape:
        raise ValueError(
            f"{name_y} must have the shape of {name_x}, {tuple(x.shape)}, "
            f"got {name_y} of shape {tuple(y.shape)}"
        )
    return y


def check_choice(value: Any, choices: tuple[str, ...], name: str) -> str:
    """Raise unless `value` is one of the named options."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


_CONVERSION_PARTS = (("x0", "x"), ("x0", "out"), ("eps", "x"), ("eps", "out"))


def _per_example(coef: Tensor, batch: int) -> Tensor:
    """A coefficient from ``DiffusionProcess.coef`` (0-d or (B, 1, ..., 1)) as a (B,) tensor."""
    return coef.reshape(-1).expand(batch)


def conversion_coefficients(
    alphas_cumprod: Tensor, one_minus_alphas_cumprod: Tensor, prediction: str
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x0_x, x0_out, eps_x, eps_out): a model output read as `prediction` gives

        x0_hat = x0_x x_t + x0_out output,    eps_hat = eps_x x_t + eps_out output,

    elementwise in abar = `alphas_cumprod` (and 1 - abar, passed separately so that it keeps
    full precision near abar = 1):
        "eps": x0_x = 1 / sqrt(abar),  x0_out = -sqrt((1 - abar) / abar),  eps = (0, 1)
        "x0":  x0 = (0, 1),  eps_x = 1 / sqrt(1 - abar),  eps_out = -sqrt(abar / (1 - abar))
        "v":   x0_x = sqrt(abar),  x0_out = -sqrt(1 - abar),
               eps_x = sqrt(1 - abar),  eps_out = sqrt(abar)
    (from x_t = sqrt(abar) x0 + sqrt(1 - abar) eps and v = sqrt(abar) eps - sqrt(1 - abar) x0).
    The one home of these formulas: ``DiffusionProcess`` tabulates them over t = 0..T and the
    samplers evaluate them on their grids. Infinite where abar = 0 with "eps" (and at abar = 1
    with "x0"): x0 (eps) cannot be read off there.
    """
    check_choice(prediction, PREDICTIONS, "prediction")
    sqrt_abar, sqrt_one_minus = alphas_cumprod.sqrt(), one_minus_alphas_cumprod.sqrt()
    zero, one = torch.zeros_like(sqrt_abar), torch.ones_like(sqrt_abar)
    if prediction == "eps":
        sigma = torch.sqrt(one_minus_alphas_cumprod / alphas_cumprod)
        return sqrt_abar.reciprocal(), -sigma, zero, one
    if prediction == "x0":
        sqrt_snr = torch.sqrt(alphas_cumprod / one_minus_alphas_cumprod)
        return zero, one, sqrt_one_minus.reciprocal(), -sqrt_snr
    return sqrt_abar, -sqrt_one_minus, sqrt_one_minus, sqrt_abar


class DiffusionProcess:
    """Gaussian diffusion (DDPM) over a ``Schedule``: forward process, posterior, reverse step,
    and the coefficient API the samplers, the VLB and the ground truth are written in.

    ``gausslab.diffusion.Diffusion`` is this class plus sampling, the VLB and the exact ground
    truth as methods; construct that one. Besides the schedule's tables this holds the float64
    posterior tables (length T + 1, index t), computed once::

        posterior_variance[t]  = beta_tilde_t = beta_t (1 - abar_{t-1}) / (1 - abar_t)   (0 at t=1)
        posterior_log_variance_clipped[t] = log beta_tilde_t, with t = 1 using beta_tilde_2
                                 (improved-diffusion; log beta_1 when T = 1)
        posterior_mean_coef1[t] = beta_t sqrt(abar_{t-1}) / (1 - abar_t)
        posterior_mean_coef2[t] = (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t)

    Index 0 (there is no reverse step out of t = 0) repeats the t = 1 entries. ``coef(name, t,
    like)`` reads any table of ``TABLES`` at t in like's dtype and device (each table is cast
    once per dtype and device and cached).
    """

    #: The tables ``coef`` reads, by name (float64, length T + 1, index t).
    TABLES = (
        "sqrt_alphas_cumprod",  # sqrt(abar_t)
        "sqrt_one_minus_alphas_cumprod",  # sqrt(1 - abar_t)
        "sqrt_recip_one_minus_alphas_cumprod",  # 1 / sqrt(1 - abar_t)
        "sigmas",  # sqrt((1 - abar_t) / abar_t)
        "sqrt_alphas",  # sqrt(alpha_t)
        "sqrt_betas",  # sqrt(beta_t)
        "log_betas",  # log beta_t
        "posterior_std",  # sqrt(beta_tilde_t)
        "posterior_mean_coef1",
        "posterior_mean_coef2",
        "posterior_log_variance_clipped",
        "fixed_large_log_variance",  # log beta_t, at t = 1 log beta_tilde_2
        # "{x0|eps}_from_{prediction}_{x|out}": conversion_coefficients, e.g. x0_from_eps_out
    )

    schedule: Schedule
    T: int
    posterior_variance: Tensor
    posterior_log_variance_clipped: Tensor
    posterior_mean_coef1: Tensor
    posterior_mean_coef2: Tensor

    def __init__(self, schedule: Schedule) -> None:
        if not isinstance(schedule, Schedule):
            raise TypeError(f"schedule must be a Schedule, got {type(schedule).__name__}")
        self.schedule = schedule
        self.T = schedule.T
        betas = schedule.betas
        abar = schedule.alphas_cumprod
        one_minus = schedule.one_minus_alphas_cumprod
        sqrt_abar = abar.sqrt()
        sqrt_one_minus = one_minus.sqrt()

        # Posterior tables for t = 1..T, from the t - 1 entries (abar_0 = 1, 1 - abar_0 = 0).
        beta, omb, omb_prev = betas[1:], one_minus[1:], one_minus[:-1]
        variance = beta * omb_prev / omb
        coef1 = beta * sqrt_abar[:-1] / omb
        coef2 = omb_prev * schedule.alphas[1:].sqrt() / omb
        # beta_tilde_1 = 0: improved-diffusion clips its log to log beta_tilde_2.
        first = variance[1] if self.T >= 2 else beta[0]
        log_variance_clipped = torch.cat([first.reshape(1), variance[1:]]).log()
        large_variance = torch.cat([first.reshape(1), beta[1:]])

        def pad(table: Tensor) -> Tensor:
            return torch.cat([table[:1], table])

        self.posterior_variance = pad(variance)
        self.posterior_log_variance_clipped = pad(log_variance_clipped)
        self.posterior_mean_coef1 = pad(coef1)
        self.posterior_mean_coef2 = pad(coef2)

        self._tables: dict[str, Tensor] = {
            "sqrt_alphas_cumprod": sqrt_abar,
            "sqrt_one_minus_alphas_cumprod": sqrt_one_minus,
            "sqrt_recip_one_minus_alphas_cumprod": sqrt_one_minus.reciprocal(),
            "sigmas": schedule.sigmas,
            "sqrt_alphas": schedule.alphas.sqrt(),
            "sqrt_betas": betas.sqrt(),
            "log_betas": betas.log(),
            "posterior_std": self.posterior_variance.sqrt(),
            "posterior_mean_coef1": self.posterior_mean_coef1,
            "posterior_mean_coef2": self.posterior_mean_coef2,
            "posterior_log_variance_clipped": self.posterior_log_variance_clipped,
            "fixed_large_log_variance": pad(large_variance).log(),
        }
        for prediction in PREDICTIONS:
            tables = conversion_coefficients(abar, one_minus, prediction)
            for (target, part), table in zip(_CONVERSION_PARTS, tables, strict=True):
                self._tables[f"{target}_from_{prediction}_{part}"] = table
        self._cast: dict[tuple[str, torch.dtype, torch.device], Tensor] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.schedule!r})"

    # ------------------------------------------------------------------ coefficient API

    def check_t(self, t: Any, x: Tensor, low: int = 1, name: str = "t") -> Timestep:
        """Validate t against x's batch once: returns an int, or an int64 (B,) tensor on x's
        device (``Schedule.check_t`` with the batch check). Raises ValueError naming `name`."""
        checked = self.schedule.check_t(t, low=low, name=name)
        if checked.ndim == 0:
            return int(checked)
        if checked.shape[0] != x.shape[0]:
            raise ValueError(
                f"{name} of shape {tuple(checked.shape)} does not match the batch dimension of x "
                f"(shape {tuple(x.shape)}); expected {name} of shape (B,) with B = {x.shape[0]}"
            )
        return checked.to(x.device)

    def coef(self, name: str, t: Timestep, like: Tensor) -> Tensor:
        """Table `name` (one of ``TABLES``) at an already checked t (``check_t``), in like's
        dtype and device, shaped to broadcast against like: 0-d for an int t, (B, 1, ..., 1)
        for a (B,) tensor (``schedule.gather`` on the table cast once and cached)."""
        key = (name, like.dtype, like.device)
        table = self._cast.get(key)
        if table is None:
            table = self._tables[name].to(device=like.device, dtype=like.dtype)
            self._cast[key] = table
        return gather(table, t, like)

    def _check_eps_invertible(self, t: Timestep, prediction: str) -> None:
        """Refuse reading x0 off an eps prediction where abar_t = 0 (zero terminal SNR, t = T):
        x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) is 0/0 there, not a number."""
        if prediction != "eps" or self.schedule.alphas_cumprod[-1] != 0:
            return
        if (t == self.T) if isinstance(t, int) else bool((t == self.T).any()):
            raise ValueError(
                f"prediction='eps' cannot give x0 at t = T = {self.T}: alphas_cumprod[T] = 0 "
                "(zero terminal SNR), where x_t carries no information about x0; use "
                "prediction='v' or 'x0', or timesteps below T"
            )

    def _combine(self, t: Timestep, a: str, x: Tensor, b: str, y: Tensor, sign: float) -> Tensor:
        """table_a[t] * x + sign * table_b[t] * y, written chunk by chunk in cache so that x,
        y and the result each cross memory once (``gausslab.kernels.scaled_sum``)."""
        dtype = torch.promote_types(x.dtype, y.dtype)
        x, y = x.to(dtype), y.to(dtype)
        coef_b = self.coef(b, t, x)
        return kernels.scaled_sum(self.coef(a, t, x), x, coef_b if sign == 1 else sign * coef_b, y)

    def _convert(
        self, target: str, prediction: str, x_t: Tensor, output: Tensor, t: Timestep
    ) -> Tensor:
        """x0 or eps (`target`) from a model output read as `prediction`, at a checked t."""
        if target == prediction:
            return output
        prefix = f"{target}_from_{prediction}"
        return self._combine(t, f"{prefix}_x", x_t, f"{prefix}_out", output, 1.0)

    @staticmethod
    def _isotropic(loc: Tensor, std: Tensor) -> Gaussian:
        """N(loc, std^2 I) over loc's event dims with batch shape (B,); std is a ``coef``."""
        cov = Isotropic(_per_example(std, loc.shape[0]), loc.shape[1:], validate=False)
        return Gaussian.from_covariance(loc, cov)

    # ------------------------------------------------------------------ forward process

    def q_step(self, x_prev: Tensor, t: Timestep) -> Gaussian:
        """q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t I), t in 1..T."""
        check_sample(x_prev, "x_prev")
        t = self.check_t(t, x_prev)
        loc = x_prev * self.coef("sqrt_alphas", t, x_prev)
        return self._isotropic(loc, self.coef("sqrt_betas", t, x_prev))

    def q_marginal(self, x0: Tensor, t: Timestep) -> Gaussian:
        """q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), t in 1..T."""
        check_sample(x0, "x0")
        t = self.check_t(t, x0)
        loc = x0 * self.coef("sqrt_alphas_cumprod", t, x0)
        return self._isotropic(loc, self.coef("sqrt_one_minus_alphas_cumprod", t, x0))

    def q_sample(
        self,
        x0: Tensor,
        t: Timestep,
        noise: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """A draw of x_t ~ q(x_t | x_0): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.

        eps is `noise` (shape of x0) or a fresh standard normal draw from `generator`.
        Differentiable in x0 and noise; one multiply and one fused addcmul.
        """
        check_sample(x0, "x0")
        t = self.check_t(t, x0)
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        else:
            check_same_shape(x0, noise, "x0", "noise")
        return self._combine(
            t, "sqrt_alphas_cumprod", x0, "sqrt_one_minus_alphas_cumprod", noise, 1.0
        )

    # ------------------------------------------------------------------ posterior

    def _check_posterior_t(self, t: Any, x: Tensor) -> Timestep:
        """t in 2..T; t = 1 gets an explanation (the posterior is the point mass x0)."""
        try:
            return self.check_t(t, x, low=2)
        except ValueError:
            self.check_t(t, x, low=1)  # raises its own message unless the culprit is t = 1
            raise ValueError(
                "t must be in 2..T for q_posterior, got t = 1: q(x_0 | x_1, x_0) is the point "
                "mass at x0 (beta_tilde_1 = 0), not a Gaussian; the decoder term "
                "-log p_theta(x_0 | x_1) of the VLB covers that step"
            ) from None

    def posterior_mean(self, x_t: Tensor, x0: Tensor, t: Timestep) -> Tensor:
        """coef1_t x_0 + coef2_t x_t, the mean of q(x_{t-1} | x_t, x_0), t in 1..T (at t = 1 it
        is x_0: coef1_1 = 1, coef2_1 = 0)."""
        check_sample(x_t, "x_t")
        check_same_shape(x_t, x0, "x_t", "x0")
        return self._posterior_mean(x_t, x0, self.check_t(t, x_t))

    def _posterior_mean(self, x_t: Tensor, x0: Tensor, t: Timestep) -> Tensor:
        return self._combine(t, "posterior_mean_coef1", x0, "posterior_mean_coef2", x_t, 1.0)

    def q_posterior(self, x_t: Tensor, x0: Tensor, t: Timestep) -> Gaussian:
        """q(x_{t-1} | x_t, x_0) = N(coef1_t x_0 + coef2_t x_t, beta_tilde_t I), t in 2..T.

        coef1_t = beta_t sqrt(abar_{t-1}) / (1 - abar_t),
        coef2_t = (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t),
        beta_tilde_t = beta_t (1 - abar_{t-1}) / (1 - abar_t).
        """
        check_sample(x_t, "x_t")
        check_same_shape(x_t, x0, "x_t", "x0")
        t = self._check_posterior_t(t, x_t)
        mean = self._posterior_mean(x_t, x0, t)
        return self._isotropic(mean, self.coef("posterior_std", t, mean))

    # ------------------------------------------------------------------ prediction conversions

    def _checked(self, x_t: Tensor, t: Any, value: Any, name: str) -> Timestep:
        check_sample(x_t, "x_t")
        check_same_shape(x_t, value, "x_t", name)
        return self.check_t(t, x_t)

    def predict_x0_from_eps(self, x_t: Tensor, t: Timestep, eps: Tensor) -> Tensor:
        """x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) = x_t / sqrt(abar_t) - sigma_t eps."""
        t = self._checked(x_t, t, eps, "eps")
        self._check_eps_invertible(t, "eps")
        return self._convert("x0", "eps", x_t, eps, t)

    def predict_eps_from_x0(self, x_t: Tensor, t: Timestep, x0: Tensor) -> Tensor:
        """eps = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t)."""
        t = self._checked(x_t, t, x0, "x0")
        return self._convert("eps", "x0", x_t, x0, t)

    def predict_x0_from_v(self, x_t: Tensor, t: Timestep, v: Tensor) -> Tensor:
        """x0 = sqrt(abar_t) x_t - sqrt(1 - abar_t) v."""
        t = self._checked(x_t, t, v, "v")
        return self._convert("x0", "v", x_t, v, t)

    def predict_eps_from_v(self, x_t: Tensor, t: Timestep, v: Tensor) -> Tensor:
        """eps = sqrt(1 - abar_t) x_t + sqrt(abar_t) v."""
        t = self._checked(x_t, t, v, "v")
        return self._convert("eps", "v", x_t, v, t)

    def v_from_x0_eps(self, x0: Tensor, eps: Tensor, t: Timestep) -> Tensor:
        """v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 (Salimans & Ho 2022)."""
        return self._v(x0, eps, self._checked(x0, t, eps, "eps"))

    def _v(self, x0: Tensor, eps: Tensor, t: Timestep) -> Tensor:
        return self._combine(
            t, "sqrt_alphas_cumprod", eps, "sqrt_one_minus_alphas_cumprod", x0, -1.0
        )

    def score_from_eps(self, eps: Tensor, t: Timestep) -> Tensor:
        """grad_x log q(x_t) = -eps / sqrt(1 - abar_t) for the eps predicting E[eps | x_t]."""
        check_sample(eps, "eps")
        t = self.check_t(t, eps)
        return eps * -self.coef("sqrt_recip_one_minus_alphas_cumprod", t, eps)

    def eps_from_score(self, score: Tensor, t: Timestep) -> Tensor:
        """eps = -sqrt(1 - abar_t) score."""
        check_sample(score, "score")
        t = self.check_t(t, score)
        return score * -self.coef("sqrt_one_minus_alphas_cumprod", t, score)

    def to_x0_eps(
        self, model_output: Tensor, x_t: Tensor, t: Timestep, prediction: str = "eps"
    ) -> tuple[Tensor, Tensor]:
        """(x0, eps) from a model output read as `prediction` ("eps", "x0" or "v").

        eps: x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)
        x0:  eps = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t)
        v:   x0 = sqrt(abar_t) x_t - sqrt(1 - abar_t) v,
             eps = sqrt(1 - abar_t) x_t + sqrt(abar_t) v
        (``conversion_coefficients``). The given quantity is returned as is (the same tensor).
        """
        check_choice(prediction, PREDICTIONS, "prediction")
        t = self._checked(x_t, t, model_output, "model_output")
        self._check_eps_invertible(t, prediction)
        x0 = self._convert("x0", prediction, x_t, model_output, t)
        return x0, self._convert("eps", prediction, x_t, model_output, t)

    # ------------------------------------------------------------------ reverse process

    def _p_mean_log_variance(
        self,
        model_output: Tensor,
        x_t: Tensor,
        t: Any,
        prediction: str,
        variance: str,
        clip_x0: float | None,
    ) -> tuple[Tensor, Tensor, Timestep]:
        """Validate once; return the mean and log variance of p_theta(x_{t-1} | x_t) and t.

        The log variance is a gathered coefficient (0-d or (B, 1, ..., 1)) for the fixed
        variances and has x_t's shape for "learned_range".
        """
        check_choice(prediction, PREDICTIONS, "prediction")
        check_choice(variance, VARIANCES, "variance")
        check_sample(x_t, "x_t")
        check_sample(model_output, "model_output")
        learned = variance == "learned_range"
        if learned:
            expected = (x_t.shape[0], 2 * x_t.shape[1], *x_t.shape[2:]) if x_t.ndim > 1 else None
        else:
            expected = tuple(x_t.shape)
        if expected is None or tuple(model_output.shape) != expected:
            what = (
                "twice x_t's channels along dim 1 (mean part, then the variance interpolation v)"
                if learned
                else "the shape of x_t"
            )
            raise ValueError(
                f"model_output must have {what}: expected {expected}, got model_output of shape "
                f"{tuple(model_output.shape)} (x_t has shape {tuple(x_t.shape)})"
            )
        if clip_x0 is not None and not (isinstance(clip_x0, int | float) and clip_x0 > 0):
            raise ValueError(f"clip_x0 must be None or a positive number, got {clip_x0!r}")
        t = self.check_t(t, x_t)
        self._check_eps_invertible(t, prediction)
        if learned:
            model_output, frac = model_output.chunk(2, dim=1)
        x0 = self._convert("x0", prediction, x_t, model_output, t)
        if clip_x0 is not None:
            x0 = x0.clamp(-clip_x0, clip_x0)
        mean = self._posterior_mean(x_t, x0, t)
        if variance == "fixed_small":
            log_variance = self.coef("posterior_log_variance_clipped", t, mean)
        elif variance == "fixed_large":
            log_variance = self.coef("fixed_large_log_variance", t, mean)
        else:
            low = self.coef("posterior_log_variance_clipped", t, mean)
            high = self.coef("log_betas", t, mean)
            log_variance = torch.lerp(low, high, (frac.to(mean.dtype) + 1) / 2)
        return mean, log_variance, t

    def p_mean_variance(
        self,
        model_output: Tensor,
        x_t: Tensor,
        t: Timestep,
        *,
        prediction: str = "eps",
        variance: str = "fixed_small",
        clip_x0: float | None = None,
    ) -> Gaussian:
        """p_theta(x_{t-1} | x_t) = N(mu, sigma_t^2), t in 1..T.

        mu = coef1_t x0_hat + coef2_t x_t, where x0_hat is the model's x0 (from `prediction`),
        clamped to [-clip_x0, clip_x0] when clip_x0 is given. sigma_t^2 is
        - "fixed_small": beta_tilde_t (at t = 1: beta_tilde_2, the clipped log variance);
        - "fixed_large": beta_t (at t = 1: beta_tilde_2, as improved-diffusion);
        - "learned_range": model_output carries 2C channels along dim 1, the second half v in
          [-1, 1] and log sigma^2 = (1+v)/2 log beta_t + (1-v)/2 log beta_tilde_t (clipped),
          per element (a diagonal Gaussian).
        Isotropic over the event for the fixed variances, batch shape (B,).
        """
        mean, log_variance, _ = self._p_mean_log_variance(
            model_output, x_t, t, prediction, variance, clip_x0
        )
        std = (0.5 * log_variance).exp()
        if variance == "learned_range":
            cov = Diagonal(std, mean.shape[1:], validate=False)
            return Gaussian.from_covariance(mean, cov)
        return self._isotropic(mean, std)

    def p_step(
        self,
        model_output: Tensor,
        x_t: Tensor,
        t: Timestep,
        *,
        prediction: str = "eps",
        variance: str = "fixed_small",
        clip_x0: float | None = None,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """One ancestral step: x_{t-1} = mu + sigma_t z with z ~ N(0, I) (`noise` or a draw
        from `generator`), and x_0 = mu at t = 1 (no noise), per example.

        mu and sigma_t as in ``p_mean_variance``.
        """
        mean, log_variance, t = self._p_mean_log_variance(
            model_output, x_t, t, prediction, variance, clip_x0
        )
        if noise is None:
            noise = torch.randn(
                mean.shape, generator=generator, dtype=mean.dtype, device=mean.device
            )
        else:
            check_same_shape(x_t, noise, "x_t", "noise")
        std = (0.5 * log_variance).exp()
        if isinstance(t, int):
            return mean if t == 1 else torch.addcmul(mean, std, noise)
        nonzero = (t != 1).reshape((-1,) + (1,) * (mean.ndim - 1))
        return torch.addcmul(mean, std * nonzero, noise)

    # ------------------------------------------------------------------ training

    def training_loss(
        self,
        model: Model,
        x0: Tensor,
        t: Timestep | None = None,
        *,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
        prediction: str = "eps",
        reduction: str = "mean",
    ) -> Tensor:
        """The simple loss: mean over all dims of (target - model(x_t, t))^2.

        x_t = q_sample(x0, t, noise); the target is eps, x0 or v = sqrt(abar_t) eps -
        sqrt(1 - abar_t) x0 by `prediction`. t=None draws t uniformly from 1..T per example
        (then noise, both from `generator`). model(x_t, t) gets t as an int64 (B,) tensor.
        reduction="mean" returns a scalar; "none" returns the per-example mean over the event,
        shape (B,).
        """
        check_choice(prediction, PREDICTIONS, "prediction")
        check_choice(reduction, ("mean", "none"), "reduction")
        check_sample(x0, "x0")
        batch = x0.shape[0]
        if t is None:
            t = torch.randint(1, self.T + 1, (batch,), generator=generator, device=x0.device)
        t = self.check_t(t, x0)
        t_batch = (
            torch.full((batch,), t, dtype=torch.int64, device=x0.device)
            if isinstance(t, int)
            else t
        )
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
        x_t = self.q_sample(x0, t, noise)
        output = model(x_t, t_batch)
        if not isinstance(output, Tensor) or output.shape != x0.shape:
            got = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
            raise ValueError(
                f"model(x_t, t) must return a tensor of x0's shape {tuple(x0.shape)}, got {got}"
            )
        if prediction == "eps":
            target = noise
        elif prediction == "x0":
            target = x0
        else:
            target = self._v(x0, noise, t)
        per_example = (output - target).square().flatten(1).mean(dim=1)
        return per_example.mean() if reduction == "mean" else per_example
