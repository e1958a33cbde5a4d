"""Tests for gausslab.diffusion.schedule.Schedule.

References are computed independently here (numpy / mpmath from the published formulas) or
taken from diffusers, whose tables are 0-based (index i = paper t - 1) and float32.
"""

from __future__ import annotations

import inspect
import math
import warnings

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gausslab.diffusion.schedule import Schedule

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from diffusers import DDIMScheduler, DDPMScheduler

EPS32 = 2.0**-23  # float32 machine epsilon: diffusers builds its tables in float32

TABLES = (
    "betas",
    "alphas",
    "alphas_cumprod",
    "one_minus_alphas_cumprod",
    "snr",
    "log_snr",
    "sigmas",
)


def all_schedules() -> list[Schedule]:
    base = [
        Schedule.linear(),
        Schedule.scaled_linear(),
        Schedule.cosine(),
        Schedule.sigmoid(),
        Schedule.cosine(T=20, s=0.0, max_beta=1.0),
        Schedule.from_betas([0.5, 0.5, 1.0]),
        Schedule.linear(T=1),
    ]
    return base + [s.rescale_zero_terminal_snr() for s in base if s.T >= 2]


SCHEDULES = all_schedules()


# --------------------------------------------------------------------------- against diffusers

# (diffusers beta_schedule, extra config, our constructor)
DIFFUSERS_CASES = [
    ("linear", {}, lambda T: Schedule.linear(T)),
    (
        "scaled_linear",
        {"beta_start": 0.00085, "beta_end": 0.012},
        lambda T: Schedule.scaled_linear(T),
    ),
    ("squaredcos_cap_v2", {}, lambda T: Schedule.cosine(T, s=0.008, max_beta=0.999)),
    ("sigmoid", {}, lambda T: Schedule.sigmoid(T)),
]


@pytest.mark.parametrize("T", [1000, 50])
@pytest.mark.parametrize(
    ("name", "extra", "make"), DIFFUSERS_CASES, ids=[c[0] for c in DIFFUSERS_CASES]
)
def test_tables_match_diffusers(T, name, extra, make):
    """betas[1:] and alphas_cumprod[1:] equal DDPMScheduler's (0-based, float32) tables.

    Tolerances from float32 error propagation: each float32 beta is within a few ulps
    (4 eps32 relative) of the exact value; the factor 1 - beta_s then has relative error about
    eps32 (1 + beta_s / (1 - beta_s)) (large only when beta_s is near 1, e.g. the cosine cap),
    and a cumulative product adds these up, plus one eps32 per multiplication.
    """
    d = DDPMScheduler(num_train_timesteps=T, beta_schedule=name, **extra)
    ours = make(T)
    assert ours.T == T and ours.betas.shape == (T + 1,)
    torch.testing.assert_close(ours.betas[1:], d.betas.double(), rtol=4 * EPS32, atol=0)
    b = ours.betas[1:]
    rel_bound = torch.cumsum(EPS32 * (2 + 4 * b / (1 - b)), dim=0)
    abar = ours.alphas_cumprod[1:]
    rel_err = (d.alphas_cumprod.double() - abar).abs() / abar
    assert bool((rel_err <= rel_bound).all()), (rel_err / rel_bound).max()


@pytest.mark.parametrize("T", [1000, 50])
@pytest.mark.parametrize(
    ("name", "extra", "make"), DIFFUSERS_CASES, ids=[c[0] for c in DIFFUSERS_CASES]
)
def test_zero_terminal_snr_matches_diffusers(T, name, extra, make):
    """rescale_zero_terminal_snr() equals diffusers' rescale_betas_zero_snr=True.

    diffusers forms beta'_t = 1 - abar'_t / abar'_{t-1} from float32 values after subtracting
    sqrt(abar_T), so its betas carry an absolute (not relative) error of tens of eps32: we
    compare betas with atol 64 eps32 and abar with rtol T eps32 plus atol 16 eps32. The exact
    check of the algorithm is test_zero_terminal_snr_algorithm (float64, rtol 1e-12).
    """
    d = DDPMScheduler(
        num_train_timesteps=T, beta_schedule=name, rescale_betas_zero_snr=True, **extra
    )
    ours = make(T).rescale_zero_terminal_snr()
    torch.testing.assert_close(ours.betas[1:], d.betas.double(), rtol=0, atol=64 * EPS32)
    torch.testing.assert_close(
        ours.alphas_cumprod[1:], d.alphas_cumprod.double(), rtol=T * EPS32, atol=16 * EPS32
    )
    assert ours.alphas_cumprod[T] == 0 and d.alphas_cumprod[-1] == 0


