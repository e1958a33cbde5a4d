"""Forward variance under step coefficients: DDPM's keeps Var(x_t) = abar_t Var(x_0) + 1 - abar_t
(from the schedule's own table), the alternatives follow their closed forms (numpy), and the
simulated chains agree within 5 SE; bad choices named."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gausslab.diffusion import Diffusion, Schedule
from gausslab.diffusion.variance import (
    CHOICES,
    forward_samples,
    forward_variance,
    step_coefficients,
)

SCHEDULE = Schedule.linear(30, beta_start=0.01, beta_end=0.4)


def _closed_forms(v: float) -> dict[str, np.ndarray]:
    betas = SCHEDULE.betas.numpy()[1:]
    abar = np.concatenate([[1.0], np.cumprod(1 - betas)])
    total = np.concatenate([[0.0], np.cumsum(betas)])
    growth = np.concatenate([[1.0], np.cumprod(1 + betas)])
    return {
        "preserving": abar * v + 1 - abar,
        "exploding": v + total,
        "growing": growth * (v + 1) - 1,
    }


@pytest.mark.parametrize("v", [0.0, 1.0, 3.0])
def test_forward_variance_closed_forms(v):
    for choice, expected in _closed_forms(v).items():
        np.testing.assert_allclose(forward_variance(SCHEDULE, v, choice), expected, rtol=1e-12)
    abar = SCHEDULE.alphas_cumprod
    torch.testing.assert_close(forward_variance(SCHEDULE, v), abar * v + 1 - abar)
    shrinking = forward_variance(SCHEDULE, v, "shrinking")
    assert shrinking[-1] < 0.25  # vanishes towards beta / (2 - beta), not 1


def test_unit_variance_is_preserved_and_others_explode_or_vanish():
    final = {c: float(forward_variance(SCHEDULE, 1.0, c)[-1]) for c in CHOICES}
    assert torch.allclose(forward_variance(SCHEDULE, 1.0), torch.ones(31, dtype=torch.float64))
    assert final["exploding"] > 5 and final["growing"] > 100 and final["shrinking"] < 0.25


def test_preserving_coefficients_are_the_diffusion_step():
    a, b = step_coefficients(SCHEDULE)
    x = torch.ones(1, 1, dtype=torch.float64)
    for t in (1, 15, 30):
        step = Diffusion(SCHEDULE).q_step(x, t)
        assert float(step.mean) == pytest.approx(float(a[t]), rel=1e-14)
        assert float(step.stddev) == pytest.approx(float(b[t]), rel=1e-14)


@pytest.mark.parametrize("choice", list(CHOICES))
def test_simulated_chain_matches_the_variance(choice):
    """Unit-variance uniform data (not Gaussian) through the chain: E[x_t^2] = Var_t."""
    generator = torch.Generator().manual_seed(0)
    x0 = (torch.rand(40_000, dtype=torch.float64, generator=generator) * 2 - 1) * math.sqrt(3)
    times = (0, 10, 30)
    x = forward_samples(x0, SCHEDULE, choice, times, generator=generator)
    assert x.shape == (3, 40_000) and torch.equal(x[0], x0)
    variances = forward_variance(SCHEDULE, 1.0, choice)
    for row, t in zip(x[1:], times[1:], strict=True):
        squares = row**2
        se = float(squares.std()) / math.sqrt(len(squares))
        assert abs(float(squares.mean()) - float(variances[t])) < 5 * se


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: forward_variance(SCHEDULE, 1.0, "cosine"), ValueError, r"choice must be one of"),
        (lambda: forward_variance(SCHEDULE, 1.0, {}), ValueError, r"choice must be one of"),
        (
            lambda: forward_variance(SCHEDULE, -1.0),
            ValueError,
            r"data_variance must be finite and >= 0",
        ),
        (lambda: forward_variance(SCHEDULE, "1"), TypeError, r"data_variance must be a number"),
        (lambda: step_coefficients(None), TypeError, r"schedule must be a gausslab"),
        (
            lambda: forward_samples(torch.zeros(3), SCHEDULE, times=[31]),
            ValueError,
            r"\bt\b.*0\.\.30",
        ),
        (
            lambda: forward_samples(torch.zeros(3, dtype=torch.int64), SCHEDULE),
            TypeError,
            r"x0 must be a floating",
        ),
    ],
)
def test_bad_inputs_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
