"""kl_divergence and wasserstein2 against independent references: torch.distributions'
KL for MultivariateNormal / Normal / Independent pairs, dense float64 numpy formulas written
here (np.linalg.solve, slogdet, scipy.linalg.sqrtm), mpmath at 50 digits for nearly
identical pairs, and the 1-D closed form of W2."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Independent, MultivariateNormal, Normal, Uniform

import gausslab
from gausslab import Gaussian, kernels
from tests.structures import STRUCTURES, random_gaussian

F64 = torch.float64
SETTINGS = settings(max_examples=25, deadline=None)


def spd(d: int, seed: int, *batch: int) -> torch.Tensor:
    """A random well-conditioned symmetric positive-definite (..., d, d) float64 matrix."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*batch, d, d))
    return torch.from_numpy(a @ np.swapaxes(a, -1, -2) / d + 0.5 * np.eye(d))


def make(structure: str, d: int, seed: int, *batch: int) -> Gaussian:
    return random_gaussian(structure, *batch, d=d, seed=seed)


def kl_reference(mu_p, s_p, mu_q, s_q) -> float:
    """The textbook KL formula in float64 numpy."""
    m = mu_q - mu_p
    d = len(mu_p)
    trace = np.trace(np.linalg.solve(s_q, s_p))
    quad = m @ np.linalg.solve(s_q, m)
    logdet = np.linalg.slogdet(s_q)[1] - np.linalg.slogdet(s_p)[1]
    return 0.5 * (trace + quad - d + logdet)


def w2_reference(mu_p, s_p, mu_q, s_q) -> float:
    """W2 through scipy.linalg.sqrtm symmetric square roots."""
    root_p = scipy.linalg.sqrtm(s_p).real
    cross = scipy.linalg.sqrtm(root_p @ s_q @ root_p).real
    squared = np.sum((mu_p - mu_q) ** 2) + np.trace(s_p + s_q - 2 * cross)
    return math.sqrt(max(squared, 0.0))


def assert_each_member_matches(value, reference, p, q, *, rel):
    """value[i] equals reference(mu_p, S_p, mu_q, S_q) of batch member i, for each i."""
    assert value.shape == p.batch_shape
    for i in range(p.batch_shape[0]):
        expected = reference(
            p.mean[i].numpy(),
            p.covariance_matrix[i].numpy(),
            q.mean[i].numpy(),
            q.covariance_matrix[i].numpy(),
        )
        assert value[i].item() == pytest.approx(expected, rel=rel)


# ------------------------------------------------------------------------------ KL
@pytest.mark.parametrize("structure_q", STRUCTURES)
@pytest.mark.parametrize("structure_p", STRUCTURES)
def test_kl_every_structure_pair_matches_the_dense_formula(structure_p, structure_q):
    """KL(p || q) for each of the 9 structure pairs, batched, equals the float64 numpy
    formula 1/2 [tr(S_q^-1 S_p) + m^T S_q^-1 m - d + log|S_q| - log|S_p|] per batch member."""
    p, q = make(structure_p, 4, 1, 3), make(structure_q, 4, 2, 3)
    assert_each_member_matches(gausslab.kl_divergence(p, q), kl_reference, p, q, rel=1e-12)


@pytest.mark.parametrize(("dtype", "rtol"), [(F64, 1e-12), (torch.float32, 1e-5)])
def test_kl_dense_matches_torch_multivariate_normal_with_broadcast_batch(dtype, rtol):
    """Dense pairs with broadcasting batch shapes (2, 1) and (3,) agree with
    torch.distributions.kl_divergence(MultivariateNormal, MultivariateNormal)."""
    loc_p, loc_q = torch.randn(2, 1, 5, dtype=dtype), torch.randn(3, 5, dtype=dtype)
    cov_p, cov_q = spd(5, 3, 2, 1).to(dtype), spd(5, 4, 3).to(dtype)
    ours = gausslab.kl_divergence(Gaussian(loc_p, cov_p), Gaussian(loc_q, cov_q))
    ref = torch.distributions.kl_divergence(
        MultivariateNormal(loc_p, cov_p), MultivariateNormal(loc_q, cov_q)
    )
    assert ours.shape == (2, 3) and ours.dtype == dtype
    torch.testing.assert_close(ours, ref, rtol=rtol, atol=rtol)


