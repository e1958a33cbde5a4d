"""Tests for gausslab.functional against scipy.stats.norm and 50-digit mpmath references."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gausslab.functional import (
    normal_cdf,
    normal_icdf,
    normal_kl,
    normal_log_cdf,
    normal_log_prob,
    standardize,
    unstandardize,
)

FLOATS = [torch.float64, torch.float32]


# --------------------------------------------------------------------------- references


@mpmath.workdps(50)
def mp_log_cdf(z: float) -> mpmath.mpf:
    """log Phi(z) at 50 digits; the upper tail through log1p so that it keeps its digits."""
    z = mpmath.mpf(z)
    if z > 0:
        return mpmath.log1p(-mpmath.ncdf(-z))
    return mpmath.log(mpmath.ncdf(z))


@mpmath.workdps(50)
def mp_log_cdf_derivative(z: float) -> mpmath.mpf:
    """d/dz log Phi(z) = phi(z) / Phi(z) at 50 digits."""
    z = mpmath.mpf(z)
    return mpmath.npdf(z) / mpmath.ncdf(z)


@mpmath.workdps(50)
def mp_quantile(p: float) -> mpmath.mpf:
    """Phi^-1(p) at 50 digits: the root of Phi(z) = p, from the lower tail (q = min(p, 1 - p),
    1 - p is exact in binary for p >= 1/2) and by symmetry for the upper one."""
    p = mpmath.mpf(p)
    q = min(p, 1 - p)
    if q == mpmath.mpf(0.5):
        return mpmath.mpf(0)
    log_q = mpmath.log(q)
    z = mpmath.findroot(lambda t: mpmath.log(mpmath.ncdf(t)) - log_q, -mpmath.sqrt(-2 * log_q))
    return -z if p > 0.5 else z


@mpmath.workdps(60)
def mp_kl(loc_p: float, std_p: float, loc_q: float, std_q: float) -> mpmath.mpf:
    """The textbook KL formula at 60 digits, enough to survive its own cancellation."""
    lp, sp, lq, sq = (mpmath.mpf(v) for v in (loc_p, std_p, loc_q, std_q))
    return mpmath.log(sq / sp) + (sp**2 + (lp - lq) ** 2) / (2 * sq**2) - mpmath.mpf(1) / 2


@mpmath.workdps(50)
def max_rel_err(out: torch.Tensor, ref: list[mpmath.mpf]) -> float:
    """max |out - ref| / |ref| over entries with ref != 0 (computed in mpmath)."""
    errs = [abs((mpmath.mpf(o) - r) / r) for o, r in zip(out.double().tolist(), ref, strict=True)]
    return float(max(errs))


def random_batch(dtype: torch.dtype, seed: int) -> tuple[torch.Tensor, ...]:
    """x, loc, std with shapes (4, 1, 3), (1, 5, 1), (5, 3) that broadcast to (4, 5, 3)."""
    g = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(4, 1, 3, generator=g, dtype=torch.float64)
    loc = torch.randn(1, 5, 1, generator=g, dtype=torch.float64)
    std = torch.exp(torch.randn(5, 3, generator=g, dtype=torch.float64))
    return x.to(dtype), loc.to(dtype), std.to(dtype)


def tolerances(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-13, "atol": 1e-13} if dtype == torch.float64 else {"rtol": 2e-5, "atol": 2e-5}
    )


# --------------------------------------------------------------------------- scipy on batches


@pytest.mark.parametrize("dtype", FLOATS)
def test_log_prob_cdf_log_cdf_match_scipy_on_broadcast_batches(dtype: torch.dtype) -> None:
    """log_prob, cdf and log_cdf equal scipy.stats.norm's logpdf, cdf and logcdf on
    broadcasting batches, and keep the input dtype and the broadcast shape."""
    x, loc, std = random_batch(dtype, seed=0)
    xs, ls, ss = (t.double().numpy() for t in (x, loc, std))
    for fn, ref in [
        (normal_log_prob, scipy.stats.norm.logpdf),
        (normal_cdf, scipy.stats.norm.cdf),
        (normal_log_cdf, scipy.stats.norm.logcdf),
    ]:
        out = fn(x, loc, std)
        assert out.dtype == dtype
        assert out.shape == (4, 5, 3)
        np.testing.assert_allclose(out.double().numpy(), ref(xs, ls, ss), **tolerances(dtype))


@pytest.mark.parametrize("dtype", FLOATS)
def test_icdf_matches_scipy_ppf_on_broadcast_batches(dtype: torch.dtype) -> None:
    """icdf equals scipy.stats.norm.ppf on a broadcasting batch of p in (0, 1)."""
    _, loc, std = random_batch(dtype, seed=1)
    p = torch.rand(4, 1, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    p = p.to(dtype)
    out = normal_icdf(p, loc, std)
    assert out.dtype == dtype
    assert out.shape == (4, 5, 3)
    ref = scipy.stats.norm.ppf(p.double().numpy(), loc.double().numpy(), std.double().numpy())
    np.testing.assert_allclose(out.double().numpy(), ref, **tolerances(dtype))


def test_standardize_and_unstandardize_are_inverse_affine_maps() -> None:
    """standardize is (x - loc) / std and unstandardize maps it back to x."""
    x, loc, std = random_batch(torch.float64, seed=3)
    z = standardize(x, loc, std)
    torch.testing.assert_close(z, (x - loc) / std, rtol=0, atol=0)
    torch.testing.assert_close(unstandardize(z, loc, std), x.expand_as(z), rtol=1e-15, atol=1e-15)


def test_dtype_policy_keeps_float32_promotes_ints_and_runs_half_in_float32() -> None:
    """float32 stays float32 with Python-number parameters, integer inputs become the default
    float dtype, and float16 comes back as float16 equal to the rounded float32 result."""
    x32 = torch.tensor([-2.0, 0.5], dtype=torch.float32)
    for fn in (normal_log_prob, normal_cdf, normal_log_cdf):
        assert fn(x32, 0.0, 1.0).dtype == torch.float32
    assert normal_kl(x32, 1.0, 0.0, 2.0).dtype == torch.float32
    assert normal_log_cdf(torch.tensor([-3, 1])).dtype == torch.get_default_dtype()
    assert normal_icdf(torch.tensor([0, 1])).dtype == torch.get_default_dtype()
    half = torch.tensor([-30.0, -3.0, 0.5, 4.0], dtype=torch.float16)
    torch.testing.assert_close(normal_log_cdf(half), normal_log_cdf(half.float()).half())
    p_half = torch.tensor([1e-7, 0.3, 0.999], dtype=torch.float16)
    torch.testing.assert_close(normal_icdf(p_half), normal_icdf(p_half.float()).half())


# --------------------------------------------------------------------------- log_cdf tails

LOG_CDF_GRID = np.concatenate([np.linspace(-1000.0, -40.0, 241), np.linspace(-40.0, 40.0, 801)])


@pytest.mark.parametrize(("dtype", "rtol"), [(torch.float64, 1e-14), (torch.float32, 1e-6)])
def test_log_cdf_and_its_gradient_match_mpmath_on_z_from_minus_1000_to_40(
    dtype: torch.dtype, rtol: float
) -> None:
    """log Phi(z) and d/dz log Phi(z) have relative error below rtol against 50-digit mpmath on
    a dense grid over [-1000, 40]; where the exact value is below the smallest normal number
    of the dtype (deep upper tail), the absolute error is below that number."""
    z = torch.tensor(LOG_CDF_GRID, dtype=dtype, requires_grad=True)
    out = normal_log_cdf(z)
    out.sum().backward()
    tiny = torch.finfo(dtype).tiny
    for values, ref_fn in [(out.detach(), mp_log_cdf), (z.grad, mp_log_cdf_derivative)]:
        assert torch.isfinite(values).all()
        for zi, v in zip(z.detach().double().tolist(), values.double().tolist(), strict=True):
            ref = ref_fn(zi)
            err = abs(mpmath.mpf(v) - ref)
            assert err <= (rtol * abs(ref) if abs(ref) >= tiny else tiny), (zi, v, ref)


@pytest.mark.parametrize("dtype", FLOATS)
def test_log_cdf_gradient_is_finite_and_correct_at_tail_points(dtype: torch.dtype) -> None:
    """The gradients of log Phi((x - loc) / std) in x, loc and std at z = -1000, -50, 0, 50 are
    finite and equal phi/Phi times -1/std and -z/std; at -1000 that is about +1000 / std,
    where the naive pdf/cdf ratio would be 0/0."""
    z_values = [-1000.0, -50.0, 0.0, 50.0]
    std = torch.full((4,), 2.0, dtype=dtype, requires_grad=True)
    loc = torch.full((4,), 0.5, dtype=dtype, requires_grad=True)
    x = (loc.detach() + std.detach() * torch.tensor(z_values, dtype=dtype)).requires_grad_()
    normal_log_cdf(x, loc, std).sum().backward()
    rtol = 1e-14 if dtype == torch.float64 else 1e-6
    for i, zi in enumerate(z_values):
        d = mp_log_cdf_derivative(zi)
        for got, ref in [(x.grad[i], d / 2), (loc.grad[i], -d / 2), (std.grad[i], -d * zi / 2)]:
            assert torch.isfinite(got)
            assert abs(mpmath.mpf(got.item()) - ref) <= rtol * abs(ref) + 1e-300
    assert x.grad[0].item() == pytest.approx(500.0, rel=1e-5)


def test_log_cdf_at_minus_1000_has_the_asymptotic_value() -> None:
    """log Phi(-1000) = -500000 - log(1000) - log(2 pi)/2 + log(1 - 1/1000^2 + ...)."""
    asymptotic = -500000.0 - math.log(1000.0) - 0.5 * math.log(2 * math.pi) - 1e-6
    got = normal_log_cdf(torch.tensor(-1000.0, dtype=torch.float64)).item()
    assert got == pytest.approx(asymptotic, rel=1e-15)


@pytest.mark.parametrize("dtype", FLOATS)
def test_infinite_inputs_give_exact_limits_and_no_nan_gradient(dtype: torch.dtype) -> None:
    """log Phi(-inf) = -inf, log Phi(+inf) = 0, Phi(-inf) = 0, Phi(+inf) = 1; the gradients
    there are 0 rather than NaN (so masking such entries leaves other gradients clean), and a
    NaN input gives a NaN output."""
    z = torch.tensor([-math.inf, math.inf], dtype=dtype, requires_grad=True)
    log_cdf = normal_log_cdf(z)
    assert log_cdf.tolist() == [-math.inf, 0.0]
    assert normal_cdf(z).tolist() == [0.0, 1.0]
    (grad,) = torch.autograd.grad(log_cdf[1] + normal_cdf(z).sum(), z)
    assert grad.tolist() == [0.0, 0.0]
    assert torch.isnan(normal_log_cdf(torch.tensor(math.nan, dtype=dtype)))


# --------------------------------------------------------------------------- icdf tails


def test_icdf_matches_mpmath_in_float64_from_1e_minus_300_to_1_minus_1e_minus_16() -> None:
    """The float64 quantile has relative error below 1e-15 against mpmath for p = 10^-k,
    k in [1, 300], p = the smallest subnormal, and p = 1 - 10^-k (rounded), k up to 16."""
    decades = torch.logspace(-300, -1, 150, dtype=torch.float64)
    extremes = torch.tensor([5e-324, 2.2250738585072014e-308], dtype=torch.float64)
    upper = 1.0 - torch.logspace(-16, -1, 31, dtype=torch.float64)
    assert (upper < 1).all()
    p = torch.cat([decades, extremes, upper])
    out = normal_icdf(p)
    assert max_rel_err(out, [mp_quantile(v) for v in p.tolist()]) < 1e-15


def test_icdf_matches_mpmath_in_float32_over_its_range() -> None:
    """The float32 quantile has relative error below 5e-7 against mpmath for p = 10^-k,
    k in [1, 44], and p = 1 - 10^-k (rounded to float32), k up to 7."""
    lower = torch.logspace(-44, -1, 87, dtype=torch.float64).float()
    upper = (1.0 - torch.logspace(-7, -1, 13, dtype=torch.float64)).float()
    p = torch.cat([lower, upper[upper < 1]])
    out = normal_icdf(p)
    assert out.dtype == torch.float32
    assert max_rel_err(out, [mp_quantile(v) for v in p.double().tolist()]) < 5e-7


def test_icdf_near_one_half_keeps_relative_accuracy() -> None:
    """For p = 1/2 +- 1e-10 the quantile (about +-2.5e-10) still has relative error < 1e-15,
    and p = 1/2 gives exactly 0."""
    p = torch.tensor([0.5 - 1e-10, 0.5 + 1e-10, 0.5 - 1e-7], dtype=torch.float64)
    assert max_rel_err(normal_icdf(p), [mp_quantile(v) for v in p.tolist()]) < 1e-15
    assert normal_icdf(torch.tensor(0.5, dtype=torch.float64)).item() == 0.0


def test_icdf_endpoints_are_exact_infinities_scaled_by_loc_and_std() -> None:
    """p = 0 gives -inf and p = 1 gives +inf exactly; loc + std * z for interior p."""
    out = normal_icdf(torch.tensor([0.0, 1.0, 0.975], dtype=torch.float64), 3.0, 2.0)
    assert out[0].item() == -math.inf
    assert out[1].item() == math.inf
    assert out[2].item() == pytest.approx(3.0 + 2.0 * float(mp_quantile(0.975)), rel=1e-15)


@pytest.mark.parametrize("bad", [-1e-12, 1.0 + 1e-12, math.nan, -math.inf])
def test_icdf_rejects_p_outside_unit_interval_naming_p(bad: float) -> None:
    """A p outside [0, 1] (or NaN) raises ValueError naming p and the value; validate=False
    skips the check and gives NaN there instead."""
    p = torch.tensor([0.5, bad], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\].*p = "):
        normal_icdf(p)
    assert torch.isnan(normal_icdf(p, validate=False)[1])


def test_icdf_gradient_is_finite_and_equals_inverse_pdf_in_the_far_tails() -> None:
    """d/dp Phi^-1(p) = 1 / phi(z): finite and within 1e-12 relative of mpmath at p = 1e-300,
    1e-200, 1e-20 and 1 - 1e-15, where it is as large as 3e298."""
    p = torch.tensor([1e-300, 1e-200, 1e-20, 1 - 1e-15], dtype=torch.float64, requires_grad=True)
    normal_icdf(p).sum().backward()
    ref = [1 / mpmath.npdf(mp_quantile(v)) for v in p.detach().tolist()]
    assert torch.isfinite(p.grad).all()
    assert max_rel_err(p.grad, ref) < 1e-12


# --------------------------------------------------------------------------- KL


def kl_cases(dtype: torch.dtype, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(near, far) rows of (loc_p, std_p, loc_q, std_q): near pairs differ by ~1e-9 (float64)
    or ~1e-6 (float32) relative; far pairs have std ratios up to 1e+-10 and loc gaps up to
    1e5 std, plus a float64 pair whose std ratio 1e-400 underflows."""
    rng = np.random.default_rng(seed)
    eps = 1e-9 if dtype == torch.float64 else 1e-6
    near, far = [], []
    for _ in range(60):
        s = 10 ** rng.uniform(-3, 3)
        loc = 10 * s * rng.normal()
        near.append((loc, s, loc + eps * s * rng.normal(), s * (1 + eps * rng.normal())))
        far.append((loc, s, 1e5 * s * rng.normal(), s * 10 ** rng.uniform(-10, 10)))
    far.append((0.0, 1e-200, 1.0, 1e200) if dtype == torch.float64 else (0.0, 1e-20, 1.0, 1e20))
    return torch.tensor(near, dtype=dtype), torch.tensor(far, dtype=dtype)


