"""Algebraic properties of Gaussians, checked by hypothesis over random dims (1..6), batch
shapes, covariance structures (isotropic, diagonal, dense) and dtypes (float32, float64).

Each example draws its sizes, structure, dtype, a scale and a seed; the tensors come from a
torch generator with that seed (cheap, reproducible). Covariances are well conditioned
(Cholesky factors with diagonals in [0.5, 1.5] * scale and off-diagonal entries ~0.3 *
scale), so the tolerances below are a few hundred eps of each dtype, relative to the scale
of the quantity compared.

The example budget follows the hypothesis profile (tests/conftest.py): PROPERTY_EXAMPLES =
10 x the profile's max_examples, i.e. 1,000 per property with "default" and "ci" (derandomized,
no deadline), a third of that for the quadrature property, so the file runs ~10,300
examples; the count is printed at the end of the module.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gausslab import Gaussian, GaussianMixture, kl_divergence, product, wasserstein2
from gausslab.diffusion import Diffusion, Schedule
from tests.structures import STRUCTURES, random_gaussian, with_component_axis

PROPERTY_EXAMPLES = 10 * settings.default.max_examples
PROPERTY = settings(max_examples=PROPERTY_EXAMPLES)
DTYPES = (torch.float32, torch.float64)
# Relative tolerance per dtype: ~400 eps for float32 (1-6 dims, a few solves), 1e-10 for
# float64.
RTOL = {torch.float32: 5e-5, torch.float64: 1e-10}
DIFFUSION = Diffusion(Schedule.linear(50))

COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_example_count():
    """Print how many hypothesis examples this module ran, per property and in total.

    The examples are tiny (d <= 6): torch runs them on one intra-op thread here (restored
    afterwards), which avoids thread-pool wake-ups that cost more than the arithmetic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    total = sum(COUNTS.values())
    print(f"\n[hypothesis examples] {total} in total: {dict(COUNTS)}")


