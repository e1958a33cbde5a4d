"""Pathwise vs score-function gradients: both unbiased for a Gaussian, with the closed-form
variances of ``verify.checks.conceptual`` (checked here by Gauss-Hermite quadrature, exact for
these polynomials); pathwise far lower; for a Bernoulli only the score function exists."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Normal

from gausslab import Gaussian
from gausslab.gradient_estimators import pathwise_gradients, score_function_gradients
from gausslab.verify.checks.conceptual import (
    bernoulli_estimator_moments,
    gaussian_estimator_moments,
)

F64 = torch.float64


def _hermite_moments(g, degree: int = 40) -> tuple[float, float]:
    """(E[g(eps)], Var[g(eps)]) for eps ~ N(0, 1) by Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(degree)
    weights = weights / math.sqrt(2 * math.pi)
    values = g(nodes)
    mean = float(weights @ values)
    return mean, float(weights @ (values - mean) ** 2)


@pytest.mark.parametrize(("mu", "sigma"), [(1.0, 0.5), (-0.3, 2.0), (0.0, 1.0)])
def test_closed_form_estimator_moments_match_quadrature(mu, sigma):
    """The per-draw estimators written as functions of eps, integrated against N(0, 1)."""

    def z(e):
        return mu + sigma * e

    estimators = {
        "pathwise.d/dmu": lambda e: 2 * z(e),
        "pathwise.d/dlog_sigma": lambda e: 2 * z(e) * sigma * e,
        "score_function.d/dmu": lambda e: z(e) ** 2 * e / sigma,
        "score_function.d/dlog_sigma": lambda e: z(e) ** 2 * (e**2 - 1),
    }
    closed = gaussian_estimator_moments(mu, sigma)
    for key, g in estimators.items():
        mean, variance = _hermite_moments(g)
        assert closed[key] == pytest.approx((mean, variance), rel=1e-10, abs=1e-12), key
        assert closed[key][0] == pytest.approx(2 * mu if key.endswith("mu") else 2 * sigma**2)
    for param in ("d/dmu", "d/dlog_sigma"):
        assert closed[f"pathwise.{param}"][1] < closed[f"score_function.{param}"][1]


def test_bernoulli_moments_by_enumeration():
    p, target = 0.3, 0.4
    values = {z: (z - target) ** 2 * (z / p - (1 - z) / (1 - p)) for z in (0, 1)}
    mean = p * values[1] + (1 - p) * values[0]
    variance = p * values[1] ** 2 + (1 - p) * values[0] ** 2 - mean**2
    assert bernoulli_estimator_moments(p, target) == pytest.approx((mean, variance), rel=1e-14)


def _gaussian(mu, log_sigma):
    return Gaussian.univariate(mu, log_sigma.exp())


@pytest.mark.parametrize("estimator", [pathwise_gradients, score_function_gradients])
def test_estimators_are_unbiased_with_the_closed_form_variance(estimator):
    torch.manual_seed(0)
    mu, sigma = 1.0, 0.5
    params = (torch.tensor(mu, dtype=F64), torch.tensor(math.log(sigma), dtype=F64))
    grads = estimator(_gaussian, params, lambda z: z**2, 50_000)
    method = "pathwise" if estimator is pathwise_gradients else "score_function"
    closed = gaussian_estimator_moments(mu, sigma)
    for draws, param in zip(grads, ("d/dmu", "d/dlog_sigma"), strict=True):
        mean, variance = closed[f"{method}.{param}"]
        assert draws.shape == (50_000,)
        assert abs(float(draws.mean()) - mean) < 5 * math.sqrt(variance / len(draws))
        squares = (draws - mean) ** 2
        assert abs(float(squares.mean()) - variance) < 5 * float(squares.std()) / math.sqrt(
            len(draws)
        )


def test_parameters_with_a_shape_get_one_gradient_row_per_draw():
    """A vector mean: grads have shape (N, d), mean 2 mu per coordinate."""
    torch.manual_seed(1)
    loc, scale = torch.tensor([0.5, -1.0], dtype=F64), torch.tensor([1.0, 0.3], dtype=F64)
    (d_loc, d_scale) = pathwise_gradients(
        lambda m, s: Normal(m, s), (loc, scale), lambda z: (z**2).sum(-1), 20_000
    )
    assert d_loc.shape == (20_000, 2) and d_scale.shape == (20_000, 2)
    torch.testing.assert_close(d_loc.mean(0), 2 * loc, atol=5 * 2 * 1.0 / math.sqrt(20_000), rtol=0)


def test_bernoulli_has_no_pathwise_gradient_but_a_score_function_one():
    probs = (torch.tensor(0.3, dtype=F64),)
    loss = lambda z: (z - 0.4) ** 2  # noqa: E731
    with pytest.raises(
        ValueError, match=r"Bernoulli has no reparameterized sampler.*score_function"
    ):
        pathwise_gradients(lambda p: Bernoulli(probs=p), probs, loss, 100)
    torch.manual_seed(2)
    (d_p,) = score_function_gradients(lambda p: Bernoulli(probs=p), probs, loss, 40_000)
    mean, variance = bernoulli_estimator_moments(0.3, 0.4)
    assert abs(float(d_p.mean()) - mean) < 5 * math.sqrt(variance / 40_000)


def test_categorical_score_function_matches_the_exact_gradient():
    """d/dlogits E[f(k)] = p_j (f(j) - E f) for a softmax categorical."""
    torch.manual_seed(3)
    logits = torch.tensor([0.2, -0.5, 1.0], dtype=F64)
    f = torch.tensor([1.0, 4.0, -2.0], dtype=F64)
    (d_logits,) = score_function_gradients(
        lambda w: Categorical(logits=w), (logits,), lambda k: f[k], 50_000
    )
    p = logits.softmax(0)
    exact = p * (f - (p * f).sum())
    se = d_logits.std(0) / math.sqrt(50_000)
    assert torch.all((d_logits.mean(0) - exact).abs() < 5 * se)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: pathwise_gradients(
                _gaussian, (torch.tensor(0.0), torch.tensor(0.0)), lambda z: z, 1
            ),
            ValueError,
            r"num_draws must be an integer >= 2, got 1",
        ),
        (
            lambda: pathwise_gradients(
                _gaussian, (torch.tensor(0.0), torch.tensor(0.0)), lambda z: z, 2.0
            ),
            TypeError,
            r"num_draws must be an integer",
        ),
        (
            lambda: pathwise_gradients(_gaussian, (0.0, torch.tensor(0.0)), lambda z: z, 4),
            TypeError,
            r"params\[0\] must be a floating-point tensor",
        ),
        (
            lambda: score_function_gradients(
                _gaussian, (torch.tensor(0.0), torch.tensor(0.0)), lambda z: z.sum(), 4
            ),
            ValueError,
            r"loss must map the draws to one value per draw, shape \(4,\), got \(\)",
        ),
    ],
)
def test_bad_inputs_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