@pytest.mark.parametrize(("dtype", "rtol"), [(torch.float64, 1e-14), (torch.float32, 1e-6)])
def test_kl_relative_error_is_small_for_nearly_identical_and_wildly_different_pairs(
    dtype: torch.dtype, rtol: float
) -> None:
    """KL(N(loc_p, std_p^2) || N(loc_q, std_q^2)) has relative error below rtol against
    60-digit mpmath both for pairs differing by 1e-9 (KL ~ 1e-18) and for far-apart pairs."""
    for rows in kl_cases(dtype, seed=4):
        out = normal_kl(*rows.unbind(-1))
        assert out.dtype == dtype
        ref = [mp_kl(*row) for row in rows.double().tolist()]
        assert max_rel_err(out, ref) < rtol


# --------------------------------------------------------------------------- gradcheck


def test_gradcheck_float64_for_every_kernel_at_moderate_values() -> None:
    """Analytic gradients agree with finite differences (torch.autograd.gradcheck, float64)
    for every kernel, and the custom log_cdf backward also passes gradgradcheck."""
    g = torch.Generator().manual_seed(5)

    def arg(*shape: int, low: float = -2.0, high: float = 2.0) -> torch.Tensor:
        u = torch.rand(*shape, generator=g, dtype=torch.float64)
        return (low + (high - low) * u).requires_grad_()

    x, loc, std = arg(3, 1), arg(1, 4), arg(4, low=0.5, high=2.0)
    z = torch.tensor([-30.0, -6.0, -0.5, 0.0, 0.7, 5.0], dtype=torch.float64, requires_grad=True)
    p = arg(4, low=0.02, high=0.98)
    std_q = arg(3, 1, low=0.5, high=2.0)
    std_near = std_q.detach() * (1 + 1e-3 * torch.randn(3, 4, generator=g, dtype=torch.float64))
    checks = [
        (normal_log_prob, (x, loc, std)),
        (normal_cdf, (x, loc, std)),
        (normal_log_cdf, (x, loc, std)),
        (normal_log_cdf, (z,)),
        (normal_icdf, (p, loc, std)),
        (standardize, (x, loc, std)),
        (unstandardize, (x, loc, std)),
        (normal_kl, (x, std, loc, std_q)),
        (normal_kl, (x, std_near.requires_grad_(), loc, std_q)),
    ]
    for fn, args in checks:
        assert torch.autograd.gradcheck(fn, args), fn.__name__
    assert torch.autograd.gradgradcheck(normal_log_cdf, (z,))