@dataclass(frozen=True)
class Spec:
    """What one example draws: event size, batch shape, structure, dtype, scale, seed."""

    dim: int
    batch: tuple[int, ...]
    structure: str
    dtype: torch.dtype
    scale: float
    seed: int

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed)

    def randn(self, *shape: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(*shape, dtype=torch.float64, generator=generator).to(self.dtype)

    @property
    def rtol(self) -> float:
        return RTOL[self.dtype]


@st.composite
def specs(draw, min_dim: int = 1, structures=STRUCTURES, dtypes=DTYPES) -> Spec:
    return Spec(
        dim=draw(st.integers(min_dim, 6)),
        batch=tuple(draw(st.lists(st.integers(1, 3), max_size=2))),
        structure=draw(st.sampled_from(structures)),
        dtype=draw(st.sampled_from(dtypes)),
        scale=draw(st.sampled_from([0.1, 0.5, 1.0, 3.0, 10.0])),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def make_gaussian(spec: Spec, generator: torch.Generator, structure: str | None = None):
    """A Gaussian of spec's batch shape, event (dim,), dtype and structure."""
    return random_gaussian(
        structure or spec.structure,
        *spec.batch,
        d=spec.dim,
        generator=generator,
        scale=spec.scale,
        dtype=spec.dtype,
    )


def close(actual: torch.Tensor, expected: torch.Tensor, rtol: float, scale: float = 1.0):
    """|actual - expected| <= rtol * (scale + |expected|), elementwise."""
    expected = expected.to(actual.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    bound = rtol * (scale + expected.abs())
    excess = ((actual - expected).abs() - bound).max()
    assert excess <= 0, f"max error exceeds rtol={rtol} by {excess.item():.3g}"


def as_dense(g: Gaussian) -> torch.distributions.MultivariateNormal:
    """The same law as torch's MultivariateNormal in float64 (an independent reference)."""
    return torch.distributions.MultivariateNormal(
        g.mean.double(), covariance_matrix=g.covariance_matrix.double(), validate_args=False
    )


# ---------------------------------------------------------------------- log_prob reference
@PROPERTY
@given(specs())
def test_log_prob_matches_torch_multivariate_normal(spec: Spec):
    """log p(x) equals torch.distributions.MultivariateNormal (float64) at random x."""
    COUNTS["log_prob vs torch"] += 1
    generator = spec.generator()
    g = make_gaussian(spec, generator)
    x = g.mean + spec.randn(*spec.batch, spec.dim, generator=generator) * spec.scale
    close(g.log_prob(x), as_dense(g).log_prob(x.double()), spec.rtol * 10, scale=spec.dim)


# ---------------------------------------------------------------------- marginal, condition
@PROPERTY
@given(specs(min_dim=2), st.data())
def test_marginal_times_conditional_is_the_joint(spec: Spec, data):
    """Chain rule: log p(x) = log p_A(x_A) + log p(x_B | x_A) for any split of the
    coordinates (A in any order), i.e. marginal and condition are consistent."""
    COUNTS["marginal x condition = joint"] += 1
    generator = spec.generator()
    g = make_gaussian(spec, generator)
    order = data.draw(st.permutations(range(spec.dim)))
    k = data.draw(st.integers(1, spec.dim - 1))
    observed, others = list(order[:k]), sorted(order[k:])
    x = g.mean + spec.randn(*spec.batch, spec.dim, generator=generator) * spec.scale
    joint = g.log_prob(x)
    split = g.marginal(observed).log_prob(x[..., observed]) + g.condition(
        observed, x[..., observed]
    ).log_prob(x[..., others])
    close(split, joint, spec.rtol * 20, scale=spec.dim)


@PROPERTY
@given(specs(min_dim=3), st.data())
def test_condition_then_marginal_equals_marginal_then_condition(spec: Spec, data):
    """Conditioning on x_C and keeping x_A equals keeping (A, C) first and then conditioning
    on C: the law of x_A | x_C does not depend on the coordinates left out."""
    COUNTS["condition o marginal"] += 1
    generator = spec.generator()
    g = make_gaussian(spec, generator)
    order = data.draw(st.permutations(range(spec.dim)))
    observed, kept = [order[0]], sorted(order[1:-1])
    value = spec.randn(*spec.batch, 1, generator=generator) * spec.scale
    left = g.condition(observed, value).marginal(
        [i - (i > observed[0]) for i in kept]  # positions among the remaining coordinates
    )
    joint_small = g.marginal(kept + observed)
    right = joint_small.condition([len(kept)], value)
    close(left.mean, right.mean, spec.rtol * 10, scale=spec.scale)
    close(left.covariance_matrix, right.covariance_matrix, spec.rtol * 10, scale=spec.scale**2)


# ---------------------------------------------------------------------- affine
@PROPERTY
@given(specs())
def test_affine_composition_is_the_composed_affine_map(spec: Spec):
    """(x -> A2 (A1 x + b1) + b2) applied as two affine steps equals one step with
    A = A2 A1, b = A2 b1 + b2 (mean and covariance), for square well-conditioned maps."""
    COUNTS["affine composition"] += 1
    generator = spec.generator()
    g = make_gaussian(spec, generator)
    d = spec.dim
    eye = torch.eye(d, dtype=spec.dtype)
    a1 = eye + 0.3 * spec.randn(d, d, generator=generator) / math.sqrt(d)
    a2 = eye + 0.3 * spec.randn(d, d, generator=generator) / math.sqrt(d)
    b1, b2 = spec.randn(d, generator=generator), spec.randn(d, generator=generator)
    two_steps = g.affine(a1, b1).affine(a2, b2)
    one_step = g.affine(a2 @ a1, a2 @ b1 + b2)
    close(two_steps.mean, one_step.mean, spec.rtol * 10, scale=spec.scale + 1)
    close(two_steps.covariance_matrix, one_step.covariance_matrix, spec.rtol * 10, spec.scale**2)


# ---------------------------------------------------------------------- product
@PROPERTY
@given(specs(), st.sampled_from(STRUCTURES))
def test_product_identity_and_normalizer_closed_form(spec: Spec, other_structure: str):
    """g(x) h(x) = Z N(x; mu, S) at random x, with log Z = log N(mu_g; mu_h, S_g + S_h)
    computed independently by torch's MultivariateNormal in float64."""
    COUNTS["product normalizer"] += 1
    generator = spec.generator()
    g = make_gaussian(spec, generator)
    h = make_gaussian(spec, generator, other_structure)
    normalized, log_z = product(g, h)
    reference = torch.distributions.MultivariateNormal(
        h.mean.double(),
        g.covariance_matrix.double() + h.covariance_matrix.double(),
        validate_args=False,
    ).log_prob(g.mean.double())
    close(log_z, reference, spec.rtol * 20, scale=spec.dim)
    x = g.mean + spec.randn(*spec.batch, spec.dim, generator=generator) * spec.scale
    close(
        g.log_prob(x) + h.log_prob(x),
        log_z + normalized.log_prob(x),
        spec.rtol * 40,
        scale=spec.dim * 4,
    )


@settings(max_examples=PROPERTY_EXAMPLES // 3)
@given(
    st.floats(-3, 3),
    st.floats(0.2, 3),
    st.floats(-3, 3),
    st.floats(0.2, 3),
    st.sampled_from(DTYPES),
)
def test_product_normalizer_matches_quadrature(mu_g, std_g, mu_h, std_h, dtype):
    """In 1-D, Z = integral g(x) h(x) dx by the trapezoid rule on 20,001 float64 points over
    +-12 standard deviations of the product (truncation < 1e-30, discretization error
    negligible for a smooth Gaussian integrand)."""
    COUNTS["product vs quadrature"] += 1
    g = Gaussian.univariate(torch.tensor(mu_g, dtype=dtype), std_g)
    h = Gaussian.univariate(torch.tensor(mu_h, dtype=dtype), std_h)
    normalized, log_z = product(g, h)
    center, width = float(normalized.mean), float(normalized.stddev)
    x = torch.linspace(center - 12 * width, center + 12 * width, 20_001, dtype=torch.float64)
    g64 = torch.distributions.Normal(torch.tensor(mu_g, dtype=torch.float64), std_g)
    h64 = torch.distributions.Normal(torch.tensor(mu_h, dtype=torch.float64), std_h)
    integral = torch.trapezoid((g64.log_prob(x) + h64.log_prob(x)).exp(), x)
    close(log_z, integral.log(), RTOL[dtype] * 20, scale=1.0)


# ---------------------------------------------------------------------- KL, W2
@PROPERTY
@given(specs(), st.sampled_from(STRUCTURES))
def test_kl_is_nonnegative_zero_on_equal_and_matches_torch(spec: Spec, other_structure: str):
    """KL(p || q) >= 0, KL(p || p) = 0 (to eps^2 d), and KL agrees with torch's
    MultivariateNormal KL in float64."""
    COUNTS["KL"] += 1
    generator = spec.generator()
    p = make_gaussian(spec, generator)
    q = make_gaussian(spec, generator, other_structure)
    kl = kl_divergence(p, q)
    assert bool((kl >= 0).all())
    eps = torch.finfo(spec.dtype).eps
    assert bool((kl_divergence(p, p).abs() <= spec.dim * eps).all())
    reference = torch.distributions.kl_divergence(as_dense(p), as_dense(q))
    close(kl, reference, spec.rtol * 20, scale=1.0)


@PROPERTY
@given(specs(), st.sampled_from(STRUCTURES), st.sampled_from(STRUCTURES))
def test_w2_is_a_metric(spec: Spec, structure_q: str, structure_r: str):
    """W2 is symmetric, zero on equal inputs and obeys the triangle inequality on triples
    (each up to a rounding allowance of rtol * scale * dim)."""
    COUNTS["W2 metric"] += 1
    generator = spec.generator()
    p = make_gaussian(spec, generator)
    q = make_gaussian(spec, generator, structure_q)
    r = make_gaussian(spec, generator, structure_r)
    slack = 100 * torch.finfo(spec.dtype).eps * spec.scale * spec.dim
    pq, qp = wasserstein2(p, q), wasserstein2(q, p)
    close(pq, qp, spec.rtol * 10, scale=spec.scale)
    assert bool((wasserstein2(p, p) <= math.sqrt(slack) * spec.scale + slack).all())
    pr, qr = wasserstein2(p, r), wasserstein2(q, r)
    assert bool((pr <= pq + qr + slack).all())


# ---------------------------------------------------------------------- diffusion
@PROPERTY
@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(1, DIFFUSION.T),
    st.sampled_from(DTYPES),
    st.integers(0, 2**31 - 1),
)
def test_q_marginal_is_the_composition_of_q_steps(batch, dim, t, dtype, seed):
    """q(x_t | x_0) equals x_1 ~ q_step(x_0, 1) pushed through t - 1 more steps, each the
    closed form x_s = sqrt(alpha_s) x_{s-1} + N(0, beta_s I) (Gaussian.affine then
    convolve): mean sqrt(abar_t) x_0, variance 1 - abar_t."""
    COUNTS["q_marginal = composed q_step"] += 1
    x0 = torch.randn(batch, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    x0 = x0.to(dtype)
    law = DIFFUSION.q_step(x0, 1)
    for s in range(2, t + 1):
        step = DIFFUSION.q_step(torch.zeros_like(x0), s)  # N(0, beta_s I)
        law = law.affine(math.sqrt(float(DIFFUSION.schedule.alphas[s]))).convolve(step)
    target = DIFFUSION.q_marginal(x0, t)
    rtol = RTOL[dtype] * 20 if dtype == torch.float32 else 1e-12 * t
    close(law.mean, target.mean, rtol)
    close(law.variance, target.variance, rtol)


@PROPERTY
@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(2, DIFFUSION.T),
    st.sampled_from(DTYPES),
    st.integers(0, 2**31 - 1),
)
def test_q_posterior_is_the_product_of_gaussians(batch, dim, t, dtype, seed):
    """q(x_{t-1} | x_t, x_0) is proportional to q(x_t | x_{t-1}) q(x_{t-1} | x_0); as a
    density in x_{t-1} the first factor is N(x_t / sqrt(alpha_t), beta_t / alpha_t I), so
    the normalized gausslab.product of the two equals q_posterior (mean and variance)."""
    COUNTS["q_posterior = product"] += 1
    generator = torch.Generator().manual_seed(seed)
    x0 = torch.randn(batch, dim, dtype=torch.float64, generator=generator).to(dtype)
    x_t = torch.randn(batch, dim, dtype=torch.float64, generator=generator).to(dtype)
    alpha = float(DIFFUSION.schedule.alphas[t])
    beta = float(DIFFUSION.schedule.betas[t])
    likelihood = Gaussian.isotropic(
        x_t / math.sqrt(alpha), torch.full((batch,), math.sqrt(beta / alpha), dtype=dtype)
    )
    prior = DIFFUSION.q_marginal(x0, t - 1)
    normalized, _ = product(likelihood, prior)
    posterior = DIFFUSION.q_posterior(x_t, x0, t)
    rtol = RTOL[dtype] * 40 if dtype == torch.float32 else 1e-11
    close(normalized.mean, posterior.mean, rtol)
    close(normalized.variance, posterior.variance, rtol)


# ---------------------------------------------------------------------- mixture
@PROPERTY
@given(specs())
def test_mixture_of_one_component_is_the_gaussian(spec: Spec):
    """A GaussianMixture with K = 1 has the component's log density, score (= autograd of
    the Gaussian's log_prob), mean and variance."""
    COUNTS["mixture of one"] += 1
    generator = spec.generator()
    g = make_gaussian(spec, generator)
    components = with_component_axis(g)
    mixture = GaussianMixture(torch.zeros(*spec.batch, 1, dtype=spec.dtype), components)
    x = g.mean + spec.randn(*spec.batch, spec.dim, generator=generator) * spec.scale
    close(mixture.log_prob(x), g.log_prob(x), spec.rtol * 10, scale=spec.dim)
    x_grad = x.clone().requires_grad_(True)
    (autograd_score,) = torch.autograd.grad(g.log_prob(x_grad).sum(), x_grad)
    close(mixture.score(x), autograd_score, spec.rtol * 20, scale=1 / spec.scale)
    close(mixture.mean, g.mean, spec.rtol, scale=spec.scale)
    close(mixture.variance, g.variance, spec.rtol * 10, scale=spec.scale**2)
