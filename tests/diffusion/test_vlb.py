"""Tests for gausslab.diffusion.vlb: prior KL, per-step KL, discretized decoder, bits/dim.

References: mpmath at 50 digits and scipy.stats.norm for the decoder, torch.distributions
Normal KLs of Gaussians built here from 40-digit tables and improved-diffusion's formulas
(see test_process), and a closed form of the expected per-step KL for the Bayes-optimal model
of Gaussian data, checked by Monte Carlo within 5 standard errors.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch.distributions import Normal, kl_divergence

import gausslab
from gausslab.diffusion import Diffusion, Schedule, VLBTerms
from gausslab.diffusion.vlb import discretized_gaussian_log_prob

from .test_process import generator, improved_diffusion_tables, reference_tables

SHORT = Schedule.linear(20, 0.01, 0.3)


def eight_bit(shape: tuple[int, ...], seed: int, dtype=torch.float64) -> torch.Tensor:
    """Random 8-bit data scaled to [-1, 1], with both edge values present."""
    k = torch.randint(0, 256, shape, generator=generator(seed))
    k.view(-1)[:2] = torch.tensor([0, 255])
    return (k / 127.5 - 1).to(dtype)


def mp_log_bin(x: float, mean: float, std: float) -> float:
    """log P(bin of x) under N(mean, std^2) at 50 digits (edge bins open to +-inf).

    Upper-tail masses are taken as lower-tail ones of the mirrored bin, so that 50 digits
    resolve them however far from the mean the bin is.
    """
    with mpmath.workdps(50):
        x, mean, std = mpmath.mpf(x), mpmath.mpf(mean), mpmath.mpf(std)
        half = mpmath.mpf(1) / 255
        z_lo = -mpmath.inf if x < -0.999 else (x - half - mean) / std
        z_hi = mpmath.inf if x > 0.999 else (x + half - mean) / std
        if z_lo + z_hi > 0:
            z_lo, z_hi = -z_hi, -z_lo
        return float(mpmath.log(mpmath.ncdf(z_hi) - mpmath.ncdf(z_lo)))


# --------------------------------------------------------------------------- prior


@pytest.mark.parametrize("schedule", [Schedule.linear(1000), Schedule.cosine(100), SHORT], ids=str)
def test_prior_kl_matches_the_closed_form(schedule):
    """KL(q(x_T | x_0) || N(0, I)) = 0.5 sum(abar_T x0^2 + (1 - abar_T) - 1 - log(1 - abar_T)),
    evaluated at 50 digits from the betas, and equals torch.distributions' Normal KL summed."""
    diffusion = Diffusion(schedule)
    x0 = eight_bit((3, 2, 4), seed=0)
    kl = diffusion.prior_kl(x0)
    assert kl.shape == (3,) and kl.dtype == torch.float64
    with mpmath.workdps(50):
        abar = mpmath.fprod(1 - mpmath.mpf(float(b)) for b in schedule.betas[1:])
        constant = (1 - abar) - 1 - mpmath.log(1 - abar)
        expected = [
            float(sum(0.5 * (abar * mpmath.mpf(float(v)) ** 2 + constant) for v in row))
            for row in x0.reshape(3, -1)
        ]
    torch.testing.assert_close(kl, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=0)
    a = schedule.alphas_cumprod[-1]
    reference = kl_divergence(Normal(a.sqrt() * x0, (1 - a).sqrt()), Normal(0.0, 1.0))
    torch.testing.assert_close(kl, reference.sum((1, 2)), rtol=1e-9, atol=1e-15)


def test_prior_kl_is_zero_at_zero_terminal_snr():
    """With abar_T = 0, q(x_T | x_0) = N(0, I) exactly, so the prior term vanishes."""
    diffusion = Diffusion(SHORT.rescale_zero_terminal_snr())
    assert torch.equal(diffusion.prior_kl(eight_bit((4, 3), seed=1)), torch.zeros(4).double())