def test_log_cdf_works_under_vmap_and_functional_grad() -> None:
    """torch.func.vmap(torch.func.grad(log Phi)) gives phi/Phi elementwise."""
    z = torch.tensor([-200.0, -1.0, 0.0, 3.0], dtype=torch.float64)
    got = torch.func.vmap(torch.func.grad(normal_log_cdf))(z)
    ref = [mp_log_cdf_derivative(v) for v in z.tolist()]
    assert max_rel_err(got, ref) < 1e-14


# --------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0, exclude_min=True, exclude_max=True))
def test_cdf_inverts_icdf(p: float) -> None:
    """Phi(Phi^-1(p)) = p up to the conditioning of Phi at z: Phi amplifies a relative error
    in z by |z phi(z) / Phi(z)| <= z^2 + 1, and z carries about one ulp from icdf and half an
    ulp from cdf's own rounding of z / sqrt(2), so the relative error is at most
    (8 + 2 z^2) * 2^-52."""
    pt = torch.tensor(p, dtype=torch.float64)
    z = normal_icdf(pt)
    back = normal_cdf(z).item()
    assert abs(back - p) <= (8 + 2 * z.item() ** 2) * 2.0**-52 * p


positive = st.floats(min_value=1e-6, max_value=1e6)
location = st.floats(min_value=-1e6, max_value=1e6)


@settings(max_examples=200, deadline=None)
@given(location, positive, location, positive)
def test_kl_is_nonnegative_and_zero_exactly_at_equal_arguments(
    loc_p: float, std_p: float, loc_q: float, std_q: float
) -> None:
    """KL(p || q) >= 0 for any pair and KL(p || p) == 0 exactly."""
    args = [torch.tensor(v, dtype=torch.float64) for v in (loc_p, std_p, loc_q, std_q)]
    assert normal_kl(*args).item() >= 0.0
    assert normal_kl(args[0], args[1], args[0], args[1]).item() == 0.0
