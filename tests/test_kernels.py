"""gausslab.kernels: the fast (chunked, in-place, blocked) paths agree with independent torch
references, and the differentiable paths pass gradcheck in float64.

The chunk size is forced down to a few rows (`small_chunks`) so that every chunked loop runs
several full chunks and a ragged last one even on small inputs.
"""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck
from torch.distributions import Independent, Normal

from gausslab import Gaussian, kernels

F64 = torch.float64


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 3 rows, so that 10 rows are 3 + 3 + 3 + 1."""
    monkeypatch.setattr(kernels, "chunk_rows", lambda row_bytes: 3)


def _tril(n: int, *batch: int, seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    """A well-conditioned lower-triangular factor with a positive diagonal."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(*batch, n, n, generator=g, dtype=F64) / n**0.5
    matrix = a @ a.mT + torch.eye(n, dtype=F64)
    return torch.linalg.cholesky(matrix).to(dtype)


def _randn(*shape: int, seed: int = 1, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ----------------------------------------------------------------------- sq_norm_centered
@pytest.mark.parametrize(
    ("x_shape", "loc_shape", "scale_shape"),
    [
        ((10, 7), (7,), (7,)),  # diagonal, one event per row
        ((10, 7), (7,), None),  # isotropic: no per-coordinate scale
        ((10, 4, 7), (4, 7), (4, 7)),  # batch of Gaussians, rows of draws in front
        ((10, 4, 7), (4, 7), (4, 1)),  # per-member scale broadcast over the event
        ((10, 7), (1, 7), (7,)),  # leading singleton of a parameter
        ((4, 7), (10, 4, 7), (7,)),  # loc with more batch dims than x: plain path
        ((7,), (7,), (7,)),  # a single vector
    ],
)
def test_sq_norm_centered_matches_the_float64_formula(
    small_chunks: None, x_shape: tuple, loc_shape: tuple, scale_shape: tuple | None
) -> None:
    """sum_j ((x_j - loc_j) * w_j)^2 agrees with the plain float64 expression, for every way
    the parameters can broadcast."""
    x, loc = _randn(*x_shape, seed=1), _randn(*loc_shape, seed=2)
    scale = None if scale_shape is None else _randn(*scale_shape, seed=3).abs() + 0.5
    expected = ((x - loc) * (1 if scale is None else scale)).square().sum(-1)
    got = kernels.sq_norm_centered(x, loc, scale)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-13, atol=0)


def test_sq_norm_centered_float32_chunked_equals_unchunked() -> None:
    """The chunked float32 result equals the one-chunk result to float32 rounding and the
    float64 formula to float32 accuracy."""
    x, loc = _randn(1000, 64, seed=1, dtype=torch.float32), _randn(64, seed=2, dtype=torch.float32)
    scale = _randn(64, seed=3, dtype=torch.float32).abs() + 0.5
    got = kernels.sq_norm_centered(x, loc, scale)
    exact = ((x.double() - loc.double()) * scale.double()).square().sum(-1)
    torch.testing.assert_close(got.double(), exact, rtol=2e-6, atol=0)


def test_sq_norm_centered_non_contiguous_input_takes_the_plain_path(small_chunks: None) -> None:
    """A transposed x (not contiguous) gives the same numbers."""
    x = _randn(7, 10).mT
    loc, scale = _randn(7, seed=2), _randn(7, seed=3).abs() + 0.5
    torch.testing.assert_close(
        kernels.sq_norm_centered(x, loc, scale), ((x - loc) * scale).square().sum(-1)
    )


def test_sq_norm_centered_gradcheck() -> None:
    """Derivatives in x, loc and the scale are exact (autograd takes the plain path),
    including at x = loc where the squared norm's Hessian is 2 I."""
    x = _randn(5, 4).requires_grad_()
    loc = _randn(4, seed=2).requires_grad_()
    scale = (_randn(4, seed=3).abs() + 0.5).requires_grad_()
    assert gradcheck(kernels.sq_norm_centered, (x, loc, scale))
    assert gradcheck(lambda x, loc: kernels.sq_norm_centered(x, loc), (x, loc))
    at_mean = loc.detach().clone().expand(3, 4).clone().requires_grad_()
    hessian = torch.autograd.functional.hessian(
        lambda v: kernels.sq_norm_centered(v, loc.detach()).sum(), at_mean[0]
    )
    torch.testing.assert_close(hessian, 2 * torch.eye(4, dtype=F64))