# --------------------------------------------------------------------------- per-step KL


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
@pytest.mark.parametrize("variance", ["fixed_small", "fixed_large", "learned_range"])
def test_vlb_term_matches_the_kl_of_independently_built_gaussians(prediction, variance):
    """For t >= 2, vlb_term = sum over the event of KL(N(mu_q, beta_tilde_t) || N(mu_p, s_p^2))
    with torch.distributions Normals: the posterior from the 40-digit Bayes tables, p from
    improved-diffusion's formulas in numpy (no clipping); and gausslab.kl_divergence of
    q_posterior and p_mean_variance."""
    schedule = Schedule.cosine(100)
    diffusion = Diffusion(schedule)
    ref = reference_tables(schedule)
    theirs = improved_diffusion_tables(schedule.betas.numpy()[1:])
    t = torch.tensor([2, 3, 50, 99, 100])
    i = t.numpy()[:, None, None]
    shape = (5, 2, 3)
    x0 = eight_bit(shape, seed=2)
    x_t = diffusion.q_sample(x0, t, generator=generator(3))
    output = torch.randn(shape, generator=generator(4), dtype=torch.float64)
    frac = torch.rand(shape, generator=generator(5), dtype=torch.float64) * 2 - 1
    abar = ref["abar"][i]
    xt, out = x_t.numpy(), output.numpy()
    x0_hat = {
        "eps": (xt - np.sqrt(1 - abar) * out) / np.sqrt(abar),
        "x0": out,
        "v": np.sqrt(abar) * xt - np.sqrt(1 - abar) * out,
    }[prediction]
    mu_p = ref["coef1"][i] * x0_hat + ref["coef2"][i] * xt
    mu_q = ref["coef1"][i] * x0.numpy() + ref["coef2"][i] * xt
    log_var_p = {
        "fixed_small": np.log(ref["post_var"][i]),
        "fixed_large": np.log(ref["beta"][i]),
        "learned_range": (frac.numpy() + 1) / 2 * theirs["log_betas"][i - 1]
        + (1 - frac.numpy()) / 2 * np.log(ref["post_var"][i]),
    }[variance]
    q = Normal(torch.from_numpy(mu_q), torch.from_numpy(np.sqrt(ref["post_var"][i])))
    p = Normal(torch.from_numpy(mu_p), torch.from_numpy(np.exp(0.5 * log_var_p)))
    expected = kl_divergence(q, p).sum((1, 2))
    if variance == "learned_range":
        output = torch.cat([output, frac], dim=1)
    options = {"prediction": prediction, "variance": variance}
    term = diffusion.vlb_term(output, x0, x_t, t, **options)
    assert term.shape == (5,)
    torch.testing.assert_close(term, expected, rtol=1e-9, atol=1e-12)
    q_posterior = diffusion.q_posterior(x_t, x0, t)
    p_theta = diffusion.p_mean_variance(output, x_t, t, **options)
    torch.testing.assert_close(
        gausslab.kl_divergence(q_posterior, p_theta), term, rtol=1e-9, atol=1e-12
    )


def test_vlb_term_vanishes_for_the_exact_posterior():
    """A model that predicts the true x0 with fixed_small variance is p_theta = q posterior,
    so every L_{t-1}, t >= 2, is zero (to rounding)."""
    diffusion = Diffusion(SHORT)
    t = torch.arange(2, 21)
    x0 = eight_bit((19, 4), seed=6)
    x_t = diffusion.q_sample(x0, t, generator=generator(7))
    term = diffusion.vlb_term(x0, x0, x_t, t, prediction="x0")
    torch.testing.assert_close(term, torch.zeros(19, dtype=torch.float64), rtol=0, atol=1e-20)


def test_expected_step_kl_of_the_optimal_model_for_gaussian_data():
    """Data x0 elementwise from N(m, s^2): the Bayes-optimal x0 predictor is
    m + k_t (x_t - sqrt(abar_t) m), k_t = sqrt(abar_t) s^2 / (abar_t s^2 + 1 - abar_t). With
    fixed_small variance, L_{t-1} = coef1_t^2 (x0 - x0_hat)^2 / (2 beta_tilde_t) per element,
    whose mean over x_t ~ q(x_t | x0) is coef1_t^2 [(1 - k_t sqrt(abar_t))^2 (x0 - m)^2 +
    k_t^2 (1 - abar_t)] / (2 beta_tilde_t). vlb()'s step_kl columns, averaged over a batch of
    copies of one x0, match it within 5 standard errors for every t = 2..T."""
    diffusion = Diffusion(SHORT)
    ref = reference_tables(SHORT)
    m, s = 0.2, 0.5
    x0_value = torch.tensor([0.6, -0.8], dtype=torch.float64)
    n = 4000
    x0 = x0_value.expand(n, 2)
    a = torch.from_numpy(np.sqrt(ref["abar"]))
    one_minus = torch.from_numpy(ref["one_minus_abar"])

    def optimal_x0(x_t, t):
        abar = a[t][:, None] ** 2
        k = a[t][:, None] * s**2 / (abar * s**2 + one_minus[t][:, None])
        return m + k * (x_t - a[t][:, None] * m)

    result = diffusion.vlb(optimal_x0, x0, prediction="x0", generator=generator(8))
    assert isinstance(result, VLBTerms) and result.step_kl.shape == (n, 19)
    for t in range(2, 21):
        abar = ref["abar"][t]
        k = math.sqrt(abar) * s**2 / (abar * s**2 + ref["one_minus_abar"][t])
        mean_sq = (1 - k * math.sqrt(abar)) ** 2 * (x0_value - m) ** 2 + k**2 * (1 - abar)
        expected = (ref["coef1"][t] ** 2 * mean_sq / (2 * ref["post_var"][t])).sum()
        column = result.step_kl[:, t - 2]
        se = column.std() / math.sqrt(n)
        assert (column.mean() - expected).abs() < 5 * se, t


