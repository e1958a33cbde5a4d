"""Three univariate families that torch.distributions lacks, each with its closed-form entropy.

They join torch's Uniform, Laplace and StudentT in the maximum-entropy comparison
(``gausslab.maxent``); all are symmetric about ``loc``.

    Logistic(loc, scale):    p(x) = e^{-z} / (s (1 + e^{-z})^2), z = (x - loc) / s
                             Var = s^2 pi^2 / 3,          H = log s + 2
    Triangular(loc, half_width w):
                             p(x) = (w - |x - loc|) / w^2 on [loc - w, loc + w]
                             Var = w^2 / 6,               H = 1/2 + log w
    GeneralizedNormal(loc, scale a, beta):
                             p(x) = beta / (2 a Gamma(1/beta)) exp(-(|x - loc| / a)^beta)
                             Var = a^2 Gamma(3/beta) / Gamma(1/beta)
                             H = 1/beta - log(beta / (2 a Gamma(1/beta)))
                             (beta = 1: Laplace, beta = 2: Gaussian, beta -> inf: uniform)

Every sampler is reparameterized (``rsample``), so gradients flow to the parameters.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.distributions import (
    AffineTransform,
    Distribution,
    Gamma,
    SigmoidTransform,
    TransformedDistribution,
    Uniform,
    constraints,
)
from torch.distributions.utils import broadcast_all

from gausslab._validation import as_float_tensor, check_finite, check_positive

__all__ = ["GeneralizedNormal", "Logistic", "Triangular"]


def _parameters(**named: Any) -> list[Tensor]:
    """The named parameters as broadcast floating tensors: loc finite, the others positive."""
    tensors = []
    for name, value in named.items():
        tensor = as_float_tensor(value, name)
        (check_finite if name == "loc" else check_positive)(tensor, name)
        tensors.append(tensor)
    return list(broadcast_all(*tensors))


class Logistic(TransformedDistribution):
    """Logistic(loc, scale): X = loc + scale * log(U / (1 - U)) with U ~ Uniform(0, 1).

    p(x) = exp(-z) / (scale (1 + exp(-z))^2), z = (x - loc) / scale;
    mean = loc, Var = scale^2 pi^2 / 3, H = log(scale) + 2.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = _parameters(loc=loc, scale=scale)
        zeros = torch.zeros_like(self.loc)
        base = Uniform(zeros, zeros + 1, validate_args=validate_args)
        transforms = [SigmoidTransform().inv, AffineTransform(self.loc, self.scale)]
        super().__init__(base, transforms, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return self.scale**2 * (math.pi**2 / 3)

    def entropy(self) -> Tensor:
        """H = log(scale) + 2."""
        return self.scale.log() + 2


class Triangular(Distribution):
    """The symmetric triangular law on [loc - half_width, loc + half_width].

    p(x) = (w - |x - loc|) / w^2 there (w = half_width), 0 elsewhere; X = loc + w (U1 + U2 - 1)
    for independent U1, U2 ~ Uniform(0, 1). mean = loc, Var = w^2 / 6, H = 1/2 + log w.
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "half_width": constraints.positive,
    }
    has_rsample = True

    def __init__(self, loc: Any, half_width: Any, validate_args: bool | None = None) -> None:
        self.loc, self.half_width = _parameters(loc=loc, half_width=half_width)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.interval(self.loc - self.half_width, self.loc + self.half_width)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return self.half_width**2 / 6

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> Tensor:
        """X = loc + w (U1 + U2 - 1): the sum of two independent uniforms is triangular."""
        shape = self._extended_shape(torch.Size(sample_shape))
        u = torch.rand((2, *shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + self.half_width * (u[0] + u[1] - 1)

    def log_prob(self, value: Any) -> Tensor:
        """log((w - |x - loc|) / w^2), -inf outside the support."""
        value = torch.as_tensor(value, dtype=self.loc.dtype, device=self.loc.device)
        if self._validate_args:
            self._validate_sample(value)
        room = self.half_width - (value - self.loc).abs()
        return room.clamp(min=0).log() - 2 * self.half_width.log()

    def cdf(self, value: Any) -> Tensor:
        """F(x) = (w + z)^2 / (2 w^2) for z = x - loc in [-w, 0], 1 - (w - z)^2 / (2 w^2)
        for z in [0, w]; 0 and 1 outside."""
        value = torch.as_tensor(value, dtype=self.loc.dtype, device=self.loc.device)
        w = self.half_width
        z = (value - self.loc).clamp(-w, w)
        tail = (w - z.abs()) ** 2 / (2 * w**2)
        return torch.where(z < 0, tail, 1 - tail)

    def entropy(self) -> Tensor:
        """H = 1/2 + log(half_width)."""
        return 0.5 + self.half_width.log()


class GeneralizedNormal(Distribution):
    """The generalized normal (exponential power) law with shape beta > 0.

    p(x) = beta / (2 a Gamma(1/beta)) exp(-(|x - loc| / a)^beta), a = scale;
    X = loc + a S G^(1/beta), G ~ Gamma(1/beta, 1), S = +-1 with probability 1/2 each.
    mean = loc, Var = a^2 Gamma(3/beta) / Gamma(1/beta),
    H = 1/beta - log(beta / (2 a Gamma(1/beta))).
    beta = 1 is the Laplace law, beta = 2 the Gaussian N(loc, a^2 / 2), beta -> inf the
    uniform on [loc - a, loc + a].
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "beta": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, beta: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale, self.beta = _parameters(loc=loc, scale=scale, beta=beta)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        """a^2 Gamma(3/beta) / Gamma(1/beta), through log-gamma."""
        log_ratio = torch.lgamma(3 / self.beta) - torch.lgamma(1 / self.beta)
        return self.scale**2 * log_ratio.exp()

    def rsample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> Tensor:
        """X = loc + a S G^(1/beta); the Gamma draw is reparameterized."""
        shape = self._extended_shape(torch.Size(sample_shape))
        magnitude = Gamma(1 / self.beta, torch.ones_like(self.beta)).rsample(sample_shape)
        sign = torch.randint(0, 2, shape, device=self.loc.device).to(self.loc.dtype) * 2 - 1
        return self.loc + self.scale * sign * magnitude ** (1 / self.beta)

    def log_prob(self, value: Any) -> Tensor:
        """log(beta / (2 a Gamma(1/beta))) - (|x - loc| / a)^beta."""
        value = torch.as_tensor(value, dtype=self.loc.dtype, device=self.loc.device)
        if self._validate_args:
            self._validate_sample(value)
        return self._log_normalizer() - ((value - self.loc).abs() / self.scale) ** self.beta

    def _log_normalizer(self) -> Tensor:
        return self.beta.log() - math.log(2) - self.scale.log() - torch.lgamma(1 / self.beta)

    def entropy(self) -> Tensor:
        """H = 1/beta - log(beta / (2 a Gamma(1/beta)))."""
        return 1 / self.beta - self._log_normalizer()