def test_sq_norm_centered_no_grad_with_grad_tensors_is_detached() -> None:
    """Under no_grad, tensors that require grad take the fast path and return a plain tensor
    with the same values."""
    x, loc = _randn(6, 5).requires_grad_(), _randn(5, seed=2)
    with torch.no_grad():
        fast = kernels.sq_norm_centered(x, loc)
    assert not fast.requires_grad
    torch.testing.assert_close(fast, (x.detach() - loc).square().sum(-1))


# ------------------------------------------------------------------------ tril_solve_
@pytest.mark.parametrize("n", [1, 5, kernels.LEAF_SIZE, kernels.LEAF_SIZE + 1, 300])
def test_tril_solve_matches_torch_for_every_layout(n: int) -> None:
    """b <- a^{-1} b in place equals torch.linalg.solve_triangular, for a contiguous b, a
    transposed view (the rows layout of log_prob) and a column slice of a wider matrix."""
    a = _tril(n)
    wide = _randn(40, n + 3, seed=4)
    for b in (_randn(n, 17, seed=5), _randn(23, n, seed=6).mT, wide[:, 3:].mT):
        expected = torch.linalg.solve_triangular(a, b.clone(), upper=False)
        result = kernels.tril_solve_(a, b)
        assert result.data_ptr() == b.data_ptr()
        torch.testing.assert_close(b, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [3, kernels.LEAF_SIZE + 1, 300])
def test_tril_solve_lower_rhs_matches_torch_and_stays_lower(n: int) -> None:
    """With a lower-triangular right-hand side the solution is lower triangular: the upper
    triangle stays exactly zero and the rest equals torch's full solve."""
    a, b = _tril(n, seed=1), _tril(n, seed=2)
    expected = torch.linalg.solve_triangular(a, b, upper=False)
    result = kernels.tril_solve_(a, b.clone(), rhs_lower=True)
    assert bool((result.triu(1) == 0).all())
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-12)


def test_tril_solve_batched() -> None:
    """Batch dims in front of a and b are solved member by member."""
    a, b = _tril(kernels.LEAF_SIZE + 10, 3, seed=1), _randn(3, kernels.LEAF_SIZE + 10, 4)
    expected = torch.linalg.solve_triangular(a, b, upper=False)
    torch.testing.assert_close(kernels.tril_solve_(a, b.clone()), expected)


# ------------------------------------------------------------------ sq_norm_whitened
@pytest.mark.parametrize("d", [1, 6, kernels.LEAF_SIZE + 7])
def test_sq_norm_whitened_matches_the_float64_solve(small_chunks: None, d: int) -> None:
    """|L^{-1} (x - loc)|^2 per row equals the float64 formula with an explicit solve."""
    tril = _tril(d)
    x, loc = _randn(10, 2, d, seed=3), _randn(d, seed=4)
    z = torch.linalg.solve_triangular(tril, (x - loc).unsqueeze(-1), upper=False)
    expected = z.squeeze(-1).square().sum(-1)
    torch.testing.assert_close(kernels.sq_norm_whitened(x, loc, tril), expected, rtol=1e-12, atol=0)


def test_sq_norm_whitened_gradcheck() -> None:
    """Derivatives in x, loc and L are exact (the plain solve path)."""
    tril = _tril(4).requires_grad_()
    x, loc = _randn(3, 4, seed=2).requires_grad_(), _randn(4, seed=3).requires_grad_()
    assert gradcheck(kernels.sq_norm_whitened, (x, loc, tril))


# --------------------------------------------------------------- strict_lower_sq_norm
@pytest.mark.parametrize("n", [2, kernels.LEAF_SIZE + 1, 260])
def test_strict_lower_sq_norm_matches_torch(n: int) -> None:
    """|tril(a^{-1} b, -1)|_F^2 by the blocked solve equals torch's full solve."""
    a, b = _tril(n, seed=1), _tril(n, seed=2)
    expected = torch.linalg.solve_triangular(a, b, upper=False).tril(-1).square().sum()
    torch.testing.assert_close(kernels.strict_lower_sq_norm(a, b), expected, rtol=1e-12, atol=0)


def test_strict_lower_sq_norm_keeps_digits_for_nearly_equal_factors() -> None:
    """For b = a (1 + 1e-9 E) the off-diagonal part is ~1e-18 and is computed as a sum of
    non-negative terms: it matches the float64 solve to 1e-6 relative, never 0 or negative."""
    a = _tril(200, seed=1)
    b = a + 1e-9 * _tril(200, seed=2).tril(-1)
    expected = torch.linalg.solve_triangular(a, b, upper=False).tril(-1).square().sum()
    got = kernels.strict_lower_sq_norm(a, b)
    assert 0 < expected < 1e-14
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=0)