def test_kl_blocked_solve_for_large_d_matches_torch():
    """At d = 600 (above the block size, so the recursive solve of L_q^-1 L_p runs) the KL
    equals torch's MultivariateNormal KL; the blocked solve itself equals solve_triangular."""
    cov_p, cov_q = spd(600, 5), spd(600, 6)
    loc = torch.zeros(600, dtype=F64)
    ours = gausslab.kl_divergence(Gaussian(loc, cov_p), Gaussian(loc + 0.1, cov_q))
    ref = torch.distributions.kl_divergence(
        MultivariateNormal(loc, cov_p), MultivariateNormal(loc + 0.1, cov_q)
    )
    torch.testing.assert_close(ours, ref, rtol=1e-11, atol=0)
    tril_p, tril_q = torch.linalg.cholesky(cov_p), torch.linalg.cholesky(cov_q)
    torch.testing.assert_close(
        kernels.tril_solve_(tril_q, tril_p.clone(), rhs_lower=True),
        torch.linalg.solve_triangular(tril_q, tril_p, upper=False),
    )


def test_kl_image_events_match_torch_independent_normal():
    """Isotropic/diagonal Gaussians over (2, 3, 4) events: KL equals torch's
    KL(Independent(Normal), Independent(Normal)) with the stds broadcast in full."""
    loc_p, loc_q = torch.randn(5, 2, 3, 4, dtype=F64), torch.randn(5, 2, 3, 4, dtype=F64)
    std_p = torch.rand(5, dtype=F64) + 0.5
    std_q = torch.rand(2, 3, 4, dtype=F64) + 0.5
    p = Gaussian.isotropic(loc_p, std_p, event_ndims=3)
    q = Gaussian.diagonal(loc_q, std_q, event_ndims=3)
    full_p = std_p.reshape(5, 1, 1, 1).expand(5, 2, 3, 4)
    ref = torch.distributions.kl_divergence(
        Independent(Normal(loc_p, full_p), 3),
        Independent(Normal(loc_q, std_q.expand(5, 2, 3, 4)), 3),
    )
    torch.testing.assert_close(gausslab.kl_divergence(p, q), ref, rtol=1e-12, atol=0)
    iso_q = Gaussian.isotropic(loc_q, 1.5, event_ndims=3)
    ref_iso = torch.distributions.kl_divergence(
        Independent(Normal(loc_p, full_p), 3), Independent(Normal(loc_q, 1.5), 3)
    )
    torch.testing.assert_close(gausslab.kl_divergence(p, iso_q), ref_iso, rtol=1e-12, atol=0)


def _torch_twin(g: Gaussian, kind: str):
    if kind == "Normal":
        return Normal(g.loc, g.stddev)
    if kind == "Independent":
        return Independent(Normal(g.mean, g.stddev), 1)
    return MultivariateNormal(g.loc, g.covariance_matrix)


@pytest.mark.parametrize("kind", ["Normal", "Independent", "MultivariateNormal"])
def test_kl_registry_both_directions_with_torch_distributions(kind):
    """After import gausslab, torch.distributions.kl_divergence accepts (Gaussian, X),
    (X, Gaussian) and (Gaussian, Gaussian), and agrees with torch's own KL(X, X)."""
    if kind == "Normal":
        p = Gaussian.univariate(
            torch.tensor([0.0, 1.0], dtype=F64), torch.tensor([1.0, 2.0], dtype=F64)
        )
        q = Gaussian.univariate(
            torch.tensor([0.5, -1.0], dtype=F64), torch.tensor([0.7, 1.1], dtype=F64)
        )
    else:
        structure = "diagonal" if kind == "Independent" else "dense"
        p, q = make(structure, 3, 7, 2), make(structure, 3, 8, 2)
    tp, tq = _torch_twin(p, kind), _torch_twin(q, kind)
    expected = torch.distributions.kl_divergence(tp, tq)
    kl = torch.distributions.kl_divergence
    for value in (kl(p, q), kl(p, tq), kl(tp, q), gausslab.kl_divergence(p, q)):
        torch.testing.assert_close(value, expected, rtol=1e-12, atol=1e-14)


def test_kl_registry_refuses_independent_of_other_distributions():
    """Independent(Uniform) has no Gaussian KL: NotImplementedError, as torch does."""
    g = Gaussian.diagonal(torch.zeros(2, dtype=F64), 1.0)
    other = Independent(Uniform(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)), 1)
    with pytest.raises(NotImplementedError):
        torch.distributions.kl_divergence(g, other)


def _mp_kl(mu_p, s_p, mu_q, s_q) -> mpmath.mpf:
    """KL with mpmath matrices at 50 digits."""
    with mpmath.workdps(50):
        sp, sq = mpmath.matrix(s_p.tolist()), mpmath.matrix(s_q.tolist())
        m = mpmath.matrix((mu_q - mu_p).tolist())
        inv_q = sq**-1
        trace = sum((inv_q * sp)[i, i] for i in range(sp.rows))
        quad = (m.T * inv_q * m)[0, 0]
        return (trace + quad - sp.rows + mpmath.log(mpmath.det(sq) / mpmath.det(sp))) / 2


