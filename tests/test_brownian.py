"""gausslab.brownian: a random walk of small independent steps has variance sigma^2 t (for any
step law), covariance sigma^2 min(s, t), and Gaussian positions in the limit (scipy's KS; a
coin-flip walk of a few steps is visibly not Gaussian, many small ones are); the
variance-exploding law scaled by sqrt(abar_t) is the forward marginal; bad inputs named."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from gausslab import Gaussian, GaussianMixture
from gausslab.brownian import (
    STEP_LAWS,
    brownian_marginal,
    random_walk,
    variance_exploding_marginal,
)
from gausslab.diffusion import Diffusion, Schedule

KOLMOGOROV_999 = 1.9495


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("steps", sorted(STEP_LAWS))
def test_step_laws_have_mean_zero_and_unit_variance(steps):
    draws = STEP_LAWS[steps]((200_000,), _generator(0), torch.empty((), dtype=torch.float64))
    se_mean, se_square = (
        1 / math.sqrt(len(draws)),
        float(draws.square().std()) / math.sqrt(len(draws)),
    )
    assert abs(float(draws.mean())) < 5 * se_mean
    assert abs(float(draws.square().mean()) - 1) < 5 * se_square + 1e-12


@pytest.mark.parametrize("steps", sorted(STEP_LAWS))
def test_variance_is_linear_in_time_and_increments_independent(steps):
    """E[X(t)^2] = sigma^2 t and E[X(s) X(t)] = sigma^2 min(s, t), within 5 SE."""
    walk = random_walk(
        20_000, 40, duration=3.0, sigma=0.7, steps=steps, record_every=10, generator=_generator(1)
    )
    assert walk.times.tolist() == pytest.approx([0, 0.75, 1.5, 2.25, 3.0])
    x = walk.positions
    assert torch.all(x[0] == 0)
    for i in range(1, 5):
        for j in range(i, 5):
            products = x[i] * x[j]
            se = float(products.std()) / math.sqrt(products.numel())
            expected = 0.49 * float(walk.times[i])
            assert abs(float(products.mean()) - expected) < 5 * se


def test_gaussian_steps_give_exact_gaussian_positions():
    walk = random_walk(20_000, 8, sigma=2.0, steps="gaussian", generator=_generator(2))
    for i in (1, 4, 8):
        law = walk.marginal(i)
        assert float(law.variance) == pytest.approx(4.0 * float(walk.times[i]))
        statistic = scipy.stats.kstest(
            walk.positions[i].numpy(), "norm", args=(0, float(law.stddev))
        ).statistic
        assert statistic < KOLMOGOROV_999 / math.sqrt(20_000)


@pytest.mark.parametrize("steps", ["coin", "uniform"])
def test_many_small_non_gaussian_steps_give_gaussian_positions(steps):
    """The central limit theorem: after 400 steps the KS distance to N(0, sigma^2 t) is below
    the 99.9% critical value (the exact deviation is O(1/sqrt(400)) for coins, smaller for the
    uniform), while a coin-flip walk of 4 steps, on a 5-point lattice, is far from Gaussian."""
    walk = random_walk(20_000, 400, steps=steps, record_every=400, generator=_generator(3))
    x = walk.positions[-1].numpy()
    critical = KOLMOGOROV_999 / math.sqrt(len(x))
    if steps == "coin":
        # lattice: compare with the normal CDF at the midpoints between lattice points
        statistic = _lattice_ks(x, step=2 / math.sqrt(400))
    else:
        statistic = scipy.stats.kstest(x, "norm").statistic
    assert statistic < critical
    few = random_walk(20_000, 4, steps="coin", generator=_generator(4)).positions[-1].numpy()
    assert scipy.stats.kstest(few, "norm").statistic > 5 * critical


def _lattice_ks(x: np.ndarray, step: float) -> float:
    """sup over midpoints m between lattice points of |F_N(m) - Phi(m)|: the continuity-corrected
    KS distance of a lattice law from N(0, 1)."""
    midpoints = np.arange(-5, 5, step) + step / 2
    empirical = np.searchsorted(np.sort(x), midpoints, side="right") / len(x)
    return float(np.max(np.abs(empirical - scipy.stats.norm.cdf(midpoints))))


def test_per_particle_starts_and_chunking():
    """start may give one position per particle; a walk drawn in many chunks keeps the law."""
    start = torch.linspace(-1, 1, 1000, dtype=torch.float64)
    walk = random_walk(1000, 3, start=start, generator=_generator(5))
    assert torch.equal(walk.positions[0], start)
    import gausslab.brownian as brownian

    original = brownian._CHUNK_ELEMENTS
    try:
        brownian._CHUNK_ELEMENTS = 1000  # one record per chunk
        chunked = random_walk(5000, 30, duration=2.0, record_every=3, generator=_generator(6))
    finally:
        brownian._CHUNK_ELEMENTS = original
    squares = chunked.positions[-1] ** 2
    assert abs(float(squares.mean()) - 2.0) < 5 * float(squares.std()) / math.sqrt(5000)


def test_walk_dtype_and_marginal():
    walk = random_walk(10, 4, dtype=torch.float32, generator=_generator(7))
    assert walk.positions.dtype == torch.float32 and walk.times.dtype == torch.float32
    from_starts = random_walk(10, 4, start=torch.zeros(10, dtype=torch.float32))
    assert from_starts.positions.dtype == torch.float32  # the dtype of a tensor start
    assert random_walk(10, 4).positions.dtype == torch.float64  # float64 for a number
    with pytest.raises(ValueError, match=r"started from several points"):
        random_walk(10, 4, start=torch.arange(10.0)).marginal(2)
    law = brownian_marginal(torch.tensor(2.0, dtype=torch.float64), sigma=1.5, start=1.0)
    assert isinstance(law, Gaussian) and float(law.mean) == 1.0
    assert float(law.variance) == pytest.approx(4.5)


@pytest.mark.parametrize(
    "data",
    [
        GaussianMixture.univariate([0.3, 0.7], [-2.0, 1.5], [0.3, 0.5]),
        Gaussian(torch.tensor([1.0, -1.0]), torch.tensor([[1.0, 0.3], [0.3, 0.5]])),
    ],
    ids=["mixture", "gaussian-2d"],
)
def test_variance_preserving_is_the_exploding_law_rescaled(data):
    """sqrt(abar_t) (x_0 + sigma_t eps) has the law Diffusion.marginal(data, t), exactly."""
    schedule = Schedule.linear(50, beta_start=1e-3, beta_end=0.2)
    for t in (1, 10, 50):
        abar = float(schedule.alphas_cumprod[t])
        exploding = variance_exploding_marginal(data, schedule, t)
        preserving = Diffusion(schedule).marginal(data, t)
        rescaled = exploding.affine(math.sqrt(abar))
        torch.testing.assert_close(rescaled.mean, preserving.mean, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(rescaled.variance, preserving.variance, rtol=1e-6, atol=1e-6)
        sigma_sq = (1 - abar) / abar
        torch.testing.assert_close(exploding.variance, data.variance + sigma_sq, rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: random_walk(0, 5), ValueError, r"num_particles must be an integer >= 1, got 0"),
        (lambda: random_walk(10, 2.5), TypeError, r"num_steps must be an integer"),
        (lambda: random_walk(10, 10, record_every=3), ValueError, r"multiple of record_every"),
        (lambda: random_walk(10, 10, steps="levy"), ValueError, r"steps must be one of"),
        (lambda: random_walk(10, 10, steps=["gaussian"]), ValueError, r"steps must be one of"),
        (lambda: random_walk(10, 10, sigma=-1.0), ValueError, r"sigma must be a positive"),
        (lambda: random_walk(10, 10, duration=math.inf), ValueError, r"duration must be finite"),
        (
            lambda: random_walk(10, 10, start=torch.zeros(3)),
            ValueError,
            r"start must be a number or",
        ),
        (lambda: random_walk(10, 10, start=math.nan), ValueError, r"start must be finite"),
        (lambda: brownian_marginal(0.0), ValueError, r"t must be strictly positive"),
        (
            lambda: variance_exploding_marginal(
                Gaussian.univariate(0.0, 1.0), Schedule.linear(10), 11
            ),
            ValueError,
            r"\bt\b.*1\.\.10",
        ),
        (
            lambda: variance_exploding_marginal(torch.zeros(2), Schedule.linear(10), 1),
            TypeError,
            r"data must be a Gaussian or a GaussianMixture",
        ),
    ],
)
def test_bad_inputs_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