@pytest.mark.parametrize(
    ("name", "extra", "make"), DIFFUSERS_CASES, ids=[c[0] for c in DIFFUSERS_CASES]
)
@pytest.mark.parametrize("rescale", [False, True])
def test_from_diffusers_config(name, extra, make, rescale):
    """from_diffusers_config(scheduler.config) builds the same schedule as our constructor."""
    d = DDPMScheduler(
        num_train_timesteps=100, beta_schedule=name, rescale_betas_zero_snr=rescale, **extra
    )
    ours = Schedule.from_diffusers_config(d.config)
    expected = make(100)
    if rescale:
        expected = expected.rescale_zero_terminal_snr()
    assert torch.equal(ours.betas, expected.betas)
    assert ours.T == 100 and ours.kind == expected.kind


def test_from_diffusers_config_defaults_and_trained_betas():
    """Missing keys take diffusers' defaults; trained_betas overrides beta_schedule."""
    assert torch.equal(Schedule.from_diffusers_config({}).betas, Schedule.linear().betas)
    cfg = {"beta_schedule": "scaled_linear", "num_train_timesteps": 10}
    assert torch.equal(
        Schedule.from_diffusers_config(cfg).betas, Schedule.scaled_linear(10, 1e-4, 0.02).betas
    )
    trained = [0.1, 0.2, 0.3]
    s = Schedule.from_diffusers_config(
        {"num_train_timesteps": 3, "beta_schedule": "linear", "trained_betas": trained}
    )
    assert s.betas.tolist() == [0.0, *trained]


SPACING_STEPS = {
    1000: [1, 2, 3, 7, 10, 16, 25, 48, 50, 61, 100, 103, 250, 333, 500, 999, 1000],
    37: list(range(1, 38)),
}


@pytest.mark.parametrize("spacing", ["trailing", "leading", "linspace"])
@pytest.mark.parametrize("T", [1000, 37])
def test_timesteps_match_ddim(spacing, T):
    """timesteps(steps, spacing) == DDIMScheduler.set_timesteps(steps).timesteps + 1.

    Documented difference: for "trailing" diffusers' float arange sometimes yields steps + 1
    entries, the extra one being the invalid 0-based timestep -1; we return exactly `steps`.
    """
    sched = Schedule.linear(T)
    ddim = DDIMScheduler(num_train_timesteps=T, timestep_spacing=spacing)
    assert ddim.config.steps_offset == 0
    for steps in SPACING_STEPS[T]:
        ddim.set_timesteps(steps)
        ref = ddim.timesteps.to(torch.int64)
        ours = sched.timesteps(steps, spacing)
        assert ours.dtype == torch.int64 and ours.shape == (steps,)
        assert torch.equal(ours, ref[:steps] + 1), (steps, ours, ref)
        extra = ref[steps:]
        assert spacing == "trailing" or extra.numel() == 0
        assert (extra == -1).all()
        assert bool((ours[1:] < ours[:-1]).all()), "strictly descending"
        assert int(ours.min()) >= 1 and int(ours.max()) <= T


def test_trailing_has_extra_diffusers_entry_somewhere():
    """The documented diffusers quirk is real (T=1000, steps=61), so the difference matters."""
    ddim = DDIMScheduler(num_train_timesteps=1000, timestep_spacing="trailing")
    ddim.set_timesteps(61)
    assert len(ddim.timesteps) == 62 and int(ddim.timesteps[-1]) == -1
    assert Schedule.linear().timesteps(61).shape == (61,)


def test_timesteps_default_is_trailing_and_starts_at_T():
    """The default spacing starts the reverse chain at t = T; all steps gives T, T-1, ..., 1."""
    s = Schedule.linear(1000)
    for steps in (1, 3, 10, 50, 1000):
        ts = s.timesteps(steps)
        assert torch.equal(ts, s.timesteps(steps, "trailing"))
        assert int(ts[0]) == 1000
    assert torch.equal(s.timesteps(1000), torch.arange(1000, 0, -1))
    assert torch.equal(s.timesteps(10), torch.arange(1000, 0, -100))
    assert torch.equal(s.timesteps(10, "leading"), torch.arange(901, 0, -100))
    assert s.timesteps(1, "linspace").tolist() == [1]