def test_strict_lower_sq_norm_batched_broadcast() -> None:
    """A batch of a against one b (broadcast)."""
    a, b = _tril(kernels.LEAF_SIZE + 3, 2, seed=1), _tril(kernels.LEAF_SIZE + 3, seed=2)
    expected = torch.linalg.solve_triangular(a, b, upper=False).tril(-1).square().sum((-2, -1))
    torch.testing.assert_close(kernels.strict_lower_sq_norm(a, b), expected, rtol=1e-12, atol=0)


def test_strict_lower_sq_norm_gradcheck() -> None:
    """Derivatives in both factors are exact (the plain path)."""
    a, b = _tril(4, seed=1).requires_grad_(), _tril(4, seed=2).requires_grad_()
    assert gradcheck(kernels.strict_lower_sq_norm, (a, b))


# ------------------------------------------------------------- affine_, scaled_sum
def test_affine_in_place_and_gradcheck() -> None:
    """z <- loc + scale z in place without autograd; with autograd the out-of-place
    expression, whose derivatives in loc and scale are exact."""
    z, loc, scale = _randn(4, 3), _randn(3, seed=2), _randn(3, seed=3)
    expected = loc + scale * z
    result = kernels.affine_(z, loc, scale)
    assert result.data_ptr() == z.data_ptr()
    torch.testing.assert_close(result, expected)
    loc.requires_grad_()
    scale.requires_grad_()
    assert gradcheck(lambda m, s: kernels.affine_(_randn(4, 3), m, s), (loc, scale))


@pytest.mark.parametrize(
    "coefficients",
    ["floats", "0-d", "per-row"],
)
def test_scaled_sum_matches_the_formula(small_chunks: None, coefficients: str) -> None:
    """a x + b y with float, 0-d and (B, 1, 1) coefficients, chunked over B = 10 rows."""
    x, y = _randn(10, 3, 4, seed=1), _randn(10, 3, 4, seed=2)
    if coefficients == "floats":
        a, b = 0.8, -0.6
    elif coefficients == "0-d":
        a, b = torch.tensor(0.8, dtype=F64), torch.tensor(0.6, dtype=F64)
    else:
        a, b = _randn(10, 1, 1, seed=3), _randn(10, 1, 1, seed=4)
    torch.testing.assert_close(kernels.scaled_sum(a, x, b, y), a * x + b * y)


def test_scaled_sum_broadcast_operand_takes_the_plain_path(small_chunks: None) -> None:
    """y broadcasting against x (not the same shape) gives the broadcast result."""
    x, y = _randn(10, 3, seed=1), _randn(1, 3, seed=2)
    a, b = _randn(10, 1, seed=3), 0.5
    torch.testing.assert_close(kernels.scaled_sum(a, x, b, y), a * x + b * y)


def test_scaled_sum_gradcheck() -> None:
    """Derivatives in x, y and per-row coefficients are exact."""
    x, y = _randn(3, 2, seed=1).requires_grad_(), _randn(3, 2, seed=2).requires_grad_()
    a, b = _randn(3, 1, seed=3).requires_grad_(), _randn(3, 1, seed=4).requires_grad_()
    assert gradcheck(kernels.scaled_sum, (a, x, b, y))


def test_chunk_rows_fills_the_l2_caches_of_the_threads() -> None:
    """At least one row; rows * row_bytes within the budget of one L2 per thread."""
    budget = kernels._l2_bytes() * torch.get_num_threads()
    assert kernels.chunk_rows(budget * 10) == 1
    rows = kernels.chunk_rows(4096)
    assert rows * 4096 <= budget < (rows + 1) * 4096


# ---------------------------------------------------------------------- schur_condition
def _spd(d: int, *batch: int, seed: int = 0) -> torch.Tensor:
    a = _randn(*batch, d, d, seed=seed) / d**0.5
    return a @ a.mT + torch.eye(d, dtype=F64)