def test_continuous_bound_of_the_optimal_model_matches_its_closed_form_and_the_entropy():
    """decoder="gaussian" on continuous data x0 ~ N(m, s^2) per element (no [-1, 1] check):
    with the Bayes-optimal x0 model and fixed_small variances the expected bound per element is
        prior: (abar_T (m^2 + s^2) + 1 - abar_T - 1 - log(1 - abar_T)) / 2
        steps: sum_{t>=2} coef1_t^2 V_t / (2 beta_tilde_t),  V_t = Var(x0 | x_t)
               = s^2 (1 - abar_t) / (abar_t s^2 + 1 - abar_t)
        decoder: log(2 pi sigma_1^2) / 2 + V_1 / (2 sigma_1^2),  sigma_1^2 = (1 - abar_1)/abar_1,
    computed here from the reference tables; the mean of vlb().total over 4000 draws matches
    it within 5 SE, and it exceeds the entropy log(2 pi e s^2) / 2 per element (a bound)."""
    diffusion = Diffusion(SHORT)
    ref = reference_tables(SHORT)
    abar, one_minus = ref["abar"], ref["one_minus_abar"]
    m, s, n = 3.0, 1.5, 4000  # far outside [-1, 1]: continuous toy data
    variance = s**2 * one_minus / (abar * s**2 + one_minus)
    prior = (abar[20] * (m**2 + s**2) + one_minus[20] - 1 - math.log(one_minus[20])) / 2
    steps = sum(ref["coef1"][t] ** 2 * variance[t] / (2 * ref["post_var"][t]) for t in range(2, 21))
    sigma_1_sq = one_minus[1] / abar[1]
    decoder = math.log(2 * math.pi * sigma_1_sq) / 2 + variance[1] / (2 * sigma_1_sq)
    expected = 2 * float(prior + steps + decoder)  # two elements per example
    a = torch.from_numpy(np.sqrt(abar))

    def optimal_x0(x_t, t):
        k = (
            a[t][:, None]
            * s**2
            / (a[t][:, None] ** 2 * s**2 + torch.from_numpy(one_minus)[t][:, None])
        )
        return m + k * (x_t - a[t][:, None] * m)

    x0 = m + s * torch.randn(n, 2, generator=generator(20), dtype=torch.float64)
    result = diffusion.vlb(
        optimal_x0, x0, prediction="x0", generator=generator(21), decoder="gaussian"
    )
    se = result.total.std() / math.sqrt(n)
    assert abs(float(result.total.mean()) - expected) < 5 * se
    assert expected > 2 * math.log(2 * math.pi * math.e * s**2) / 2


def test_gaussian_decoder_is_scipys_normal_density_with_sigma_1():
    """At t = 1, decoder="gaussian" gives -sum log N(x0; x0_hat, sigma_1^2) (scipy.stats.norm),
    sigma_1^2 = (1 - abar_1) / abar_1, for fixed_small and fixed_large alike; an unknown decoder
    is refused by name."""
    diffusion = Diffusion(SHORT)
    ref = reference_tables(SHORT)
    x0 = 4.0 * torch.randn(5, 3, generator=generator(22), dtype=torch.float64)
    x0_hat = x0 + 0.05 * torch.randn(x0.shape, generator=generator(23), dtype=torch.float64)
    x_1 = diffusion.q_sample(x0, 1, generator=generator(24))
    sigma_1 = math.sqrt(ref["one_minus_abar"][1] / ref["abar"][1])
    expected = -norm.logpdf(x0.numpy(), x0_hat.numpy(), sigma_1).sum(1)
    for variance in ("fixed_small", "fixed_large"):
        nll = diffusion.vlb_term(
            x0_hat, x0, x_1, 1, prediction="x0", variance=variance, decoder="gaussian"
        )
        np.testing.assert_allclose(nll.numpy(), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="decoder must be one of"):
        diffusion.vlb_term(x0_hat, x0, x_1, 1, prediction="x0", decoder="bernoulli")