# --------------------------------------------------------------------------- published formulas


def test_ddpm_linear_published():
    """DDPM linear schedule, T=1000: abar_T = prod(1 - linspace(1e-4, 0.02, 1000)) ~ 4.04e-5."""
    s = Schedule.linear()
    betas = np.linspace(1e-4, 0.02, 1000)
    abar = np.cumprod(1.0 - betas)
    np.testing.assert_allclose(s.betas[1:].numpy(), betas, rtol=1e-14, atol=0)
    np.testing.assert_allclose(s.alphas_cumprod[1:].numpy(), abar, rtol=1e-12, atol=0)
    assert abs(s.alphas_cumprod[1000].item() - 4.04e-5) < 0.005e-5
    assert s.betas[1].item() == 1e-4 and s.betas[1000].item() == pytest.approx(0.02, rel=1e-15)


def test_scaled_linear_formula():
    """beta_t = (sqrt(b0) + (sqrt(b1) - sqrt(b0)) (t-1)/(T-1))^2 (latent diffusion)."""
    T = 1000
    ref = np.linspace(0.00085**0.5, 0.012**0.5, T) ** 2
    np.testing.assert_allclose(Schedule.scaled_linear(T).betas[1:].numpy(), ref, rtol=1e-14)


def test_sigmoid_formula():
    """beta_t = b0 + (b1 - b0) / (1 + exp(-x_t)), x = linspace(-6, 6, T) (GeoDiff)."""
    x = np.linspace(-6, 6, 300)
    ref = 1e-4 + (0.02 - 1e-4) / (1 + np.exp(-x))
    np.testing.assert_allclose(Schedule.sigmoid(300).betas[1:].numpy(), ref, rtol=1e-14)


@pytest.mark.parametrize(("T", "s"), [(1000, 0.008), (100, 0.0), (10, 0.3)])
def test_cosine_against_mpmath(T, s):
    """Improved DDPM cosine: abar_t = f(t)/f(0), f(t) = cos(((t/T + s)/(1+s)) pi/2)^2, and
    beta_t = min(1 - abar_t/abar_{t-1}, 0.999); evaluated here with mpmath at 40 digits."""
    mpmath.mp.dps = 40
    s_mp = mpmath.mpf(s)

    def f(t):
        return mpmath.cos((mpmath.mpf(t) / T + s_mp) / (1 + s_mp) * mpmath.pi / 2) ** 2

    fs = [f(t) for t in range(T + 1)]
    betas = [min(1 - fs[t] / fs[t - 1], mpmath.mpf("0.999")) for t in range(1, T + 1)]
    abar = [mpmath.mpf(1)]
    for b in betas:
        abar.append(abar[-1] * (1 - b))
    ours = Schedule.cosine(T, s=s)
    np.testing.assert_allclose(ours.betas[1:].numpy(), np.array(betas, dtype=float), rtol=1e-13)
    np.testing.assert_allclose(ours.alphas_cumprod.numpy(), np.array(abar, dtype=float), rtol=1e-12)
    # Uncapped steps follow f(t)/f(0) itself.
    uncapped = [t for t in range(T + 1) if all(float(b) < 0.999 for b in betas[:t])]
    ref = np.array([fs[t] / fs[0] for t in uncapped], dtype=float)
    np.testing.assert_allclose(ours.alphas_cumprod[uncapped].numpy(), ref, rtol=1e-12)
    assert ours.betas[T].item() == 0.999  # f(T) = 0: the cap bites at the last step


def test_cosine_uncapped_has_exact_zero_terminal_snr():
    """With max_beta = 1, f(T) = 0 gives beta_T = 1 exactly and abar_T = 0."""
    s = Schedule.cosine(50, max_beta=1.0)
    assert s.betas[50] == 1.0 and s.alphas_cumprod[50] == 0.0
    assert s.sigmas[50] == math.inf and s.log_snr[50] == -math.inf