@pytest.mark.parametrize("batch", [(), (2,)])
def test_schur_condition_matches_the_textbook_formula(batch: tuple) -> None:
    """shift = S_12 S_22^{-1} r and L L^T = S_11 - S_12 S_22^{-1} S_21 (explicit inverse in
    float64), for a non-leading, unordered index set and a batch of residuals."""
    d = 9
    matrix = _spd(d, *batch, seed=1)
    observed, others = torch.tensor([7, 2, 4]), torch.tensor([0, 1, 3, 5, 6, 8])
    residual = _randn(5, *batch, 3, seed=2)
    shift, factor = kernels.schur_condition(matrix, observed, others, residual)
    s22 = matrix[..., observed[:, None], observed]
    s12 = matrix[..., others[:, None], observed]
    s11 = matrix[..., others[:, None], others]
    gain = s12 @ torch.linalg.inv(s22)
    expected_shift = (gain @ residual.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(shift, expected_shift, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(factor @ factor.mT, s11 - gain @ s12.mT, rtol=1e-12, atol=1e-12)
    assert bool((factor.triu(1) == 0).all())


def test_schur_condition_refuses_a_singular_block() -> None:
    """A singular observed block (two equal coordinates) returns None instead of NaN."""
    matrix = _spd(4, seed=3)
    matrix[1], matrix[:, 1] = matrix[0], matrix[:, 0]
    matrix[1, 1] = matrix[0, 0]
    result = kernels.schur_condition(
        matrix, torch.tensor([0, 1]), torch.tensor([2, 3]), _randn(2, seed=4)
    )
    assert result is None


def test_schur_condition_gradcheck() -> None:
    """Derivatives in the matrix and the residual are exact."""
    observed, others = torch.tensor([2, 0]), torch.tensor([1, 3])

    def conditioned(matrix: torch.Tensor, residual: torch.Tensor) -> tuple:
        symmetric = (matrix + matrix.mT) / 2
        shift, factor = kernels.schur_condition(symmetric, observed, others, residual)
        return shift, factor

    matrix = _spd(4, seed=5).requires_grad_()
    residual = _randn(3, 2, seed=6).requires_grad_()
    assert gradcheck(conditioned, (matrix, residual))


# ------------------------------------------------------- the kernels behind the structures
@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "dense"])
def test_rsample_draws_the_same_numbers_as_randn(kind: str) -> None:
    """rsample draws into its output buffer: with the same seed it equals
    loc + L torch.randn(shape), the stream torch.distributions uses."""
    loc, std = _randn(3, seed=1), _randn(3, seed=2).abs() + 0.5
    if kind == "isotropic":
        g, scale = Gaussian.isotropic(loc, std[0]), std[0] * torch.eye(3, dtype=F64)
    elif kind == "diagonal":
        g, scale = Gaussian.diagonal(loc, std), torch.diag(std)
    else:
        scale = _tril(3, seed=3)
        g = Gaussian(loc, scale_tril=scale)
    torch.manual_seed(7)
    draws = g.rsample((5,))
    torch.manual_seed(7)
    expected = loc + torch.randn(5, 3, dtype=F64) @ scale.mT
    torch.testing.assert_close(draws, expected)


def test_structured_log_prob_through_the_chunked_kernel_matches_torch(small_chunks: None) -> None:
    """Diagonal and isotropic log_prob over (C, H, W) events, chunked by 3 rows, equal
    Independent(Normal).log_prob."""
    loc = _randn(2, 3, 4, seed=1)
    std = _randn(2, 3, 4, seed=2).abs() + 0.5
    x = _randn(10, 2, 3, 4, seed=3)
    for g, s in ((Gaussian.diagonal(loc, std, 3), std), (Gaussian.isotropic(loc, 0.7, 3), None)):
        scale = torch.full_like(loc, 0.7) if s is None else s
        expected = Independent(Normal(loc, scale), 3).log_prob(x)
        torch.testing.assert_close(g.log_prob(x), expected, rtol=1e-12, atol=1e-12)


def test_condition_from_the_matrix_equals_the_qr_route() -> None:
    """A Gaussian given by its covariance matrix conditions by two Cholesky factorizations
    (schur_condition); given by its Cholesky factor, by the QR of the reordered joint: the two
    laws agree."""
    matrix, loc = _spd(8, seed=4), _randn(8, seed=5)
    value = _randn(6, 3, seed=6)
    by_matrix = Gaussian(loc, matrix).condition([5, 1, 6], value)
    by_factor = Gaussian(loc, scale_tril=torch.linalg.cholesky(matrix)).condition([5, 1, 6], value)
    torch.testing.assert_close(by_matrix.mean, by_factor.mean, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        by_matrix.covariance_matrix, by_factor.covariance_matrix, rtol=1e-12, atol=1e-12
    )