# --------------------------------------------------------------------------- decoder


def test_decoder_nll_matches_scipy():
    """At t = 1, vlb_term = -sum log P(bin of x0) under N(x0_hat, beta_tilde_2) (the clipped
    t = 1 variance; mean = x0_hat since coef1_1 = 1, coef2_1 = 0), with bin masses as
    scipy.stats.norm.cdf differences and the edge bins as norm.cdf / norm.sf."""
    diffusion = Diffusion(SHORT)
    ref = reference_tables(SHORT)
    x0 = eight_bit((3, 3, 4, 4), seed=9)
    x0_hat = x0 + 0.05 * torch.randn(x0.shape, generator=generator(10), dtype=torch.float64)
    x_1 = diffusion.q_sample(x0, 1, generator=generator(11))
    std = math.sqrt(ref["post_var"][2])
    x, mu = x0.numpy(), x0_hat.numpy()
    upper = norm.cdf((x + 1 / 255 - mu) / std)
    lower = norm.cdf((x - 1 / 255 - mu) / std)
    log_p = np.where(
        x < -0.999,
        norm.logcdf((x + 1 / 255 - mu) / std),
        np.where(x > 0.999, norm.logsf((x - 1 / 255 - mu) / std), np.log(upper - lower)),
    )
    expected = torch.from_numpy(-log_p.reshape(3, -1).sum(1))
    nll = diffusion.vlb_term(x0_hat, x0, x_1, 1, prediction="x0")
    torch.testing.assert_close(nll, expected, rtol=1e-10, atol=0)
    mixed = diffusion.vlb_term(x0_hat, x0, x_1, torch.tensor([1, 1, 1]), prediction="x0")
    torch.testing.assert_close(mixed, nll, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("x", "mean", "std"),
    [
        (0.0, 0.001, 0.1),  # central bin
        (-1.0, 0.3, 0.05),  # lower edge bin, mass far above
        (1.0, -0.3, 0.05),  # upper edge bin, mass far below
        (-1.0, -1.5, 0.1),  # lower edge bin holding almost all mass
        (1.0, 1.5, 0.1),  # upper edge bin holding almost all mass
        (0.5, -0.5, 0.03),  # bin 33 sd right of the mean
        (-0.5, 0.5, 0.03),  # bin 33 sd left of the mean
        (127 / 127.5 - 1, 0.8, 1e-3),  # bin 800 sd left of the mean
        (0.2, 0.2 + 1e-9, 10.0),  # very wide Gaussian
    ],
)
def test_discretized_log_prob_matches_mpmath_in_the_tails(x, mean, std):
    """log P(bin) to 1e-12 relative against 50-digit mpmath, far into both tails, where
    cdf differences in floating point would underflow or cancel."""
    got = discretized_gaussian_log_prob(
        torch.tensor([x], dtype=torch.float64),
        torch.tensor(mean, dtype=torch.float64),
        torch.tensor(std, dtype=torch.float64),
    )
    expected = mp_log_bin(x, mean, std)
    assert math.isfinite(got.item())
    assert got.item() == pytest.approx(expected, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("mean", "std"), [(0.0, 0.3), (0.9, 0.01), (-2.0, 1.0), (0.123, 1e-4)])
def test_discretized_bins_form_a_probability_distribution(mean, std):
    """The 256 bin probabilities of one Gaussian sum to 1 (logsumexp = 0 to 1e-12)."""
    x = torch.arange(256, dtype=torch.float64) / 127.5 - 1
    log_p = discretized_gaussian_log_prob(
        x, torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)
    )
    assert torch.logsumexp(log_p, 0).abs() < 1e-12