def test_zero_terminal_snr_algorithm():
    """Lin et al. 2023 Alg. 1 in float64 numpy: r' = (r - r_T) r_1 / (r_1 - r_T), r = sqrt(abar)."""
    for base in (Schedule.linear(), Schedule.scaled_linear(50), Schedule.cosine(200)):
        r = np.sqrt(np.cumprod(1.0 - base.betas[1:].numpy()))
        r_new = (r - r[-1]) * r[0] / (r[0] - r[-1])
        abar = r_new**2
        out = base.rescale_zero_terminal_snr()
        np.testing.assert_allclose(out.alphas_cumprod[1:].numpy(), abar, rtol=1e-12, atol=1e-300)
        assert out.alphas_cumprod[1] == pytest.approx(base.alphas_cumprod[1].item(), rel=1e-15)
        assert out.betas[1] == base.betas[1]
        assert out.betas[out.T] == 1.0 and out.alphas_cumprod[out.T] == 0.0
        assert out.snr[out.T] == 0.0
        assert out.log_snr[out.T] == -math.inf and out.sigmas[out.T] == math.inf
        assert out.kind.endswith("+zero_terminal_snr") and base.T == out.T


# --------------------------------------------------------------------------- invariants


def check_invariants(s: Schedule) -> None:
    T = s.T
    for name in TABLES:
        table = getattr(s, name)
        assert table.dtype == torch.float64 and table.shape == (T + 1,), name
        assert not torch.isnan(table).any(), f"NaN in {name}"
    assert s.betas[0] == 0 and s.alphas_cumprod[0] == 1 and s.alphas[0] == 1
    abar = s.alphas_cumprod
    assert bool((abar[1:] < abar[:-1]).all()), "abar strictly decreasing"
    assert bool(((s.betas[1:] > 0) & (s.betas[1:] <= 1)).all())
    torch.testing.assert_close(s.alphas, 1 - s.betas, rtol=0, atol=0)
    torch.testing.assert_close(abar + s.one_minus_alphas_cumprod, torch.ones_like(abar))
    torch.testing.assert_close(abar[1:] / abar[:-1].clamp(min=1e-300), s.alphas[1:])
    zero_terminal = bool(abar[T] == 0)
    assert zero_terminal == bool(s.betas[T] == 1)
    # +-inf only where exact: snr/log_snr at t = 0, and log_snr/sigmas at t = T if abar_T = 0.
    inner = slice(1, T if zero_terminal else T + 1)
    for name in TABLES:
        finite = torch.isfinite(getattr(s, name))
        assert bool(finite[inner].all()), name
    assert s.snr[0] == math.inf and s.log_snr[0] == math.inf and s.sigmas[0] == 0
    assert not torch.signbit(s.sigmas).any() and not torch.signbit(s.snr).any()
    if zero_terminal:
        assert s.snr[T] == 0 and s.log_snr[T] == -math.inf and s.sigmas[T] == math.inf
    # Consistency of snr, log_snr, sigmas on the finite part.
    t = torch.arange(1, T if zero_terminal else T + 1)
    torch.testing.assert_close(s.snr[t], abar[t] / (1 - abar[t]), rtol=1e-9, atol=0)
    torch.testing.assert_close(s.log_snr[t], torch.log(s.snr[t]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s.sigmas[t], s.snr[t].rsqrt(), rtol=1e-12, atol=0)
    assert bool((s.log_snr[1:] < s.log_snr[:-1]).all()), "log_snr strictly decreasing"


@pytest.mark.parametrize("s", SCHEDULES, ids=repr)
def test_invariants(s):
    """betas[0]=0, abar[0]=1, abar strictly decreasing, tables consistent, no NaN, inf only
    at the documented places."""
    check_invariants(s)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(1e-6, 0.5, allow_nan=False), min_size=2, max_size=60),
    st.booleans(),
)
def test_invariants_random_betas(betas, rescale):
    """Invariants hold for any betas in [1e-6, 0.5] and after the zero-terminal rescale."""
    s = Schedule.from_betas(betas)
    np.testing.assert_allclose(s.betas[1:].numpy(), betas, rtol=0, atol=0)
    np.testing.assert_allclose(
        s.alphas_cumprod[1:].numpy(), np.cumprod(1 - np.array(betas)), rtol=1e-13
    )
    check_invariants(s.rescale_zero_terminal_snr() if rescale else s)


