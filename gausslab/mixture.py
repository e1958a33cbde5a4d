"""GaussianMixture: a finite mixture of Gaussians sharing one covariance structure.

    p(x) = sum_k w_k N(x; mu_k, Sigma_k),   w_k = softmax(logits)_k
    log p(x) = logsumexp_k [log w_k + log N(x; mu_k, Sigma_k)]

The K components are one ``Gaussian`` whose rightmost batch dimension indexes them, so every
formula below is a reduction over that dimension, never a Python loop over components:

- responsibilities  p(k | x) = softmax_k [log w_k + log N_k(x)]
- score             grad_x log p(x) = sum_k p(k | x) (-Sigma_k^{-1} (x - mu_k))
- mean              m = sum_k w_k mu_k
- covariance        sum_k w_k (Sigma_k + (mu_k - m)(mu_k - m)^T)   (law of total covariance)

The family is closed under affine maps, sums with an independent Gaussian, marginals and
conditionals (each done component by component by ``gausslab.algebra``); its entropy has no
closed form and is estimated by Monte Carlo.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.distributions import Distribution, constraints

from gausslab._validation import (
    as_float_tensor,
    as_operand,
    broadcast_shapes,
    check_finite,
    check_indices,
    check_positive,
    check_value_shape,
    describe,
)
from gausslab.gaussian import Gaussian

__all__ = ["GaussianMixture", "log_weights"]

_WEIGHT_SUM_TOLERANCE = 1e-4


class GaussianMixture(Distribution):
    """p(x) = sum_k w_k N(x; mu_k, Sigma_k) with w = softmax(logits).

    ``components`` is a ``Gaussian`` of batch shape (..., K): its rightmost batch dimension
    indexes the K components. The weights are given as ``logits`` (unnormalized log weights,
    positional, as torch's ``Categorical``) or as ``weights=`` (probabilities summing to 1),
    never both; neither means equal weights. They have shape (..., K); their leading dims
    broadcast with ``components.batch_shape[:-1]``. The mixture's batch_shape is that
    broadcast shape and its event_shape is ``components.event_shape``. Logits are stored
    normalized (log weights). The same two names, ``weights`` and ``logits=``, mean the same
    in ``univariate`` and ``isotropic`` (where ``weights`` comes first).
    """

    arg_constraints: ClassVar[dict[str, constraints.Constraint]] = {}
    # The draw is reparameterized only given the chosen component (see ``rsample``): it is
    # not differentiable in the weights, so it must not pose as a pathwise sample.
    has_rsample = False

    def __init__(
        self,
        logits: Any = None,
        components: Gaussian | None = None,
        *,
        weights: Any = None,
        validate_args: bool | None = None,
    ) -> None:
        if not isinstance(components, Gaussian):
            raise TypeError(
                f"components must be a gausslab.Gaussian whose last batch dim indexes the "
                f"components, got {type(components).__name__}"
            )
        if len(components.batch_shape) == 0:
            raise ValueError(
                "components must have at least one batch dim (its last indexes the K "
                f"components), got batch_shape () and event_shape "
                f"{tuple(components.event_shape)}"
            )
        num_components = components.batch_shape[-1]
        logits = log_weights(weights, logits, like=components.loc, num_components=num_components)
        if logits.shape[-1] != num_components:
            name = "logits" if weights is None else "weights"
            raise ValueError(
                f"{name} must have shape (..., K) with K = {num_components} components (the "
                f"last batch dim of components, batch_shape {tuple(components.batch_shape)}), "
                f"got {name} of shape {tuple(logits.shape)}"
            )
        batch_shape = broadcast_shapes(
            "the batch shapes of logits (without K) and components (without K)",
            logits=logits.shape[:-1],
            components=components.batch_shape[:-1],
        )
        self._init(logits, components, batch_shape, validate_args)

    def _init(
        self,
        logits: Tensor,
        components: Gaussian,
        batch_shape: torch.Size,
        validate_args: bool | None,
    ) -> None:
        self.logits = logits - logits.logsumexp(-1, keepdim=True)
        self.components = components
        super().__init__(batch_shape, components.event_shape, validate_args=validate_args)

    @classmethod
    def _derived(cls, logits: Tensor, components: Gaussian) -> GaussianMixture:
        """A mixture built from already checked parts (the result of an operation)."""
        instance = cls.__new__(cls)
        batch_shape = torch.broadcast_shapes(logits.shape[:-1], components.batch_shape[:-1])
        instance._init(logits, components, batch_shape, components._validate_args)
        return instance

    # ------------------------------------------------------------------ constructors
    @classmethod
    def univariate(
        cls,
        weights: Any = None,
        means: Any = None,
        stds: Any = None,
        *,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> GaussianMixture:
        """A mixture of K scalar Gaussians: p(x) = sum_k w_k N(x; means_k, stds_k^2).

        ``means`` and ``stds`` have shape (..., K). The weights are either ``weights``
        (positive, summing to 1 over the last dim) or ``logits=`` (unnormalized log weights,
        w = softmax(logits)), never both; neither means equal weights 1/K.
        """
        means = as_float_tensor(_required(means, "means"), "means")
        if means.dim() == 0:
            raise ValueError("means must have shape (..., K), one mean per component, got a scalar")
        stds = as_operand(_required(stds, "stds"), "stds", like=means)
        check_positive(stds, "stds")
        components = Gaussian.univariate(means, stds, validate_args=validate_args)
        return cls(logits, components, weights=weights, validate_args=validate_args)

    @classmethod
    def isotropic(
        cls,
        weights: Any = None,
        means: Any = None,
        stds: Any = None,
        *,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> GaussianMixture:
        """p(x) = sum_k w_k N(x; means_k, stds_k^2 I).

        ``means`` has shape (K, *event_shape) (every dim after the first is the event) and
        ``stds`` shape (K,). The weights (shape (K,)) are ``weights`` or ``logits=`` exactly as
        in ``univariate``.
        """
        means = as_float_tensor(_required(means, "means"), "means")
        if means.dim() < 2:
            raise ValueError(
                "means must have shape (K, *event_shape) with at least one event dim, got "
                f"means of shape {tuple(means.shape)}; use GaussianMixture.univariate for "
                "scalar events"
            )
        stds = as_operand(_required(stds, "stds"), "stds", like=means)
        if tuple(stds.shape) != (means.shape[0],):
            raise ValueError(
                f"stds must have shape (K,) = ({means.shape[0]},), one std per component, "
                f"got stds of shape {tuple(stds.shape)}"
            )
        components = Gaussian.isotropic(
            means, stds, event_ndims=means.dim() - 1, validate_args=validate_args
        )
        return cls(logits, components, weights=weights, validate_args=validate_args)

    @classmethod
    def empirical(
        cls,
        points: Any,
        std: Any = 0.0,
        weights: Any = None,
        *,
        logits: Any = None,
        validate_args: bool | None = None,
    ) -> GaussianMixture:
        """The empirical law of a data set, smoothed by N(0, std^2 I):

            p(x) = sum_i w_i N(x; points_i, std^2 I),   w_i = 1 / N unless weights given.

        ``points`` has shape (N, *event_shape) (shape (N,) for scalar events); ``std`` is one
        number >= 0; ``weights`` (N,) are positive and sum to 1 (or ``logits=`` (N,),
        unnormalized log weights, as in every mixture constructor). With std = 0 the components
        are point masses: the law has no density (log_prob and score refuse it), but it can be
        sampled, its moments are exact, and its noisy versions (``convolve`` with a Gaussian,
        ``Diffusion.marginal`` at t >= 1) are ordinary mixtures, whose optimal denoiser is
        the memorizing one.
        """
        points = as_float_tensor(points, "points")
        if points.dim() < 1 or points.shape[0] < 1:
            raise ValueError(
                f"points must have shape (N, *event_shape) with N >= 1, got {describe(points)}"
            )
        check_finite(points, "points")
        std = as_operand(std, "std", like=points)
        if std.dim() != 0 or not bool(std >= 0):
            raise ValueError(f"std must be one number >= 0, got {std.tolist()!r}")
        count = points.shape[0]
        stds = std.expand(count)
        # validate_args=False: a zero std (a point mass) is meant here, not an error.
        if points.dim() == 1:
            components = Gaussian.univariate(points, stds, validate_args=False)
        else:
            components = Gaussian.isotropic(
                points, stds, event_ndims=points.dim() - 1, validate_args=False
            )
        return cls(logits, components, weights=weights, validate_args=validate_args)

    # ------------------------------------------------------------------ properties
    @property
    def support(self) -> constraints.Constraint:
        return constraints.independent(constraints.real, len(self.event_shape))

    @property
    def num_components(self) -> int:
        return self.components.batch_shape[-1]

    @property
    def weights(self) -> Tensor:
        """w_k = softmax(logits)_k, shape (..., K)."""
        return self.logits.exp()

    def _component_axis(self) -> int:
        """The dim that indexes components in a tensor of shape (..., K, *event_shape)."""
        return -1 - len(self.event_shape)

    def _event_weights(self) -> Tensor:
        """Weights shaped (..., K, 1, ..., 1) to multiply per-component values (..., K, *event)."""
        return self.weights.reshape(self.logits.shape + (1,) * len(self.event_shape))

    @property
    def mean(self) -> Tensor:
        """m = sum_k w_k mu_k."""
        loc = self.components.loc
        mean = (self._event_weights() * loc).sum(self._component_axis())
        return mean.expand(self.batch_shape + self.event_shape)

    @property
    def variance(self) -> Tensor:
        """Law of total variance, coordinatewise: sum_k w_k (sigma_k^2 + (mu_k - m)^2)."""
        deviation = self.components.loc - self.mean.unsqueeze(self._component_axis())
        per_component = self.components.variance + deviation.square()
        return (self._event_weights() * per_component).sum(self._component_axis())

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    @property
    def covariance_matrix(self) -> Tensor:
        """Law of total covariance: sum_k w_k (Sigma_k + (mu_k - m)(mu_k - m)^T)
        (= sum_k w_k (Sigma_k + mu_k mu_k^T) - m m^T without the cancellation), as a
        (..., d, d) matrix; events of several dims are flattened."""
        deviation = self.components.loc - self.mean.unsqueeze(self._component_axis())
        deviation = deviation.reshape(
            *deviation.shape[: deviation.dim() - len(self.event_shape)], -1
        )
        weights = self.weights
        within = (weights[..., None, None] * self.components.covariance_matrix).sum(-3)
        between = (weights[..., None] * deviation).mT @ deviation
        return within + between

    @cached_property
    def has_point_masses(self) -> bool:
        """Whether some component has zero variance (``empirical`` with std = 0)."""
        return bool((self.components.covariance.variance() == 0).any())

    # ------------------------------------------------------------------ densities
    def _refuse_point_masses(self) -> None:
        if self.has_point_masses:
            raise ValueError(
                "this mixture has point-mass components (std = 0): it has no density, so "
                "log_prob, score, component_posterior and condition are undefined; smooth it "
                "first (GaussianMixture.empirical(points, std > 0), convolve with a Gaussian, "
                "or Diffusion.marginal at t >= 1)"
            )

    def _as_value(self, value: Any) -> Tensor:
        self._refuse_point_masses()
        value = as_float_tensor(value, "x", like=self.components.loc)
        check_value_shape(value, self.event_shape, "x")
        return value

    def _mahalanobis_sq(self, x: Tensor) -> Tensor:
        """(x - mu_k)^T Sigma_k^{-1} (x - mu_k) for every component, shape (..., K).

        Exact residuals, never the expansion |x|^2 - 2 x.mu + |mu|^2 (which cancels
        catastrophically near a narrow mode far from the origin). Isotropic components use a
        pairwise-distance kernel that never stores the (..., K, *event) residuals.
        """
        covariance = self.components.covariance
        if covariance.is_isotropic:
            rows, loc, sample, batch = self._rows(x)
            distance_sq = torch.cdist(rows, loc, compute_mode="donot_use_mm_for_euclid_dist")
            variance = covariance.variance().reshape(covariance.batch_shape)
            variance = variance.expand(self.components.batch_shape)
            quadratic = distance_sq.square() / variance.unsqueeze(-2)
            return quadratic.movedim(-2, 0).reshape(*sample, *batch, self.num_components)
        return covariance.mahalanobis_sq(x.unsqueeze(self._component_axis()), self.components.loc)

    def _log_joint(self, mahalanobis_sq: Tensor) -> Tensor:
        """log w_k + log N_k(x) = log w_k - 1/2 mahalanobis_sq_k - 1/2 log((2 pi)^d |Sigma_k|)."""
        return self.logits - 0.5 * mahalanobis_sq - self.components.log_normalizer

    def _rows(self, x: Tensor) -> tuple[Tensor, Tensor, torch.Size, torch.Size]:
        """x of shape (*sample, *batch, *event) as rows (*batch, n, d) next to the component
        means (*batch, K, d), with the sample and batch shapes to undo it."""
        event_ndims = len(self.event_shape)
        x = x.reshape(*x.shape[: x.dim() - event_ndims], -1)
        d = x.shape[-1]
        nb = len(self.batch_shape)
        x_batch = x.shape[max(x.dim() - 1 - nb, 0) : -1]
        batch = broadcast_shapes(
            "the batch dims of x must broadcast with the batch shape",
            x=x_batch,
            batch_shape=self.batch_shape,
        )
        sample = x.shape[: max(x.dim() - 1 - len(batch), 0)]
        rows = x.expand(*sample, *batch, d).reshape(-1, *batch, d).movedim(0, -2)
        loc = self._flat_per_component(self.components.loc, batch)
        dtype = torch.promote_types(rows.dtype, loc.dtype)
        return rows.to(dtype), loc.to(dtype), sample, batch

    def _flat_per_component(self, values: Tensor, batch: torch.Size) -> Tensor:
        """values broadcastable to (..., K, *event) as (*batch, K, d), event flattened."""
        full = values.expand(self.components.batch_shape + self.event_shape)
        flat = full.reshape(*self.components.batch_shape, -1)
        return flat.expand(*batch, self.num_components, flat.shape[-1])

    def log_prob(self, value: Any) -> Tensor:
        """log p(x) = logsumexp_k [log w_k + log N(x; mu_k, Sigma_k)]."""
        log_joint = self._log_joint(self._mahalanobis_sq(self._as_value(value)))
        return self._refuse_nan(log_joint.logsumexp(-1))

    def prob(self, value: Any) -> Tensor:
        """p(x) = exp(log p(x))."""
        return self.log_prob(value).exp()

    def component_posterior(self, value: Any) -> Tensor:
        """Responsibilities p(k | x) = w_k N_k(x) / sum_j w_j N_j(x), of shape (..., K),
        computed as a softmax of log w_k + log N_k(x) (no underflow far from the modes)."""
        log_joint = self._log_joint(self._mahalanobis_sq(self._as_value(value)))
        return self._refuse_nan(log_joint.softmax(-1))

    def score(self, value: Any) -> Tensor:
        """grad_x log p(x) = sum_k r_k (-Sigma_k^{-1} (x - mu_k)) with r_k = p(k | x), in
        closed form: no autograd, no dense inverse.

        Diagonal components (precision P_k = 1 / diag(Sigma_k)) reduce it to two matmuls over
        the K axis: score = r @ (P * mu) - x * (r @ P). Other structures use
        Sigma_k^{-1} v = S_k^{-T} (S_k^{-1} v): the whitened residuals serve both the
        responsibilities and, after the transposed solve, the pull.
        """
        x = self._as_value(value)
        covariance = self.components.covariance
        if not covariance.is_diagonal:
            residuals = x.unsqueeze(self._component_axis()) - self.components.loc
            pulls, mahalanobis_sq = covariance.solve_and_mahalanobis_sq(residuals)
            responsibilities = self._log_joint(mahalanobis_sq).softmax(-1)
            weights = responsibilities.reshape(
                responsibilities.shape + (1,) * len(self.event_shape)
            )
            return self._refuse_nan(-(weights * pulls).sum(self._component_axis()))
        responsibilities = self._log_joint(self._mahalanobis_sq(x)).softmax(-1)
        rows, loc, sample, batch = self._rows(x)
        precision = self._flat_per_component(covariance.variance().reciprocal(), batch)
        precision = precision.to(rows.dtype)
        weights = responsibilities.reshape(-1, *batch, self.num_components).movedim(0, -2)
        rows_score = weights @ (precision * loc) - rows * (weights @ precision)
        return self._refuse_nan(
            rows_score.movedim(-2, 0).reshape(*sample, *batch, *self.event_shape)
        )

    def _refuse_nan(self, result: Tensor) -> Tensor:
        if self._validate_args and bool(torch.isnan(result).any()):
            raise ValueError("x contains NaN: the density of NaN is undefined")
        return result

    def entropy(self) -> Tensor:
        raise NotImplementedError(
            "the entropy of a Gaussian mixture has no closed form; use "
            "entropy_estimate(num_samples) for a Monte Carlo estimate with its standard error"
        )

    def entropy_estimate(
        self, num_samples: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Monte Carlo estimate of H = -E[log p(X)], X ~ p: (estimate, standard_error).

        estimate = -(1/n) sum_i log p(x_i) over n independent draws; standard_error =
        std_i(log p(x_i)) / sqrt(n). Not a closed form: the error shrinks as 1/sqrt(n).
        Both have the batch shape.
        """
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
            raise ValueError(f"num_samples must be an int >= 2, got {num_samples!r}")
        log_p = self.log_prob(self.sample((num_samples,), generator=generator))
        return -log_p.mean(0), log_p.std(0) / math.sqrt(num_samples)

    # ------------------------------------------------------------------ sampling
    def rsample(
        self,
        sample_shape: torch.Size | tuple[int, ...] = (),
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """x = mu_k + L_k eps with k ~ Categorical(w) and eps ~ N(0, I).

        Reparameterized given the chosen component only: gradients flow to the component
        means and scales, not to the weights (the discrete choice k has no pathwise
        derivative), so ``has_rsample`` is False and this is not an unbiased pathwise
        gradient estimator for objectives that depend on the weights.
        """
        sample_shape = torch.Size(sample_shape)
        loc = self.components.loc
        shape = self._extended_shape(sample_shape)
        chosen = self._choose(sample_shape, generator)
        eps = torch.randn(shape, dtype=loc.dtype, device=loc.device, generator=generator)
        covariance = self.components.covariance
        if covariance.is_diagonal:
            return self._pick(loc, chosen) + self._pick(covariance.elementwise_std(), chosen) * eps
        # Otherwise S_k eps for every k with one shared eps (one batched product), keep k.
        scaled = covariance.scale_mul(eps.unsqueeze(self._component_axis()))
        return self._pick(loc, chosen) + self._pick(scaled, chosen)

    def sample(
        self,
        sample_shape: torch.Size | tuple[int, ...] = (),
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draws of shape sample_shape + batch_shape + event_shape (no gradient)."""
        with torch.no_grad():
            return self.rsample(sample_shape, generator=generator)

    def _choose(self, sample_shape: torch.Size, generator: torch.Generator | None) -> Tensor:
        """Component indices k ~ Categorical(w), of shape sample_shape + batch_shape."""
        probs = self.weights.expand((*self.batch_shape, self.num_components))
        draws = math.prod(sample_shape)
        if draws == 0:
            return torch.zeros(
                sample_shape + self.batch_shape, dtype=torch.long, device=probs.device
            )
        flat = torch.multinomial(
            probs.reshape(-1, self.num_components), draws, replacement=True, generator=generator
        )
        return flat.mT.reshape(sample_shape + self.batch_shape)

    def _pick(self, values: Tensor, chosen: Tensor) -> Tensor:
        """values[..., k, *event] at k = chosen, for values broadcastable to
        (..., K, *event) and chosen of shape (*sample, *batch)."""
        event_ndims = len(self.event_shape)
        index = chosen.reshape(chosen.shape + (1,) * (event_ndims + 1))
        values = values.reshape((1,) * (index.dim() - values.dim()) + values.shape)
        full = list(values.shape)
        full[self._component_axis()] = self.num_components  # a shared std has size 1 there
        values = values.expand(full)
        picked = torch.take_along_dim(values, index, dim=self._component_axis())
        picked = picked.squeeze(self._component_axis())
        return picked.expand(chosen.shape + self.event_shape)

    # ------------------------------------------------------------------ algebra
    def affine(self, A: Any, b: Any = None) -> GaussianMixture:
        """The law of A x + b: sum_k w_k N(A mu_k + b, A Sigma_k A^T), same weights.

        A and b are as in ``Gaussian.affine`` (a scalar keeps isotropic components
        isotropic); their batch dims broadcast with the mixture's batch shape.
        """
        loc = self.components.loc
        A = as_operand(A, "A", like=loc)
        event_ndims = len(self.event_shape)
        matrix = event_ndims == 1 and A.dim() >= 2
        A = self._with_component_axis(A, 2 if matrix else event_ndims)
        if b is not None:
            b = self._with_component_axis(as_operand(b, "b", like=loc), event_ndims)
        return GaussianMixture._derived(self.logits, self.components.affine(A, b))

    @staticmethod
    def _with_component_axis(value: Tensor, trailing: int) -> Tensor:
        """Insert a size-1 component dim before the last `trailing` dims when value has
        batch dims, so that they line up with the mixture's batch and not with K."""
        return value.unsqueeze(-1 - trailing) if value.dim() > trailing else value

    def convolve(self, other: Gaussian) -> GaussianMixture:
        """The law of X + Y for independent X ~ self, Y ~ other = N(mu_Y, Sigma_Y):
        sum_k w_k N(mu_k + mu_Y, Sigma_k + Sigma_Y). Isotropic + isotropic stays isotropic.
        """
        if not isinstance(other, Gaussian):
            raise TypeError(f"other must be a gausslab.Gaussian, got {type(other).__name__}")
        if other.event_shape != self.event_shape:
            raise ValueError(
                f"other must have the mixture's event shape {tuple(self.event_shape)}, got "
                f"{tuple(other.event_shape)}"
            )
        broadcast_shapes(
            "the batch shapes of the mixture and other",
            mixture=self.batch_shape,
            other=other.batch_shape,
        )
        return GaussianMixture._derived(
            self.logits, self.components.convolve(_with_component_dim(other))
        )

    def marginal(self, idx: Any) -> GaussianMixture:
        """The law of x[idx]: sum_k w_k N(mu_k[idx], Sigma_k[idx][:, idx]), same weights."""
        return GaussianMixture._derived(self.logits, self.components.marginal(idx))

    def condition(self, idx: Any, value: Any) -> GaussianMixture:
        """The law of the other coordinates x_1 given x_2 = x[idx] = value:

            p(x_1 | x_2) = sum_k w_k' N_k(x_1 | x_2)
            w_k' = w_k N_k,2(value) / sum_j w_j N_j,2(value)

        where N_k(x_1 | x_2) is component k's conditional (Schur complement) and N_k,2 its
        marginal over idx. value has shape (..., len(idx)); its batch dims broadcast with
        the mixture's batch shape.
        """
        if len(self.event_shape) != 1:
            raise ValueError(
                f"condition needs vector events (event_shape (d,)), got event_shape "
                f"{tuple(self.event_shape)}"
            )
        self._refuse_point_masses()
        index = check_indices(idx, self.event_shape[0], "idx", allow_all=False)
        value = as_operand(value, "value", like=self.components.loc)
        if value.dim() < 1 or value.shape[-1] != len(index):
            raise ValueError(
                f"value must have shape (..., {len(index)}), one entry per conditioned "
                f"coordinate, got value of shape {tuple(value.shape)}"
            )
        broadcast_shapes(
            "the batch dims of value (all but the last) must broadcast with the batch shape",
            value=value.shape[:-1],
            batch_shape=self.batch_shape,
        )
        per_component = value.unsqueeze(-2)
        evidence = self.components.marginal(index).log_prob(per_component)
        conditionals = self.components.condition(index, per_component)
        return GaussianMixture._derived(self.logits + evidence, conditionals)

    # ------------------------------------------------------------------ batching
    def expand(self, batch_shape: Any, _instance: GaussianMixture | None = None) -> GaussianMixture:
        batch_shape = torch.Size(batch_shape)
        broadcast_shapes("expand", batch_shape=batch_shape, current=self.batch_shape)
        full = torch.Size((*batch_shape, self.num_components))
        return GaussianMixture._derived(self.logits.expand(full), self.components.expand(full))

    def __repr__(self) -> str:
        kind = type(self.components.covariance).__name__
        return (
            f"GaussianMixture(K={self.num_components}, {kind}, "
            f"batch_shape={tuple(self.batch_shape)}, event_shape={tuple(self.event_shape)}, "
            f"dtype={self.logits.dtype})"
        )


def log_weights(weights: Any, logits: Any, *, like: Tensor, num_components: int) -> Tensor:
    """The (unnormalized) log weights of a mixture from exactly one of `weights` and `logits`.

    The one naming rule of every mixture constructor: ``weights`` are probabilities (strictly
    positive, summing to 1 over the last dim within a relative 1e-4; a zero weight is refused
    by name, its log would be -inf), ``logits`` are unnormalized log weights (any finite
    values, w = softmax(logits)). Both given is an error; neither means equal weights 1/K.
    Values take like's dtype and device.
    """
    if isinstance(logits, bool):
        raise TypeError(
            f"logits must be a tensor of log weights, got the bool {logits!r}; pass the log "
            "weights themselves as logits=..., or probabilities as weights"
        )
    if weights is not None and logits is not None:
        raise ValueError(
            "pass either weights (probabilities summing to 1) or logits (unnormalized log "
            "weights), not both"
        )
    if weights is None and logits is None:
        return like.new_zeros(num_components)
    name = "weights" if logits is None else "logits"
    values = as_operand(logits if logits is not None else weights, name, like=like)
    if values.dim() == 0:
        raise ValueError(f"{name} must have shape (..., K), one entry per component, got a scalar")
    if logits is not None:
        return values
    if not bool((values > 0).all()):
        raise ValueError(
            f"weights must be strictly positive (drop a component instead of giving it "
            f"weight 0), got a smallest entry of {values.min().item():.6g} "
            f"({describe(values)}); pass logits=... for unnormalized log weights"
        )
    error = (values.sum(-1) - 1).abs().max().item()
    if error > _WEIGHT_SUM_TOLERANCE:
        raise ValueError(
            f"weights must sum to 1 over the last dim, but a sum is off by {error:.3g} "
            f"({describe(values)}); pass logits=... for unnormalized log weights"
        )
    return values.log()


def _required(value: Any, name: str) -> Any:
    if value is None:
        raise TypeError(f"{name} is required")
    return value


def _with_component_dim(g: Gaussian) -> Gaussian:
    """g with a size-1 dim appended to its batch shape, to line up with a components' K."""
    if not g.batch_shape:
        return g
    covariance = g.covariance.unsqueeze_batch(-1)
    event_ndims = len(g.event_shape)
    loc = g.loc.unsqueeze(-1 - event_ndims) if g.loc.dim() > event_ndims else g.loc
    return Gaussian.from_covariance(loc, covariance, validate_args=False)