@pytest.mark.parametrize("structure", ["diagonal", "dense"])
def test_kl_of_nearly_identical_gaussians_keeps_its_digits(structure):
    """q = p perturbed by 1e-9 in scale and 1e-10 in mean: KL ~ 1e-18 still matches
    mpmath at 50 digits (float64 inputs converted exactly), where the textbook formula
    would cancel to pure round-off."""
    p = make(structure, 3, 9)
    tril_q = p.scale_tril * (1 + 1e-9 * torch.tensor([1.0, -2.0, 0.5], dtype=F64))[:, None]
    q = Gaussian(p.loc + 1e-10, scale_tril=tril_q)
    if structure == "diagonal":
        q = Gaussian.diagonal(p.loc + 1e-10, tril_q.diagonal())
    s_p = [[mpmath.mpf(v) for v in row] for row in p.scale_tril.numpy()]
    s_q = [[mpmath.mpf(v) for v in row] for row in tril_q.numpy()]
    with mpmath.workdps(50):
        lp, lq = mpmath.matrix(s_p), mpmath.matrix(s_q)
        exact = _mp_kl(
            np.array([mpmath.mpf(v) for v in p.loc.numpy()]),
            lp * lp.T,
            np.array([mpmath.mpf(v) for v in q.loc.numpy()]),
            lq * lq.T,
        )
    kl = gausslab.kl_divergence(p, q).item()
    assert 0 < exact < 1e-16
    assert kl == pytest.approx(float(exact), rel=1e-6 if structure == "dense" else 1e-12)


@SETTINGS
@given(
    structure_p=st.sampled_from(STRUCTURES),
    structure_q=st.sampled_from(STRUCTURES),
    seed=st.integers(0, 10_000),
    d=st.integers(1, 6),
)
def test_kl_is_nonnegative_and_zero_on_equal_inputs(structure_p, structure_q, seed, d):
    """KL(p, q) >= 0 for any structures, and KL(p, p) = 0 (to round-off)."""
    p, q = make(structure_p, d, seed), make(structure_q, d, seed + 1)
    assert gausslab.kl_divergence(p, q).item() >= 0
    assert abs(gausslab.kl_divergence(p, p).item()) < 1e-13


def test_kl_gradcheck_dense():
    """KL is differentiable in float64 w.r.t. both means and both scale factors (autograd
    takes the plain triangular solve; tests/test_kernels.py checks the blocked no-grad path
    against it)."""
    tril_p = torch.linalg.cholesky(spd(5, 1)).requires_grad_()
    tril_q = torch.linalg.cholesky(spd(5, 2)).requires_grad_()
    loc_p, loc_q = torch.randn(5, dtype=F64, requires_grad=True), torch.randn(5, dtype=F64)

    def kl(loc_p, tril_p, tril_q):
        p = Gaussian(loc_p, scale_tril=torch.tril(tril_p))
        return gausslab.kl_divergence(p, Gaussian(loc_q, scale_tril=torch.tril(tril_q)))

    assert torch.autograd.gradcheck(kl, (loc_p, tril_p, tril_q))


# ------------------------------------------------------------------------------ W2
@pytest.mark.parametrize("structure_q", STRUCTURES)
@pytest.mark.parametrize("structure_p", STRUCTURES)
def test_w2_every_structure_pair_matches_sqrtm_route(structure_p, structure_q):
    """W2 (not squared) for each structure pair equals the formula evaluated with
    scipy.linalg.sqrtm: |m|^2 + tr(S_p + S_q - 2 (S_p^1/2 S_q S_p^1/2)^1/2)."""
    p, q = make(structure_p, 4, 3, 2), make(structure_q, 4, 4, 2)
    assert_each_member_matches(gausslab.wasserstein2(p, q), w2_reference, p, q, rel=1e-10)


@SETTINGS
@given(mu_p=st.floats(-5, 5), mu_q=st.floats(-5, 5), s_p=st.floats(0.01, 5), s_q=st.floats(0.01, 5))
def test_w2_univariate_closed_form(mu_p, mu_q, s_p, s_q):
    """In 1-D, W2 = sqrt((mu_p - mu_q)^2 + (s_p - s_q)^2), for scalar events and as a 1x1
    dense covariance."""
    exact = math.hypot(mu_p - mu_q, s_p - s_q)
    uni_p = Gaussian.univariate(torch.tensor(mu_p, dtype=F64), s_p)
    uni_q = Gaussian.univariate(torch.tensor(mu_q, dtype=F64), s_q)
    assert gausslab.wasserstein2(uni_p, uni_q).item() == pytest.approx(exact, rel=1e-12, abs=1e-15)
    dense_p = Gaussian(torch.tensor([mu_p], dtype=F64), torch.tensor([[s_p**2]], dtype=F64))
    dense_q = Gaussian(torch.tensor([mu_q], dtype=F64), torch.tensor([[s_q**2]], dtype=F64))
    assert gausslab.wasserstein2(dense_p, dense_q).item() == pytest.approx(
        exact, rel=1e-10, abs=1e-12
    )