def test_small_t_is_accurate():
    """1 - abar_1 = beta_1 to full relative precision (no cancellation), so snr[1] is exact."""
    s = Schedule.linear()
    assert s.one_minus_alphas_cumprod[1].item() == pytest.approx(1e-4, rel=1e-15)
    assert s.snr[1].item() == pytest.approx((1 - 1e-4) / 1e-4, rel=1e-14)


def test_from_betas_accepts_tensors_and_arrays():
    """from_betas takes lists, numpy arrays and tensors of any float dtype; repr shows kind, T."""
    ref = Schedule.from_betas([0.25, 0.5])
    for b in (np.array([0.25, 0.5]), torch.tensor([0.25, 0.5], dtype=torch.float32)):
        assert torch.equal(Schedule.from_betas(b).betas, ref.betas)
    assert repr(ref) == "Schedule(kind='custom', T=2)"
    assert repr(Schedule.linear(10)) == "Schedule(kind='linear', T=10)"


# --------------------------------------------------------------------------- check_t and coef


def test_check_t_accepts_ints_and_integer_tensors():
    s = Schedule.linear(10)
    out = s.check_t(3)
    assert out.dtype == torch.int64 and out.ndim == 0 and int(out) == 3
    assert s.check_t(np.int64(10)).item() == 10
    for dtype in (torch.int32, torch.int64, torch.uint8):
        out = s.check_t(torch.tensor([1, 10], dtype=dtype))
        assert out.dtype == torch.int64 and out.tolist() == [1, 10]
    assert s.check_t(torch.tensor(5)).shape == ()
    assert s.check_t(0, low=0).item() == 0
    assert s.check_t(torch.empty(0, dtype=torch.int64)).shape == (0,)


@pytest.mark.parametrize(
    ("t", "kwargs", "fragments"),
    [
        (1.0, {}, ["t", "1.0", "1..10"]),
        (True, {}, ["t", "True"]),
        (torch.tensor([1.0]), {}, ["t", "float32"]),
        (torch.tensor([True]), {}, ["t", "bool"]),
        (0, {}, ["t", "0", "1..10"]),
        (11, {}, ["t", "11", "1..10"]),
        (torch.tensor([2, 11]), {}, ["t", "11", "1..10"]),
        (torch.tensor([-1, 3]), {"low": 0}, ["t", "-1", "0..10"]),
        (torch.tensor([[1]]), {}, ["t", "(1, 1)"]),
        (1, {"low": 2, "name": "t_post"}, ["t_post", "1", "2..10"]),
        ("3", {}, ["t", "'3'"]),
    ],
)
def test_check_t_rejects(t, kwargs, fragments):
    """A float, bool, float tensor, badly shaped or out-of-range t is a ValueError naming the
    argument, the value received and the valid range."""
    with pytest.raises(ValueError) as err:
        Schedule.linear(10).check_t(t, **kwargs)
    for frag in fragments:
        assert frag in str(err.value)


def test_coef_shapes_dtype_and_values():
    """coef(table, t, x) = table[t] in x's dtype, shaped (B, 1, ..., 1) against x (B, *event)."""
    s = Schedule.linear(1000)
    x = torch.zeros(3, 2, 4, 4, dtype=torch.float32)
    t = torch.tensor([1, 500, 1000])
    c = s.coef(s.alphas_cumprod, t, x)
    assert c.shape == (3, 1, 1, 1) and c.dtype == torch.float32
    assert torch.equal(c.flatten(), s.alphas_cumprod[t].float())
    c64 = s.coef(s.sigmas, t, x.double())
    assert c64.dtype == torch.float64 and torch.equal(c64.flatten(), s.sigmas[t])
    c0 = s.coef(s.alphas_cumprod, 7, x)
    assert c0.shape == () and c0.item() == s.alphas_cumprod[7].float().item()
    assert s.coef(s.betas, torch.tensor([2]), x).shape == (1, 1, 1, 1)
    assert s.coef(s.betas, t, torch.zeros(3)).shape == (3,)
    assert (c * x).shape == x.shape
    assert s.coef(s.alphas_cumprod, 0, x).item() == 1.0  # t = 0 is a valid table index


