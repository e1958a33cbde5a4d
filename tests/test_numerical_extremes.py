"""Numerical extremes against mpmath at 50 digits: tails, tiny and huge scales, nearly equal
and wildly different pairs, ill-conditioned covariances, schedules at abar -> 0 and 1.

Every reference is computed by mpmath from the exact binary value of each float input, so
the error measured is the library's alone. Relative error is |computed - exact| / |exact|,
with |exact| floored at the dtype's smallest normal number (below it only an absolute error
of one subnormal step is meaningful). Each test prints its worst error (run with -s).

Tolerances for ill-conditioned covariances are derived, not tuned: a backward-stable
Cholesky of S yields the factor of S + E with |E| <= c d eps |S| (Higham, Thm 10.3), which
moves S^{-1} by a relative ~ cond(S) d eps; we allow 8 d cond(S) eps (c = 8 covers the
triangular solves on top), i.e. "correct to about cond * eps".
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

from gausslab import Gaussian, kl_divergence
from gausslab.diffusion import Diffusion, Schedule
from gausslab.functional import normal_icdf, normal_log_cdf

F64, F32 = torch.float64, torch.float32
DPS = 50
mp = mpmath.mp


def rel_error(computed: float, exact: mpmath.mpf, dtype: torch.dtype) -> float:
    """|computed - exact| / max(|exact|, smallest normal of dtype), in double precision."""
    floor = mpmath.mpf(torch.finfo(dtype).tiny)
    return float(abs(mpmath.mpf(computed) - exact) / max(abs(exact), floor))


def worst(errors: list[float], label: str) -> float:
    value = max(errors)
    print(f"\n[worst relative error] {label}: {value:.3e}")
    return value


# ---------------------------------------------------------------------- log Phi, Phi^{-1}
Z_GRID = sorted(
    {float(z) for z in torch.linspace(-1000.0, 40.0, 157, dtype=F64)}
    | {-(10.0**k) for k in range(-3, 4)}
    | {10.0**k for k in range(-3, 2)}
    | {37.5, 38.0, 38.5, 39.0, 0.0}
)


@pytest.mark.parametrize(("dtype", "bound"), [(F64, 1e-14), (F32, 1e-6)])
def test_normal_log_cdf_matches_mpmath_from_minus_1000_to_40(dtype, bound):
    """log Phi(z) over z in [-1000, 40] keeps the documented relative accuracy (1e-14 in
    float64, 1e-6 in float32), in the lower tail (values near -z^2/2) and in the upper tail
    (values near -Phi(-z), down to underflow)."""
    z = torch.tensor(Z_GRID, dtype=dtype)
    computed = normal_log_cdf(z).tolist()
    errors = []
    with mpmath.workdps(DPS):
        for zi, ci in zip(z.tolist(), computed, strict=True):
            # log1p(-Phi(-z)) above 0: Phi(37) = 1 - 6e-300 would round to 1 at 50 digits.
            z_mp = mpmath.mpf(zi)
            exact = mpmath.log1p(-mpmath.ncdf(-z_mp)) if zi > 0 else mpmath.log(mpmath.ncdf(z_mp))
            errors.append(rel_error(ci, exact, dtype))
    assert worst(errors, f"normal_log_cdf {dtype}") < bound


def _log_spaced(lo: float, hi: float, n: int) -> list[float]:
    return [float(10.0**e) for e in torch.linspace(math.log10(lo), math.log10(hi), n, dtype=F64)]


P_GRID = sorted(
    set(_log_spaced(1e-300, 0.49, 120))
    | {1.0 - q for q in _log_spaced(1.2e-16, 0.49, 60)}
    | {5e-324, 1e-320, 0.25, 0.75}
)


def _exact_quantile(p: float) -> mpmath.mpf:
    """z with Phi(z) = p, by Newton on log Phi(z) - log p at 50 digits."""
    p_exact = mpmath.mpf(p)
    start = mpmath.mpf(float(torch.special.ndtri(torch.tensor(p, dtype=F64))))
    return mpmath.findroot(lambda z: mpmath.log(mpmath.ncdf(z)) - mpmath.log(p_exact), start)


@pytest.mark.parametrize(("dtype", "bound"), [(F64, 1e-15), (F32, 5e-7)])
def test_normal_icdf_matches_mpmath_from_1e_300_to_1_minus_1e_16(dtype, bound):
    """Phi^{-1}(p) for p from 1e-300 (and subnormals) to 1 - 1e-16 has the documented
    relative accuracy: 1e-15 in float64; 5e-7 in float32 over the p float32 can hold
    (p >= 1e-38 and p <= 1 - 6e-8). p = 0.5 (z = 0) is left out: relative error is
    undefined there."""
    if dtype == F32:
        grid = [p for p in P_GRID if 1e-38 <= p <= 1 - 6e-8 and p != 0.5]
    else:
        grid = [p for p in P_GRID if p != 0.5]
    p = torch.tensor(grid, dtype=dtype)
    computed = normal_icdf(p).tolist()
    errors = []
    with mpmath.workdps(DPS):
        for pi, ci in zip(p.tolist(), computed, strict=True):
            errors.append(rel_error(ci, _exact_quantile(pi), dtype))
    assert worst(errors, f"normal_icdf {dtype}") < bound


# ---------------------------------------------------------------------- log_prob far out
def _mp_log_density(x: list[float], mu: list[float], cov: list[list[float]]) -> mpmath.mpf:
    """log N(x; mu, cov) at 50 digits from the exact float entries."""
    d = len(x)
    s = mpmath.matrix(cov)
    r = mpmath.matrix([mpmath.mpf(a) - mpmath.mpf(b) for a, b in zip(x, mu, strict=True)])
    quad = (r.T * mpmath.lu_solve(s, r))[0, 0]
    return -(quad + d * mpmath.log(2 * mpmath.pi) + mpmath.log(mpmath.det(s))) / 2


@pytest.mark.parametrize("structure", ["univariate", "isotropic", "diagonal", "dense"])
def test_log_prob_far_from_the_mean_is_finite_and_exact(structure):
    """log p(x) at |z| up to 1e6 standard deviations is finite and within 1e-12 relative of
    the 50-digit value (float64), for every covariance structure."""
    mu = [0.3, -1.7]
    std = [0.5, 2.0]
    if structure == "univariate":
        g = Gaussian.univariate(torch.tensor(mu[0], dtype=F64), std[0])
        cov = [[std[0] ** 2]]
        mu = mu[:1]
    elif structure == "isotropic":
        g = Gaussian.isotropic(torch.tensor(mu, dtype=F64), std[0])
        cov = [[std[0] ** 2, 0.0], [0.0, std[0] ** 2]]
    elif structure == "diagonal":
        g = Gaussian.diagonal(torch.tensor(mu, dtype=F64), torch.tensor(std, dtype=F64))
        cov = [[std[0] ** 2, 0.0], [0.0, std[1] ** 2]]
    else:
        cov = [[1.0, 0.6], [0.6, 2.0]]
        g = Gaussian(torch.tensor(mu, dtype=F64), torch.tensor(cov, dtype=F64))
    errors = []
    with mpmath.workdps(DPS):
        for z in (1.0, 1e2, 1e4, 1e5, 1e6, -1e6):
            x = [m + z * s for m, s in zip(mu, std, strict=False)]
            value = g.log_prob(torch.tensor(x if len(mu) > 1 else x[0], dtype=F64))
            assert torch.isfinite(value)
            errors.append(rel_error(float(value), _mp_log_density(x, mu, cov), F64))
    assert worst(errors, f"Gaussian.log_prob far out, {structure}") < 1e-12


# ---------------------------------------------------------------------- KL
def _forward_solve(lower: list[list[float]], rhs: list[list[mpmath.mpf]]) -> list[list]:
    """X with L X = rhs, L lower triangular, by forward substitution in mpmath (no pivoting
    tolerance: entries of 1e-100 are fine)."""
    d, k = len(lower), len(rhs[0])
    x = [[mpmath.mpf(0)] * k for _ in range(d)]
    for i in range(d):
        for c in range(k):
            total = mpmath.mpf(rhs[i][c]) - sum(mpmath.mpf(lower[i][j]) * x[j][c] for j in range(i))
            x[i][c] = total / mpmath.mpf(lower[i][i])
    return x


def _mp_kl(mu_p, tril_p, mu_q, tril_q) -> mpmath.mpf:
    """KL(N(mu_p, Lp Lp^T) || N(mu_q, Lq Lq^T)) at 50 digits from the exact float factors:
    1/2 (|Lq^{-1} Lp|_F^2 + |Lq^{-1} (mu_p - mu_q)|^2 - d + 2 sum log(Lq_ii / Lp_ii))."""
    d = len(tril_p)
    m = _forward_solve(tril_q, tril_p)
    delta = _forward_solve(
        tril_q, [[mpmath.mpf(a) - mpmath.mpf(b)] for a, b in zip(mu_p, mu_q, strict=True)]
    )
    frob = sum(m[i][j] ** 2 for i in range(d) for j in range(d))
    mean_sq = sum(row[0] ** 2 for row in delta)
    log_det_ratio = 2 * sum(mpmath.log(mpmath.mpf(tril_q[i][i]) / tril_p[i][i]) for i in range(d))
    return (frob + mean_sq - d + log_det_ratio) / 2


def _random_tril(d: int, generator: torch.Generator) -> torch.Tensor:
    a = torch.randn(d, d, dtype=F64, generator=generator).tril(-1) * 0.3
    return a + torch.diag(torch.rand(d, dtype=F64, generator=generator) + 0.5)


@pytest.mark.parametrize("relative_gap", [1e-4, 1e-6, 1e-8])
@pytest.mark.parametrize("structure", ["diagonal", "dense"])
def test_kl_between_nearly_identical_gaussians(structure, relative_gap):
    """KL(p || q) with q a relative perturbation delta of p (KL ~ delta^2) keeps its digits.

    Bound: diagonal pairs are elementwise normal_kl, documented to 1e-14. Dense pairs solve
    M = Lq^{-1} Lp, whose off-diagonal entries (~delta) come out of a sum of O(1) terms,
    so each carries an absolute error ~ d eps, a relative d eps / delta; KL (a sum of
    squares of such entries) inherits twice that. Allowed: 4 d eps / delta + 1e-14."""
    d = 4
    generator = torch.Generator().manual_seed(7)
    mu_p = torch.randn(d, dtype=F64, generator=generator)
    mu_q = mu_p * (1 + relative_gap)
    if structure == "diagonal":
        std_p = torch.rand(d, dtype=F64, generator=generator) + 0.5
        std_q = std_p * (1 + relative_gap * torch.linspace(-1, 1, d, dtype=F64))
        p, q = Gaussian.diagonal(mu_p, std_p), Gaussian.diagonal(mu_q, std_q)
        tril_p, tril_q = torch.diag(std_p), torch.diag(std_q)
        bound = 1e-14
    else:
        tril_p = _random_tril(d, generator)
        noise = torch.randn(d, d, dtype=F64, generator=generator).tril()
        tril_q = tril_p * (1 + relative_gap * noise)
        p, q = Gaussian(mu_p, scale_tril=tril_p), Gaussian(mu_q, scale_tril=tril_q)
        bound = 4 * d * torch.finfo(F64).eps / relative_gap + 1e-14
    computed = float(kl_divergence(p, q))
    with mpmath.workdps(DPS):
        exact = _mp_kl(mu_p.tolist(), tril_p.tolist(), mu_q.tolist(), tril_q.tolist())
    error = rel_error(computed, exact, F64)
    worst([error], f"kl_divergence nearly identical, {structure}, gap {relative_gap:g}")
    assert computed > 0
    assert error < bound


@pytest.mark.parametrize("structure", ["diagonal", "dense"])
def test_kl_between_wildly_different_gaussians(structure):
    """KL with std ratios of 1e-100 and 1e100 and means 1e50 apart is finite and within
    1e-13 relative of the 50-digit value."""
    mu_p = torch.tensor([1e50, 0.0, -3.0], dtype=F64)
    mu_q = torch.tensor([0.0, 1e-30, 2.0], dtype=F64)
    std_p = torch.tensor([1e-100, 1.0, 1e100], dtype=F64)
    std_q = torch.tensor([1e100, 1e-100, 3.0], dtype=F64)
    tril_p, tril_q = torch.diag(std_p), torch.diag(std_q)
    if structure == "dense":
        tril_p[2, 0] = 0.5e-100
        tril_q[1, 0] = 2e99
        p, q = Gaussian(mu_p, scale_tril=tril_p), Gaussian(mu_q, scale_tril=tril_q)
    else:
        p, q = Gaussian.diagonal(mu_p, std_p), Gaussian.diagonal(mu_q, std_q)
    computed = kl_divergence(p, q)
    assert torch.isfinite(computed)
    with mpmath.workdps(DPS):
        exact = _mp_kl(mu_p.tolist(), tril_p.tolist(), mu_q.tolist(), tril_q.tolist())
    error = rel_error(float(computed), exact, F64)
    worst([error], f"kl_divergence wildly different, {structure}")
    assert error < 1e-13


# ---------------------------------------------------------------------- entropy
ENTROPY_CASES = [
    (F64, 1e-150),
    (F64, 1e150),
    (F32, 1e-30),
    (F32, 1e30),
]


@pytest.mark.parametrize(("dtype", "std"), ENTROPY_CASES)
@pytest.mark.parametrize("structure", ["univariate", "isotropic", "diagonal", "dense"])
def test_entropy_for_tiny_and_huge_scales(structure, dtype, std):
    """H = d/2 (1 + log 2 pi) + d log std is finite and within 4 eps relative of the
    50-digit value for std 1e-150 / 1e150 (float64) and 1e-30 / 1e30 (float32: std^2
    underflows or overflows there, so dense is built from scale_tril, never squaring)."""
    d = 1 if structure == "univariate" else 3
    loc = torch.zeros(d, dtype=dtype)
    std_t = torch.tensor(std, dtype=dtype)
    if structure == "univariate":
        g = Gaussian.univariate(loc[0], std_t)
    elif structure == "isotropic":
        g = Gaussian.isotropic(loc, std_t)
    elif structure == "diagonal":
        g = Gaussian.diagonal(loc, std_t.expand(d))
    else:
        g = Gaussian(loc, scale_tril=torch.diag(std_t.expand(d)))
    computed = g.entropy()
    assert torch.isfinite(computed)
    with mpmath.workdps(DPS):
        s = mpmath.mpf(float(std_t))
        exact = d * (1 + mpmath.log(2 * mpmath.pi)) / 2 + d * mpmath.log(s)
    error = rel_error(float(computed), exact, dtype)
    worst([error], f"entropy {structure} {dtype} std {std:g}")
    assert error < 4 * torch.finfo(dtype).eps


# ---------------------------------------------------------------------- ill-conditioned
CONDITIONS = [1e4, 1e6, 1e8, 1e10, 1e12]


def _ill_conditioned(d: int, cond: float, seed: int) -> torch.Tensor:
    """Q diag(lambda) Q^T with lambda log-spaced from 1 to 1/cond, Q random orthogonal,
    symmetrized exactly so that the stored matrix is the input of the reference."""
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, dtype=F64, generator=generator))
    lam = torch.logspace(0, -math.log10(cond), d, dtype=F64)
    s = q @ torch.diag(lam) @ q.T
    return (s + s.T) / 2


def _tolerance(d: int, cond: float) -> float:
    return 8 * d * cond * torch.finfo(F64).eps


@pytest.mark.parametrize("cond", CONDITIONS)
def test_ill_conditioned_log_prob_and_mahalanobis(cond):
    """log p(x) and the Mahalanobis distance for cond(S) up to 1e12 are finite and within
    8 d cond eps (relative) of the 50-digit values."""
    d = 4
    s = _ill_conditioned(d, cond, seed=int(math.log10(cond)))
    mu = torch.linspace(-1, 1, d, dtype=F64)
    g = Gaussian(mu, s)
    generator = torch.Generator().manual_seed(1)
    x = mu + torch.randn(3, d, dtype=F64, generator=generator)
    log_p, distance = g.log_prob(x), g.mahalanobis(x)
    assert torch.isfinite(log_p).all() and torch.isfinite(distance).all()
    lp_err, md_err = [], []
    with mpmath.workdps(DPS):
        sm = mpmath.matrix(s.tolist())
        for row, lp, md in zip(x.tolist(), log_p.tolist(), distance.tolist(), strict=True):
            lp_err.append(rel_error(lp, _mp_log_density(row, mu.tolist(), s.tolist()), F64))
            r = mpmath.matrix([mpmath.mpf(a) - b for a, b in zip(row, mu.tolist(), strict=True)])
            md_err.append(rel_error(md, mpmath.sqrt((r.T * mpmath.lu_solve(sm, r))[0, 0]), F64))
    tolerance = _tolerance(d, cond)
    assert worst(lp_err, f"log_prob cond {cond:g}") < tolerance
    assert worst(md_err, f"mahalanobis cond {cond:g}") < tolerance


@pytest.mark.parametrize("cond", CONDITIONS)
def test_ill_conditioned_condition(cond):
    """The conditional law x_1 | x_2 = v (Schur complement) for cond(S) up to 1e12: mean and
    covariance within 8 d cond eps of the 50-digit values, relative to their largest entry
    (|mu_{1|2}| and |S|), and the conditional covariance stays positive definite."""
    d = 4
    s = _ill_conditioned(d, cond, seed=10 + int(math.log10(cond)))
    mu = torch.zeros(d, dtype=F64)
    value = torch.tensor([0.7, -0.2], dtype=F64)
    result = Gaussian(mu, s).condition([2, 0], value)
    mean, cov = result.mean, result.covariance_matrix
    assert torch.isfinite(mean).all() and torch.isfinite(cov).all()
    assert bool((torch.linalg.eigvalsh(cov) > 0).all())
    with mpmath.workdps(DPS):
        sm = mpmath.matrix(s.tolist())
        obs, others = [2, 0], [1, 3]
        s22 = mpmath.matrix([[sm[i, j] for j in obs] for i in obs])
        s12 = mpmath.matrix([[sm[i, j] for j in obs] for i in others])
        s11 = mpmath.matrix([[sm[i, j] for j in others] for i in others])
        v = mpmath.matrix(value.tolist())
        s22_inv = mpmath.inverse(s22)
        exact_mean = s12 * (s22_inv * v)
        exact_cov = s11 - s12 * s22_inv * s12.T
        mean_scale = max(abs(exact_mean[i]) for i in range(2))
        cov_scale = max(abs(sm[i, j]) for i in range(d) for j in range(d))
        mean_err = max(abs(mean[i].item() - exact_mean[i]) / mean_scale for i in range(2))
        cov_err = max(
            abs(cov[i, j].item() - exact_cov[i, j]) / cov_scale for i in range(2) for j in range(2)
        )
    tolerance = _tolerance(d, cond)
    assert worst([float(mean_err)], f"condition mean cond {cond:g}") < tolerance
    assert worst([float(cov_err)], f"condition covariance cond {cond:g}") < tolerance


@pytest.mark.parametrize("cond", CONDITIONS)
def test_ill_conditioned_kl(cond):
    """KL(p || q) between two covariances of condition number cond (different rotations) is
    finite, positive and within 8 d cond eps relative of the 50-digit value."""
    d = 4
    sp = _ill_conditioned(d, cond, seed=20 + int(math.log10(cond)))
    sq = _ill_conditioned(d, cond, seed=30 + int(math.log10(cond)))
    mu_p = torch.zeros(d, dtype=F64)
    mu_q = torch.full((d,), 0.1, dtype=F64)
    p, q = Gaussian(mu_p, sp), Gaussian(mu_q, sq)
    computed = kl_divergence(p, q)
    assert torch.isfinite(computed) and computed > 0
    with mpmath.workdps(DPS):
        a, b = mpmath.matrix(sp.tolist()), mpmath.matrix(sq.tolist())
        delta = mpmath.matrix((mu_q - mu_p).tolist())
        b_inv = mpmath.inverse(b)
        trace = sum((b_inv * a)[i, i] for i in range(d))
        quad = (delta.T * b_inv * delta)[0, 0]
        exact = (trace + quad - d + mpmath.log(mpmath.det(b) / mpmath.det(a))) / 2
    error = rel_error(float(computed), exact, F64)
    assert worst([error], f"kl_divergence cond {cond:g}") < _tolerance(d, cond)


# ---------------------------------------------------------------------- schedules
ZERO_SNR_SCHEDULES = {
    "linear": lambda: Schedule.linear(1000).rescale_zero_terminal_snr(),
    "scaled_linear": lambda: Schedule.scaled_linear(1000).rescale_zero_terminal_snr(),
    "cosine-max-beta-1": lambda: Schedule.cosine(1000, max_beta=1.0),
}


def _mp_abar(betas: list[float]) -> list[mpmath.mpf]:
    """abar_t = prod_{s <= t} (1 - beta_s), t = 0..T, at 50 digits from the float betas."""
    out, running = [mpmath.mpf(1)], mpmath.mpf(1)
    for beta in betas:
        running *= 1 - mpmath.mpf(beta)
        out.append(running)
    return out


@pytest.mark.parametrize("name", sorted(ZERO_SNR_SCHEDULES))
def test_zero_terminal_snr_tables_are_exact_at_both_ends(name):
    """Zero terminal SNR: abar_T = 0, snr_T = 0, log_snr_T = -inf, sigmas_T = +inf; at t = 0:
    abar = 1, 1 - abar = +0, snr = log_snr = +inf, sigmas = 0. Those are the only infinities
    and no table holds NaN; abar, 1 - abar, snr and log_snr at every other t are within
    4 t eps (relative; log_snr: absolute, scaled by max(1, |log_snr|)) of the 50-digit
    values (the cumulative product of t factors rounds t times)."""
    schedule = ZERO_SNR_SCHEDULES[name]()
    T = schedule.T
    tables = {
        key: getattr(schedule, key)
        for key in (
            "betas",
            "alphas",
            "alphas_cumprod",
            "one_minus_alphas_cumprod",
            "snr",
            "log_snr",
            "sigmas",
        )
    }
    for key, table in tables.items():
        assert not torch.isnan(table).any(), key
    infinite = {key: torch.isinf(t).nonzero().flatten().tolist() for key, t in tables.items()}
    assert infinite == {
        "betas": [],
        "alphas": [],
        "alphas_cumprod": [],
        "one_minus_alphas_cumprod": [],
        "snr": [0],
        "log_snr": [0, T],
        "sigmas": [T],
    }
    assert schedule.alphas_cumprod[T] == 0 and schedule.snr[T] == 0
    assert schedule.log_snr[T] == -math.inf and schedule.sigmas[T] == math.inf
    assert schedule.alphas_cumprod[0] == 1 and schedule.one_minus_alphas_cumprod[0] == 0
    assert math.copysign(1, float(schedule.one_minus_alphas_cumprod[0])) == 1
    assert schedule.snr[0] == math.inf and schedule.log_snr[0] == math.inf
    assert schedule.sigmas[0] == 0
    eps = torch.finfo(F64).eps
    errors = {"alphas_cumprod": [], "one_minus_alphas_cumprod": [], "snr": [], "log_snr": []}
    with mpmath.workdps(DPS):
        exact_abar = _mp_abar(schedule.betas[1:].tolist())
        for t in range(1, T):
            abar = exact_abar[t]
            exact = {
                "alphas_cumprod": abar,
                "one_minus_alphas_cumprod": 1 - abar,
                "snr": abar / (1 - abar),
            }
            for key, value in exact.items():
                err = rel_error(float(tables[key][t]), value, F64)
                errors[key].append(err)
                assert err < 4 * t * eps, (key, t, err)
            log_snr = mpmath.log(abar) - mpmath.log(1 - abar)
            err = float(abs(mpmath.mpf(float(tables["log_snr"][t])) - log_snr)) / max(
                1.0, float(abs(log_snr))
            )
            errors["log_snr"].append(err)
            assert err < 4 * t * eps, ("log_snr", t, err)
    for key, values in errors.items():
        worst(values, f"Schedule.{key} ({name}, zero terminal SNR)")


def test_tiny_betas_keep_relative_precision_near_abar_one():
    """With beta_t = 1e-12 (abar_t within 1e-11 of 1) 1 - abar_t, snr, log_snr and the
    posterior tables (beta_tilde, coef1, coef2) keep 1e-13 relative accuracy: no 1 - abar
    cancellation."""
    betas = [1e-12, 2e-12, 5e-12, 1e-11, 1e-3]
    diffusion = Diffusion(Schedule.from_betas(betas))
    schedule = diffusion.schedule
    errors = []
    with mpmath.workdps(DPS):
        abar = _mp_abar(schedule.betas[1:].tolist())
        for t in range(1, len(betas) + 1):
            beta = mpmath.mpf(float(schedule.betas[t]))
            expected = {
                schedule.one_minus_alphas_cumprod: 1 - abar[t],
                schedule.snr: abar[t] / (1 - abar[t]),
                schedule.log_snr: mpmath.log(abar[t] / (1 - abar[t])),
            }
            if t >= 2:
                expected[diffusion.posterior_variance] = beta * (1 - abar[t - 1]) / (1 - abar[t])
                expected[diffusion.posterior_mean_coef1] = (
                    beta * mpmath.sqrt(abar[t - 1]) / (1 - abar[t])
                )
                expected[diffusion.posterior_mean_coef2] = (
                    (1 - abar[t - 1]) * mpmath.sqrt(1 - beta) / (1 - abar[t])
                )
            errors += [rel_error(float(table[t]), value, F64) for table, value in expected.items()]
    assert worst(errors, "schedule/posterior tables at beta = 1e-12") < 1e-13


@pytest.fixture(scope="module")
def zero_snr_diffusion() -> Diffusion:
    return Diffusion(Schedule.linear(30).rescale_zero_terminal_snr())


def _x0(batch: int = 4) -> torch.Tensor:
    return torch.linspace(-1, 1, batch * 3, dtype=F64).reshape(batch, 3)


def test_zero_snr_posterior_and_reverse_step_at_T_are_finite_and_exact(zero_snr_diffusion):
    """At t = T of a zero-terminal-SNR schedule: q(x_{T-1} | x_T, x_0) has mean
    sqrt(abar_{T-1}) x_0 (coef2 = 0 since alpha_T = 0) and variance 1 - abar_{T-1}, exact
    to 4 eps; p_mean_variance with x0 and v predictions is finite (eps is refused: see
    test_bad_inputs)."""
    d = zero_snr_diffusion
    T = d.T
    x0, x_t = _x0(), torch.randn(4, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    posterior = d.q_posterior(x_t, x0, T)
    abar_prev = d.schedule.alphas_cumprod[T - 1]
    eps = torch.finfo(F64).eps
    torch.testing.assert_close(posterior.mean, abar_prev.sqrt() * x0, rtol=4 * eps, atol=0)
    torch.testing.assert_close(
        posterior.variance, (1 - abar_prev).expand(4, 3), rtol=4 * eps, atol=0
    )
    for prediction in ("x0", "v"):
        g = d.p_mean_variance(x0, x_t, T, prediction=prediction)
        assert torch.isfinite(g.mean).all() and torch.isfinite(g.variance).all()


def test_zero_snr_vlb_terms_are_finite(zero_snr_diffusion):
    """VLB terms on a zero-terminal-SNR schedule: the prior term KL(N(0, I) || N(0, I)) is
    exactly 0, and every step term and the decoder term of a v-predicting model are finite
    and non-negative."""
    d = zero_snr_diffusion
    x0 = _x0()
    assert torch.equal(d.prior_kl(x0), torch.zeros(4, dtype=F64))

    def model(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return 0.1 * x_t

    terms = d.vlb(model, x0, prediction="v", generator=torch.Generator().manual_seed(0))
    for field in ("prior_kl", "step_kl", "decoder_nll", "total", "bits_per_dim"):
        value = getattr(terms, field)
        assert torch.isfinite(value).all(), field
    assert bool((terms.step_kl >= 0).all())


@pytest.mark.parametrize(
    ("sampler", "prediction", "steps"),
    [
        ("ddpm", "v", None),
        ("ddpm", "x0", 7),
        ("ddim", "v", 10),
        ("ddim", "x0", None),
    ],
)
def test_zero_snr_samplers_starting_at_T_are_finite(zero_snr_diffusion, sampler, prediction, steps):
    """Samplers started from pure noise at t = T of a zero-terminal-SNR schedule, with the
    predictions that are defined there (v, x0), return finite samples; with the exact
    Bayes-optimal model for N(0.5, 0.2^2 I) data the sample mean is within 5 SE of 0.5."""
    d = zero_snr_diffusion
    data = Gaussian.isotropic(torch.full((3,), 0.5, dtype=F64), 0.2)
    model = d.optimal_model(data, prediction=prediction)
    generator = torch.Generator().manual_seed(3)
    samples = d.sample(
        model,
        (1000, 3),
        sampler=sampler,
        steps=steps,
        prediction=prediction,
        x_T=torch.randn(1000, 3, dtype=F64, generator=generator),
        generator=generator,
    )
    assert torch.isfinite(samples).all()
    se = samples.std() / math.sqrt(samples.numel())
    assert abs(float(samples.mean()) - 0.5) < 5 * float(se)