def test_discretized_log_prob_gradients_are_finite_and_correct():
    """gradcheck in float64 for interior and edge bins, near and far from the mean; in float32
    a bin 1500 sd from the mean still gives a finite value and finite gradients."""
    x = torch.tensor([-1.0, -0.2, 0.0, 0.6, 1.0], dtype=torch.float64)
    mean = torch.tensor([0.1, -0.25, 0.0, -0.4, 0.9], dtype=torch.float64, requires_grad=True)
    std = torch.tensor([0.2, 0.05, 0.01, 0.03, 0.3], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda m, s: discretized_gaussian_log_prob(x, m, s), (mean, std)
    )
    mean32 = torch.tensor([0.5, 0.5], requires_grad=True)
    std32 = torch.tensor([1e-3, 1e-3], requires_grad=True)
    value = discretized_gaussian_log_prob(torch.tensor([-1.0, -0.99]), mean32, std32)
    value.sum().backward()
    assert torch.isfinite(value).all() and value.dtype == torch.float32
    assert torch.isfinite(mean32.grad).all() and torch.isfinite(std32.grad).all()


# --------------------------------------------------------------------------- the whole bound


def test_vlb_terms_add_up_and_convert_to_bits_per_dim():
    """vlb(): total = prior_kl + sum of step_kl + decoder_nll; bits_per_dim = total / (D ln 2);
    prior_kl equals Diffusion.prior_kl; shapes (B,) and (B, T - 1); decoder_nll and step_kl are
    the vlb_term values at the same draws (replayed with the same generator seed)."""
    diffusion = Diffusion(SHORT)
    x0 = eight_bit((3, 2, 2, 2), seed=12)
    calls = []

    def model(x_t, t):
        calls.append((x_t, t))
        return 0.1 * x_t

    result = diffusion.vlb(model, x0, generator=generator(13))
    assert result.prior_kl.shape == result.decoder_nll.shape == result.total.shape == (3,)
    assert result.step_kl.shape == (3, 19)
    assert [int(t[0]) for _, t in calls] == list(range(1, 21))
    assert all(t.dtype == torch.int64 and t.shape == (3,) for _, t in calls)
    torch.testing.assert_close(
        result.total, result.prior_kl + result.step_kl.sum(1) + result.decoder_nll
    )
    torch.testing.assert_close(result.bits_per_dim, result.total / (8 * math.log(2)))
    torch.testing.assert_close(result.prior_kl, diffusion.prior_kl(x0))
    for t, (x_t, _) in enumerate(calls, start=1):
        term = diffusion.vlb_term(0.1 * x_t, x0, x_t, t)
        got = result.decoder_nll if t == 1 else result.step_kl[:, t - 2]
        torch.testing.assert_close(got, term, rtol=0, atol=0)
    replay = generator(13)
    first_draw = diffusion.q_sample(x0, 1, generator=replay)
    torch.testing.assert_close(calls[0][0], first_draw, rtol=0, atol=0)


def test_vlb_is_differentiable_in_the_model_parameters():
    """The VLB total backpropagates to a learned_range model's parameters with finite
    gradients (edge bins included)."""
    diffusion = Diffusion(SHORT)
    x0 = eight_bit((2, 2, 3), seed=14)
    weight = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)

    def model(x_t, t):
        return torch.cat([weight * x_t, torch.tanh(weight * x_t)], dim=1)

    result = diffusion.vlb(model, x0, variance="learned_range", generator=generator(15))
    result.total.sum().backward()
    assert torch.isfinite(result.total).all() and torch.isfinite(weight.grad)


# --------------------------------------------------------------------------- errors


X0 = torch.zeros(2, 3)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda d: d.vlb_term(X0, X0 + 1.5, X0, 1), "x0"),
        (lambda d: d.vlb_term(X0, torch.zeros(2, 4), X0, 2), "x0"),
        (lambda d: d.vlb_term(X0, X0, X0, 0), "t"),
        (lambda d: d.vlb_term(X0, X0, X0, 2, prediction="noise"), "prediction"),
        (lambda d: d.vlb_term(X0, X0, X0, 2, variance="fixed"), "variance"),
        (lambda d: d.vlb(lambda x, t: x, torch.zeros(2, 3, dtype=torch.int64)), "x0"),
        (lambda d: d.prior_kl(torch.zeros(2, dtype=torch.int64)), "x0"),
        (lambda d: discretized_gaussian_log_prob(X0 - 2, X0, 1.0), "x"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, argument):
    """Every bad argument raises ValueError whose message names the argument."""
    with pytest.raises(ValueError, match=rf"\b{argument}\b"):
        call(Diffusion(SHORT))