def test_coef_rejects():
    s = Schedule.linear(10)
    x = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="table"):
        s.coef(torch.zeros(10), 1, x)
    with pytest.raises(ValueError, match="x"):
        s.coef(s.betas, 1, torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"t of shape \(3,\)"):
        s.coef(s.betas, torch.tensor([1, 2, 3]), x)
    with pytest.raises(ValueError, match=r"t must be in 0\.\.10"):
        s.coef(s.betas, 11, x)


# --------------------------------------------------------------------------- validation

nan, inf = math.nan, math.inf

BAD_INPUTS = [
    # (callable, argument name that the message must contain, value that it must show)
    (lambda: Schedule.linear(T=0), "T", "0"),
    (lambda: Schedule.linear(T=2.0), "T", "2.0"),
    (lambda: Schedule.cosine(T=True), "T", "True"),
    (lambda: Schedule.sigmoid(T="10"), "T", "'10'"),
    (lambda: Schedule.linear(beta_start=0.0), "beta_start", "0.0"),
    (lambda: Schedule.linear(beta_start=-1e-4), "beta_start", "-0.0001"),
    (lambda: Schedule.linear(beta_start=nan), "beta_start", "nan"),
    (lambda: Schedule.linear(beta_end=1.5), "beta_end", "1.5"),
    (lambda: Schedule.linear(beta_end=inf), "beta_end", "inf"),
    (lambda: Schedule.linear(beta_start=0.03, beta_end=0.02), "beta_start", "0.03"),
    (lambda: Schedule.scaled_linear(beta_start=0.02, beta_end=0.01), "beta_end", "0.01"),
    (lambda: Schedule.sigmoid(beta_start=-1.0), "beta_start", "-1.0"),
    (lambda: Schedule.cosine(s=-0.1), "s", "-0.1"),
    (lambda: Schedule.cosine(s=nan), "s", "nan"),
    (lambda: Schedule.cosine(max_beta=0.0), "max_beta", "0.0"),
    (lambda: Schedule.cosine(max_beta=1.5), "max_beta", "1.5"),
    (lambda: Schedule.from_betas([]), "betas", "(0,)"),
    (lambda: Schedule.from_betas([[0.1, 0.2]]), "betas", "(1, 2)"),
    (lambda: Schedule.from_betas(torch.tensor(0.1)), "betas", "()"),
    (lambda: Schedule.from_betas([0.1, 0.0]), "betas", "0.0"),
    (lambda: Schedule.from_betas([0.1, -0.2]), "betas", "-0.2"),
    (lambda: Schedule.from_betas([0.1, 1.5]), "betas", "1.5"),
    (lambda: Schedule.from_betas([0.1, nan]), "betas", "nan"),
    (lambda: Schedule.from_betas([inf]), "betas", "inf"),
    (lambda: Schedule.from_betas(["a"]), "betas", "'a'"),
    (lambda: Schedule.from_betas([1.0, 0.5]), "betas", "1.0"),  # beta = 1 before t = T
    (lambda: Schedule.from_betas([1e-20, 1e-20]), "betas", "1e-20"),  # abar not decreasing
    (lambda: Schedule.from_betas([0.9] * 400), "betas", "0.9"),  # abar underflows to 0
    (lambda: Schedule.linear(T=1).rescale_zero_terminal_snr(), "T", "1"),
    (lambda: Schedule.linear(10).timesteps(0), "steps", "0"),
    (lambda: Schedule.linear(10).timesteps(11), "steps", "11"),
    (lambda: Schedule.linear(10).timesteps(2.0), "steps", "2.0"),
    (lambda: Schedule.linear(10).timesteps(5, spacing="even"), "spacing", "'even'"),
    (
        lambda: Schedule.from_diffusers_config({"beta_schedule": "laplace"}),
        "beta_schedule",
        "laplace",
    ),
    (
        lambda: Schedule.from_diffusers_config({"num_train_timesteps": 0}),
        "num_train_timesteps",
        "0",
    ),
    (
        lambda: Schedule.from_diffusers_config({"num_train_timesteps": 3, "trained_betas": [0.1]}),
        "trained_betas",
        "1",
    ),
    (lambda: Schedule.from_diffusers_config([("beta_schedule", "linear")]), "config", "list"),
]