@SETTINGS
@given(
    structure_p=st.sampled_from(STRUCTURES),
    structure_q=st.sampled_from(STRUCTURES),
    seed=st.integers(0, 10_000),
    d=st.integers(1, 6),
)
def test_w2_is_symmetric_and_zero_on_equal_inputs(structure_p, structure_q, seed, d):
    """W2(p, q) = W2(q, p) and W2(p, p) = 0 up to round-off (never NaN)."""
    p, q = make(structure_p, d, seed), make(structure_q, d, seed + 1)
    forward, backward = gausslab.wasserstein2(p, q), gausslab.wasserstein2(q, p)
    torch.testing.assert_close(forward, backward, rtol=1e-10, atol=1e-12)
    assert gausslab.wasserstein2(p, p).item() < 1e-7


def test_w2_of_nearly_equal_dense_gaussians_is_accurate():
    """S_q = S_p scaled by (1 + 1e-10)^2 (commuting, so W2 = 1e-10 * sqrt(tr S_p) exactly):
    the sum-of-squares form gets it to 1e-5 relative, where tr(...) - 2 tr(...) would be
    swamped by round-off of size sqrt(eps tr S) ~ 1e-8."""
    p = make("dense", 4, 5)
    q = Gaussian(p.loc, scale_tril=p.scale_tril * (1 + 1e-10))
    exact = 1e-10 * math.sqrt(np.trace(p.covariance_matrix.numpy()))
    assert gausslab.wasserstein2(p, q).item() == pytest.approx(exact, rel=1e-5)


def test_w2_image_events_elementwise():
    """Diagonal/isotropic (C, H, W) events: W2^2 = sum (mu_p - mu_q)^2 + sum (s_p - s_q)^2."""
    loc_p, loc_q = torch.randn(2, 3, 4, dtype=F64), torch.randn(2, 3, 4, dtype=F64)
    std_p = torch.rand(2, 3, 4, dtype=F64) + 0.5
    p = Gaussian.diagonal(loc_p, std_p, event_ndims=3)
    q = Gaussian.isotropic(loc_q, 0.8, event_ndims=3)
    expected = math.sqrt(((loc_p - loc_q) ** 2).sum().item() + ((std_p - 0.8) ** 2).sum().item())
    assert gausslab.wasserstein2(p, q).item() == pytest.approx(expected, rel=1e-12)


def test_w2_gradcheck():
    """W2 between distinct dense Gaussians is differentiable in float64 (gradcheck), and
    its gradient is finite when the cross term has repeated singular values."""
    tril_p = torch.linalg.cholesky(spd(3, 1)).requires_grad_()
    tril_q = torch.linalg.cholesky(spd(3, 2)).requires_grad_()
    loc = torch.randn(3, dtype=F64, requires_grad=True)

    def w2(loc, tril_p, tril_q):
        p = Gaussian(loc, scale_tril=torch.tril(tril_p))
        return gausslab.wasserstein2(
            p, Gaussian(torch.zeros(3, dtype=F64), scale_tril=torch.tril(tril_q))
        )

    assert torch.autograd.gradcheck(w2, (loc, tril_p, tril_q))
    std = torch.tensor(1.0, dtype=F64, requires_grad=True)
    p = Gaussian(torch.zeros(3, dtype=F64), scale_tril=std * torch.eye(3, dtype=F64))
    q = Gaussian(torch.ones(3, dtype=F64), scale_tril=2 * torch.eye(3, dtype=F64))
    (grad,) = torch.autograd.grad(gausslab.wasserstein2(p, q), std)
    expected = (1.0 - 2.0) * 3 / math.sqrt(3 + 3)  # d/ds sqrt(3 + 3 (s - 2)^2) at s = 1
    assert grad.item() == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("function", [gausslab.kl_divergence, gausslab.wasserstein2])
def test_bad_pairs_raise_naming_the_argument(function):
    """Mismatched event shapes, batch shapes or dtypes raise ValueError naming q and the
    shapes/dtypes received; a non-Gaussian raises TypeError naming it."""
    p = make("dense", 3, 0, 2)
    cases = [
        (make("dense", 4, 1), ["q", "(3,)", "(4,)"]),
        (make("dense", 3, 1, 5), ["batch", "(2,)", "(5,)"]),
        (Gaussian(torch.zeros(3), torch.eye(3)), ["q", "float32", "float64"]),
    ]
    for q, words in cases:
        with pytest.raises(ValueError) as info:
            function(p, q)
        for word in words:
            assert word in str(info.value), (word, str(info.value))
    with pytest.raises(TypeError, match="q must be a gausslab"):
        function(p, MultivariateNormal(torch.zeros(3), torch.eye(3)))