@pytest.mark.parametrize(("make", "name", "value"), BAD_INPUTS)
def test_bad_input_raises_value_error(make, name, value):
    """Bad input is a ValueError naming the argument and the value received."""
    with pytest.raises(ValueError) as err:
        make()
    msg = str(err.value)
    assert name in msg and value in msg, msg


# --------------------------------------------------------------------------- to diffusers


def beta_schedulers() -> list[type]:
    """Every diffusers scheduler class built on a DDPM beta schedule: it takes trained_betas
    and has alphas_cumprod (IPNDM's "betas" are another schedule's)."""
    import diffusers

    classes = []
    for name in dir(diffusers.schedulers):
        if not name.endswith("Scheduler"):
            continue
        try:
            cls = getattr(diffusers.schedulers, name)
        except (AttributeError, ImportError):  # an optional dependency (torchsde...) missing
            continue
        if (
            isinstance(cls, type)
            and issubclass(cls, diffusers.SchedulerMixin)
            and "trained_betas" in inspect.signature(cls.__init__).parameters
            and cls.__name__ != "IPNDMScheduler"
        ):
            classes.append(cls)
    return classes


BETA_SCHEDULERS = beta_schedulers()


def test_there_are_many_beta_schedulers():
    """The sweep below is not vacuous: DDPM, DDIM, Euler, DPM-Solver, UniPC, Heun... are in."""
    names = {cls.__name__ for cls in BETA_SCHEDULERS}
    assert len(names) >= 15
    assert {"DDPMScheduler", "EulerDiscreteScheduler", "UniPCMultistepScheduler"} <= names


@pytest.mark.parametrize("cls", BETA_SCHEDULERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "schedule",
    [Schedule.cosine(50), Schedule.linear(40, 1e-3, 0.3).rescale_zero_terminal_snr()],
    ids=["cosine", "custom-zero-snr"],
)
def test_every_diffusers_scheduler_reproduces_the_tables(cls, schedule):
    """cls.from_config(schedule.to_diffusers_config()).alphas_cumprod equals
    schedule.alphas_cumprod[1:] to float32 (diffusers' dtype), for every diffusers scheduler
    built on betas; at zero terminal SNR the last entry is 0 or diffusers' stand-in 2^-24."""
    config = schedule.to_diffusers_config()
    parameters = inspect.signature(cls.__init__).parameters
    if "snr_shift_scale" in parameters:  # CogVideoX: documented, shifts the SNR by default
        config["snr_shift_scale"] = 1.0
    if cls.__name__ == "RePaintScheduler":  # documented: reads trained_betas as numpy only
        config["trained_betas"] = np.asarray(config["trained_betas"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = cls.from_config(config)
    ours = schedule.alphas_cumprod[1:]
    theirs = scheduler.alphas_cumprod.double()
    last = -1 if schedule.alphas_cumprod[-1] == 0 else None
    torch.testing.assert_close(theirs[:last], ours[:last], rtol=schedule.T * EPS32, atol=4 * EPS32)
    if last is not None:
        assert float(theirs[-1]) in (0.0, 2.0**-24)


def test_diffusers_config_sets_gausslabs_sampling_conventions():
    """DDIM from the config visits schedule.timesteps(n) - 1 (trailing spacing), does not
    clip x0, and from_diffusers_config inverts it."""
    schedule = Schedule.scaled_linear(100)
    config = schedule.to_diffusers_config()
    ddim = DDIMScheduler.from_config(config)
    for n in (1, 7, 10, 100):
        ddim.set_timesteps(n)
        assert torch.equal(ddim.timesteps + 1, schedule.timesteps(n))
    assert ddim.config.clip_sample is False and ddim.config.prediction_type == "epsilon"
    back = Schedule.from_diffusers_config(config)
    torch.testing.assert_close(back.betas, schedule.betas, rtol=0, atol=0)
    zero = Schedule.cosine(20).rescale_zero_terminal_snr()
    assert zero.to_diffusers_config()["rescale_betas_zero_snr"] is True
    back = Schedule.from_diffusers_config(zero.to_diffusers_config())  # rescales again: a no-op
    torch.testing.assert_close(back.betas, zero.betas, rtol=1e-14, atol=1e-15)
