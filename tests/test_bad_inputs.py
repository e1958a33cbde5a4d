"""A catalogue of bad inputs across the public API: each is refused with a clear message.

Every library case must raise ``ValueError`` or ``TypeError`` (as listed) from gausslab's own
code: the message names the argument and the expected form (checked with a regex), the
innermost traceback frame lies inside the ``gausslab`` package (not in torch), and the
message carries none of torch's internal wording ("linalg.cholesky:", "The size of tensor
a", ...). Command-line cases exit with code 2 and one line, no traceback. Explorer cases go
through the real callback endpoint (the guard, then the page callback) and come back as a
200 whose alert names the bad control, or a 400 for a structurally invalid body.

Mismatched devices are simulated with the "meta" device (no second real device is needed),
built with validate_args=False where a finiteness check would have to read meta data.
"""

from __future__ import annotations

import json
import math
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import gausslab
from gausslab import Gaussian, GaussianMixture, clt, kl_divergence, product, wasserstein2
from gausslab.cli import app as cli_app
from gausslab.diffusion import Diffusion, Schedule

F64 = torch.float64
GAUSSLAB_DIR = str(Path(gausslab.__file__).resolve().parent)

# Phrases that only torch's own errors use: seeing one means the check was left to torch.
TORCH_INTERNAL_PHRASES = (
    "linalg.",
    "The size of tensor a",
    "must match the size of tensor",
    "Expected all tensors to be on the same device",
    "expected scalar type",
    "mat1 and mat2",
    "shape '[",
    "index out of range",
    "out of bounds",
)


def _loc(d: int = 2) -> torch.Tensor:
    return torch.zeros(d, dtype=F64)


def _spd(d: int = 2) -> torch.Tensor:
    a = torch.arange(1.0, d * d + 1, dtype=F64).reshape(d, d) / (d * d)
    return a @ a.T + torch.eye(d, dtype=F64)


G = Gaussian(_loc(2), _spd(2))
G3 = Gaussian(torch.arange(3.0, dtype=F64), _spd(3))
ISO = Gaussian.isotropic(_loc(2), torch.tensor(1.5, dtype=F64))
IMAGE = Gaussian.isotropic(torch.zeros(2, 3, 3, dtype=F64), torch.tensor(1.0, dtype=F64), 3)
G32 = Gaussian(torch.zeros(2), torch.eye(2))
BATCH3 = Gaussian.diagonal(torch.zeros(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64))
BATCH4 = Gaussian.diagonal(torch.zeros(4, 2, dtype=F64), torch.ones(4, 2, dtype=F64))
META = Gaussian.isotropic(
    torch.zeros(2, dtype=F64, device="meta"),
    torch.ones((), dtype=F64, device="meta"),
    validate_args=False,
)
MIX = GaussianMixture(
    torch.zeros(2, dtype=F64),
    Gaussian.isotropic(torch.zeros(2, 2, dtype=F64), torch.ones(2, dtype=F64)),
)
SCHEDULE = Schedule.linear(10)
DIFFUSION = Diffusion(SCHEDULE)
ZERO_SNR = Diffusion(Schedule.linear(10).rescale_zero_terminal_snr())
X0 = torch.zeros(3, 2, dtype=F64)


def _eps_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


@dataclass(frozen=True)
class Case:
    """One bad call: it must raise `error` with a message matching `match`."""

    id: str
    call: Callable[[], Any]
    error: type[Exception]
    match: str


C = Case
CASES = [
    # ---------------------------------------------------------------- Gaussian constructors
    C(
        "gaussian-scalar-loc",
        lambda: Gaussian(torch.tensor(0.0), torch.eye(1)),
        ValueError,
        r"loc must have shape \(\.\.\., d\)",
    ),
    C(
        "gaussian-cov-wrong-size",
        lambda: Gaussian(_loc(2), torch.eye(3, dtype=F64)),
        ValueError,
        r"covariance_matrix must have shape \(\.\.\., d, d\) with d = .* = 2",
    ),
    C(
        "gaussian-cov-not-square",
        lambda: Gaussian(_loc(2), torch.ones(3, 2, dtype=F64)),
        ValueError,
        r"covariance_matrix must (have shape|be a square)",
    ),
    C(
        "gaussian-no-matrix",
        lambda: Gaussian(_loc(2)),
        ValueError,
        r"exactly one of covariance_matrix, scale_tril or precision_matrix",
    ),
    C(
        "gaussian-two-matrices",
        lambda: Gaussian(_loc(2), _spd(), scale_tril=torch.eye(2)),
        ValueError,
        r"exactly one of covariance_matrix",
    ),
    C(
        "gaussian-cov-nonsymmetric",
        lambda: Gaussian(_loc(2), torch.tensor([[2.0, 1.0], [0.0, 2.0]], dtype=F64)),
        ValueError,
        r"covariance_matrix must be symmetric",
    ),
    C(
        "gaussian-cov-indefinite",
        lambda: Gaussian(_loc(2), torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=F64)),
        ValueError,
        r"covariance_matrix must be positive definite, but its smallest eigenvalue is -1",
    ),
    C(
        "gaussian-cov-singular",
        lambda: Gaussian(_loc(2), torch.ones(2, 2, dtype=F64)),
        ValueError,
        r"covariance_matrix must be positive definite",
    ),
    C(
        "gaussian-cov-zero",
        lambda: Gaussian(_loc(2), torch.zeros(2, 2, dtype=F64)),
        ValueError,
        r"covariance_matrix must be positive definite",
    ),
    C(
        "gaussian-cov-nan",
        lambda: Gaussian(_loc(2), torch.tensor([[1.0, math.nan], [math.nan, 1.0]], dtype=F64)),
        ValueError,
        r"covariance_matrix must be finite, but it contains nan",
    ),
    C(
        "gaussian-loc-inf",
        lambda: Gaussian(torch.tensor([0.0, math.inf], dtype=F64), _spd()),
        ValueError,
        r"loc must be finite, but it contains inf",
    ),
    C(
        "gaussian-loc-bool",
        lambda: Gaussian(torch.tensor([True, False]), _spd()),
        TypeError,
        r"loc must be a real floating tensor, got dtype torch.bool",
    ),
    C(
        "gaussian-loc-complex",
        lambda: Gaussian(torch.zeros(2, dtype=torch.complex64), _spd()),
        TypeError,
        r"loc must be a real floating tensor, got dtype torch.complex64",
    ),
    C(
        "gaussian-loc-string",
        lambda: Gaussian("origin", _spd()),
        TypeError,
        r"loc must be a tensor or a number, got str",
    ),
    C(
        "gaussian-cov-empty",
        lambda: Gaussian(torch.zeros(0, dtype=F64), torch.zeros(0, 0)),
        ValueError,
        r"covariance_matrix must have d >= 1",
    ),
    C(
        "gaussian-batch-mismatch",
        lambda: Gaussian(torch.zeros(3, 2, dtype=F64), _spd().expand(4, 2, 2)),
        ValueError,
        r"loc and the covariance batch shapes: shapes do not broadcast: loc \(3,\), covariance",
    ),
    C(
        "gaussian-cov-other-device",
        lambda: Gaussian(_loc(2), torch.eye(2, dtype=F64, device="meta")),
        ValueError,
        r"arguments must be on one device, got loc on cpu, covariance_matrix on meta",
    ),
    C(
        "gaussian-scale-tril-upper",
        lambda: Gaussian(_loc(2), scale_tril=torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=F64)),
        ValueError,
        r"scale_tril must be lower triangular",
    ),
    C(
        "gaussian-scale-tril-negative-diagonal",
        lambda: Gaussian(_loc(2), scale_tril=torch.diag(torch.tensor([1.0, -1.0], dtype=F64))),
        ValueError,
        r"the diagonal of scale_tril must be strictly positive, .* -1",
    ),
    C(
        "gaussian-precision-indefinite",
        lambda: Gaussian(_loc(2), precision_matrix=-torch.eye(2, dtype=F64)),
        ValueError,
        r"precision_matrix must be positive definite, but its smallest eigenvalue is -1",
    ),
    C(
        "isotropic-std-zero",
        lambda: Gaussian.isotropic(_loc(2), 0.0),
        ValueError,
        r"std must be strictly positive, but its smallest entry is 0",
    ),
    C(
        "isotropic-std-negative",
        lambda: Gaussian.isotropic(_loc(2), -2.0),
        ValueError,
        r"std must be strictly positive, but its smallest entry is -2",
    ),
    C(
        "isotropic-std-nan",
        lambda: Gaussian.isotropic(_loc(2), math.nan),
        ValueError,
        r"std must be finite, but it contains nan",
    ),
    C(
        "isotropic-std-inf",
        lambda: Gaussian.isotropic(_loc(2), math.inf),
        ValueError,
        r"std must be finite, but it contains inf",
    ),
    C(
        "isotropic-event-ndims-too-large",
        lambda: Gaussian.isotropic(_loc(2), 1.0, 2),
        ValueError,
        r"event_ndims must be between 0 and loc.dim\(\) = 1, got 2",
    ),
    C(
        "isotropic-event-ndims-float",
        lambda: Gaussian.isotropic(_loc(2), 1.0, 1.0),
        TypeError,
        r"event_ndims must be an int, got 1.0",
    ),
    C(
        "isotropic-std-batch-mismatch",
        lambda: Gaussian.isotropic(torch.zeros(3, 2), torch.ones(4)),
        ValueError,
        r"std must broadcast with the batch shape .*std \(4,\), loc_batch \(3,\)",
    ),
    C(
        "diagonal-std-shape",
        lambda: Gaussian.diagonal(_loc(2), torch.ones(3, dtype=F64)),
        ValueError,
        r"std must broadcast with loc: shapes do not broadcast: loc \(2,\), std \(3,\)",
    ),
    C(
        "diagonal-std-complex",
        lambda: Gaussian.diagonal(_loc(2), torch.ones(2, dtype=torch.complex128)),
        TypeError,
        r"std must be a real floating tensor",
    ),
    C(
        "univariate-std-negative",
        lambda: Gaussian.univariate(0.0, -1.0),
        ValueError,
        r"std must be strictly positive",
    ),
    # ---------------------------------------------------------------- densities
    C(
        "log-prob-wrong-event",
        lambda: G.log_prob(torch.zeros(3, dtype=F64)),
        ValueError,
        r"x must end with the event shape \(2,\), got x of shape \(3,\)",
    ),
    C(
        "log-prob-nan",
        lambda: G.log_prob(torch.tensor([0.0, math.nan], dtype=F64)),
        ValueError,
        r"x contains NaN",
    ),
    C(
        "log-prob-bool",
        lambda: G.log_prob(torch.tensor([True, False])),
        TypeError,
        r"x must be a real floating tensor",
    ),
    C(
        "mahalanobis-scalar",
        lambda: G.mahalanobis(torch.tensor(1.0, dtype=F64)),
        ValueError,
        r"x must end with the event shape \(2,\)",
    ),
    C(
        "icdf-p-above-one",
        lambda: Gaussian.univariate(0.0, 1.0).icdf(1.5),
        ValueError,
        r"p must lie in \[0, 1\].*1.5",
    ),
    C(
        "icdf-p-nan",
        lambda: Gaussian.univariate(0.0, 1.0).icdf(math.nan),
        ValueError,
        r"p must lie in \[0, 1\]",
    ),
    # ---------------------------------------------------------------- algebra
    C(
        "affine-matrix-wrong-columns",
        lambda: G.affine(torch.ones(2, 3, dtype=F64)),
        ValueError,
        r"A must be a matrix of shape \(\.\.\., d_out, 2\)",
    ),
    C(
        "affine-matrix-too-tall",
        lambda: G.affine(torch.ones(3, 2, dtype=F64)),
        ValueError,
        r"A must be a matrix of shape .* d_out <= 2",
    ),
    C(
        "affine-matrix-rank-deficient",
        lambda: G.affine(torch.ones(2, 2, dtype=F64)),
        ValueError,
        r"A must have full row rank",
    ),
    C("affine-zero-scalar", lambda: ISO.affine(0.0), ValueError, r"A must be nonzero"),
    C("affine-nan", lambda: G.affine(math.nan), ValueError, r"A must be finite"),
    C(
        "affine-vector-wrong-length",
        lambda: G.affine(torch.ones(3, dtype=F64)),
        ValueError,
        r"A must be a scalar, a vector of shape \(2,\) or \(1,\)",
    ),
    C(
        "affine-other-dtype",
        lambda: G.affine(torch.eye(2, dtype=torch.float32)),
        ValueError,
        r"A must have the dtype and device of the distribution",
    ),
    C(
        "affine-other-device",
        lambda: G.affine(torch.eye(2, dtype=F64, device="meta")),
        ValueError,
        r"A must have the dtype and device of the distribution .* got .* on meta",
    ),
    C(
        "affine-b-wrong-shape",
        lambda: G.affine(2.0, torch.ones(3, dtype=F64)),
        ValueError,
        r"b must broadcast",
    ),
    C(
        "affine-matrix-on-image",
        lambda: IMAGE.affine(torch.ones(4, 4, dtype=F64)),
        ValueError,
        r"A must be a scalar or broadcast to batch_shape \+ event_shape",
    ),
    C(
        "marginal-index-out-of-range",
        lambda: G.marginal([5]),
        ValueError,
        r"idx must lie in \[-2, 2\) .* got 5",
    ),
    C(
        "marginal-repeated-index",
        lambda: G3.marginal([0, -3]),
        ValueError,
        r"idx must not repeat a coordinate, got \[0, -3\]",
    ),
    C(
        "marginal-empty-index",
        lambda: G.marginal([]),
        ValueError,
        r"idx must name at least one coordinate",
    ),
    C(
        "marginal-float-tensor-index",
        lambda: G.marginal(torch.tensor([0.0])),
        TypeError,
        r"idx must be a 1-dim integer tensor",
    ),
    C("marginal-bool-index", lambda: G.marginal([True]), TypeError, r"idx must hold ints"),
    C(
        "marginal-float-index",
        lambda: G.marginal(0.5),
        TypeError,
        r"idx must be an int, a sequence of ints or a 1-dim integer tensor, got float",
    ),
    C(
        "marginal-image-event",
        lambda: IMAGE.marginal([0]),
        ValueError,
        r"marginal needs vector events .* got event_shape \(2, 3, 3\)",
    ),
    C(
        "condition-all-coordinates",
        lambda: G.condition([0, 1], torch.zeros(2, dtype=F64)),
        ValueError,
        r"idx must leave at least one of the 2 coordinates out",
    ),
    C(
        "condition-value-wrong-size",
        lambda: G3.condition([0], torch.zeros(2, dtype=F64)),
        ValueError,
        r"value must have shape \(\.\.\., 1\), one entry per conditioned coordinate",
    ),
    C(
        "condition-value-nan",
        lambda: G3.condition([0], torch.tensor([math.nan], dtype=F64)),
        ValueError,
        r"value must be finite",
    ),
    C(
        "condition-value-inf",
        lambda: G3.condition([1], torch.tensor([math.inf], dtype=F64)),
        ValueError,
        r"value must be finite",
    ),
    C(
        "condition-value-batch-mismatch",
        lambda: BATCH3.condition([0], torch.zeros(4, 1, dtype=F64)),
        ValueError,
        r"the batch dims of value .* must broadcast with the batch shape",
    ),
    C(
        "product-not-gaussian",
        lambda: product(G, torch.distributions.Normal(0.0, 1.0)),
        TypeError,
        r"h must be a gausslab.Gaussian, got Normal",
    ),
    C(
        "product-event-mismatch",
        lambda: product(G, G3),
        ValueError,
        r"h must have the event shape of g, \(2,\), got \(3,\)",
    ),
    C(
        "convolve-dtype-mismatch",
        lambda: G.convolve(G32),
        ValueError,
        r"h must have the dtype and device of g \(torch.float64 on cpu\), got torch.float32",
    ),
    C(
        "convolve-device-mismatch",
        lambda: ISO.convolve(META),
        ValueError,
        r"h must have the dtype and device of g .* got torch.float64 on meta",
    ),
    C(
        "convolve-batch-mismatch",
        lambda: BATCH3.convolve(BATCH4),
        ValueError,
        r"the batch shapes of g and h: shapes do not broadcast: g \(3,\), h \(4,\)",
    ),
    # ---------------------------------------------------------------- divergences
    C(
        "kl-event-mismatch",
        lambda: kl_divergence(G, G3),
        ValueError,
        r"q must have the event shape of p",
    ),
    C(
        "kl-not-gaussian",
        lambda: kl_divergence(G, 1.0),
        TypeError,
        r"q must be a gausslab.Gaussian, got float",
    ),
    C(
        "kl-dtype-mismatch",
        lambda: kl_divergence(G32, G),
        ValueError,
        r"q must have the dtype and device of p",
    ),
    C(
        "w2-device-mismatch",
        lambda: wasserstein2(ISO, META),
        ValueError,
        r"q must have the dtype and device of p .* on meta",
    ),
    C(
        "w2-batch-mismatch",
        lambda: wasserstein2(BATCH3, BATCH4),
        ValueError,
        r"the batch shapes of p and q: shapes do not broadcast",
    ),
    # ---------------------------------------------------------------- mixture
    C(
        "mixture-components-not-gaussian",
        lambda: GaussianMixture(torch.zeros(2), torch.distributions.Normal(0.0, 1.0)),
        TypeError,
        r"components must be a gausslab.Gaussian",
    ),
    C(
        "mixture-no-component-dim",
        lambda: GaussianMixture(torch.zeros(1, dtype=F64), G),
        ValueError,
        r"components must have at least one batch dim",
    ),
    C(
        "mixture-logits-wrong-k",
        lambda: GaussianMixture(torch.zeros(3, dtype=F64), MIX.components),
        ValueError,
        r"logits must have shape \(\.\.\., K\) with K = 2 components",
    ),
    C(
        "mixture-logits-nan",
        lambda: GaussianMixture(torch.tensor([0.0, math.nan], dtype=F64), MIX.components),
        ValueError,
        r"logits must be finite",
    ),
    C(
        "mixture-weights-negative",
        lambda: GaussianMixture.univariate([1.5, -0.5], [0.0, 1.0], [1.0, 1.0]),
        ValueError,
        r"weights must be strictly positive .*got a smallest entry of -0.5",
    ),
    C(
        "mixture-weights-not-normalized",
        lambda: GaussianMixture.univariate([0.5, 0.6], [0.0, 1.0], [1.0, 1.0]),
        ValueError,
        r"weights must sum to 1 over the last dim",
    ),
    C(
        "mixture-stds-zero",
        lambda: GaussianMixture.univariate([0.5, 0.5], [0.0, 1.0], [1.0, 0.0]),
        ValueError,
        r"stds must be strictly positive",
    ),
    C(
        "mixture-isotropic-stds-shape",
        lambda: GaussianMixture.isotropic(None, torch.zeros(2, 3), torch.ones(3)),
        ValueError,
        r"stds must have shape \(K,\) = \(2,\)",
    ),
    C(
        "mixture-log-prob-wrong-event",
        lambda: MIX.log_prob(torch.zeros(3, dtype=F64)),
        ValueError,
        r"x must end with the event shape \(2,\)",
    ),
    C(
        "mixture-score-nan",
        lambda: MIX.score(torch.tensor([math.nan, 0.0], dtype=F64)),
        ValueError,
        r"x contains NaN",
    ),
    C(
        "mixture-convolve-not-gaussian",
        lambda: MIX.convolve(MIX),
        TypeError,
        r"other must be a gausslab.Gaussian",
    ),
    # ---------------------------------------------------------------- schedules
    C("schedule-T-zero", lambda: Schedule.linear(0), ValueError, r"T must be an int >= 1, got 0"),
    C(
        "schedule-T-float",
        lambda: Schedule.linear(10.5),
        ValueError,
        r"T must be an int >= 1, got 10.5",
    ),
    C("schedule-T-bool", lambda: Schedule.cosine(True), ValueError, r"T must be an int >= 1"),
    C(
        "schedule-beta-range-reversed",
        lambda: Schedule.linear(10, 0.02, 0.01),
        ValueError,
        r"beta_start must be <= beta_end",
    ),
    C(
        "schedule-beta-end-above-one",
        lambda: Schedule.scaled_linear(10, 0.01, 1.5),
        ValueError,
        r"beta_end must be in \(0, 1\], got 1.5",
    ),
    C(
        "schedule-beta-start-nan",
        lambda: Schedule.sigmoid(10, math.nan, 0.02),
        ValueError,
        r"beta_start must be a finite real number, got nan",
    ),
    C(
        "schedule-betas-nan",
        lambda: Schedule.from_betas([0.1, math.nan]),
        ValueError,
        r"betas must be finite and in \(0, 1\], got betas\[1\] = nan",
    ),
    C(
        "schedule-betas-zero",
        lambda: Schedule.from_betas([0.0, 0.1]),
        ValueError,
        r"betas must be finite and in \(0, 1\], got betas\[0\] = 0.0",
    ),
    C(
        "schedule-betas-2d",
        lambda: Schedule.from_betas([[0.1, 0.2]]),
        ValueError,
        r"betas must be 1-D with length T >= 1 .*, got shape \(1, 2\)",
    ),
    C(
        "schedule-betas-empty",
        lambda: Schedule.from_betas([]),
        ValueError,
        r"betas must be 1-D with length T >= 1 .*, got shape \(0,\)",
    ),
    C(
        "schedule-betas-string",
        lambda: Schedule.from_betas("0.1"),
        ValueError,
        r"betas must be a 1-D sequence of real numbers",
    ),
    C(
        "schedule-beta-one-early",
        lambda: Schedule.from_betas([0.1, 1.0, 0.1]),
        ValueError,
        r"betas may equal 1 only at the last step t = T = 3",
    ),
    C(
        "schedule-cosine-negative-s",
        lambda: Schedule.cosine(10, s=-1.0),
        ValueError,
        r"s must be >= 0, got -1.0",
    ),
    C(
        "schedule-cosine-max-beta-zero",
        lambda: Schedule.cosine(10, max_beta=0.0),
        ValueError,
        r"max_beta must be in \(0, 1\], got 0.0",
    ),
    C(
        "schedule-rescale-T1",
        lambda: Schedule.linear(1).rescale_zero_terminal_snr(),
        ValueError,
        r"rescale_zero_terminal_snr needs T >= 2, got T = 1",
    ),
    C(
        "schedule-timesteps-too-many",
        lambda: SCHEDULE.timesteps(11),
        ValueError,
        r"steps must be in 1..T = 1..10, got 11",
    ),
    C(
        "schedule-timesteps-spacing",
        lambda: SCHEDULE.timesteps(5, "sideways"),
        ValueError,
        r"spacing must be one of \('trailing', 'leading', 'linspace'\), got 'sideways'",
    ),
    # ---------------------------------------------------------------- diffusion process
    C(
        "diffusion-not-schedule",
        lambda: Diffusion("linear"),
        TypeError,
        r"schedule must be a Schedule, got str",
    ),
    C(
        "q-sample-t-zero",
        lambda: DIFFUSION.q_sample(X0, 0),
        ValueError,
        r"t must be in 1..10, got 0",
    ),
    C(
        "q-sample-t-too-large",
        lambda: DIFFUSION.q_sample(X0, 11),
        ValueError,
        r"t must be in 1..10, got 11",
    ),
    C(
        "q-sample-t-float",
        lambda: DIFFUSION.q_sample(X0, 1.5),
        ValueError,
        r"t must be an int or an integer tensor in 1..10, got 1.5",
    ),
    C(
        "q-sample-t-bool",
        lambda: DIFFUSION.q_sample(X0, True),
        ValueError,
        r"t must be an int or an integer tensor in 1..10, got True",
    ),
    C(
        "q-sample-t-float-tensor",
        lambda: DIFFUSION.q_sample(X0, torch.tensor([1.0, 2.0, 3.0])),
        ValueError,
        r"t must be an integer tensor with values in 1..10, got dtype torch.float32",
    ),
    C(
        "q-sample-t-tensor-out-of-range",
        lambda: DIFFUSION.q_sample(X0, torch.tensor([1, 2, 30])),
        ValueError,
        r"t must be in 1..10, got 30",
    ),
    C(
        "q-sample-t-wrong-batch",
        lambda: DIFFUSION.q_sample(X0, torch.tensor([1, 2])),
        ValueError,
        r"t of shape \(2,\) does not match the batch dimension of x",
    ),
    C(
        "q-sample-t-2d",
        lambda: DIFFUSION.q_sample(X0, torch.ones(3, 1, dtype=torch.int64)),
        ValueError,
        r"t must be a scalar or have shape \(B,\), got shape \(3, 1\)",
    ),
    C(
        "q-sample-x0-int",
        lambda: DIFFUSION.q_sample(torch.zeros(3, 2, dtype=torch.int64), 1),
        ValueError,
        r"x0 must be a floating-point tensor, got dtype torch.int64",
    ),
    C(
        "q-sample-x0-scalar",
        lambda: DIFFUSION.q_sample(torch.tensor(0.0), 1),
        ValueError,
        r"x0 must have shape \(B, \*event_shape\) with a batch dimension",
    ),
    C(
        "q-sample-x0-list",
        lambda: DIFFUSION.q_sample([[0.0, 0.0]], 1),
        ValueError,
        r"x0 must be a floating-point torch.Tensor, got list",
    ),
    C(
        "q-sample-noise-shape",
        lambda: DIFFUSION.q_sample(X0, 1, torch.zeros(3, 3, dtype=F64)),
        ValueError,
        r"noise must have the shape of x0, \(3, 2\), got noise of shape \(3, 3\)",
    ),
    C(
        "q-marginal-t-negative",
        lambda: DIFFUSION.q_marginal(X0, -1),
        ValueError,
        r"t must be in 1..10, got -1",
    ),
    C(
        "q-step-x-prev-int",
        lambda: DIFFUSION.q_step(torch.zeros(3, 2, dtype=torch.int32), 1),
        ValueError,
        r"x_prev must be a floating-point tensor",
    ),
    C(
        "q-posterior-t-one",
        lambda: DIFFUSION.q_posterior(X0, X0, 1),
        ValueError,
        r"t must be in 2..T for q_posterior, got t = 1: .* point mass",
    ),
    C(
        "q-posterior-x0-shape",
        lambda: DIFFUSION.q_posterior(X0, X0[:2], 2),
        ValueError,
        r"x0 must have the shape of x_t, \(3, 2\), got x0 of shape \(2, 2\)",
    ),
    C(
        "p-mean-variance-prediction",
        lambda: DIFFUSION.p_mean_variance(X0, X0, 2, prediction="score"),
        ValueError,
        r"prediction must be one of \('eps', 'x0', 'v'\), got 'score'",
    ),
    C(
        "p-mean-variance-variance",
        lambda: DIFFUSION.p_mean_variance(X0, X0, 2, variance="big"),
        ValueError,
        r"variance must be one of .*got 'big'",
    ),
    C(
        "p-mean-variance-output-shape",
        lambda: DIFFUSION.p_mean_variance(torch.zeros(3, 4, dtype=F64), X0, 2),
        ValueError,
        r"model_output must have the shape of x_t: expected \(3, 2\), got model_output of shape",
    ),
    C(
        "p-mean-variance-clip-negative",
        lambda: DIFFUSION.p_mean_variance(X0, X0, 2, clip_x0=-1.0),
        ValueError,
        r"clip_x0 must be None or a positive number, got -1.0",
    ),
    C(
        "p-mean-variance-t-float-tensor",
        lambda: DIFFUSION.p_mean_variance(X0, X0, torch.full((3,), 2.0)),
        ValueError,
        r"t must be an integer tensor",
    ),
    # ---------------------------------------------------------------- samplers
    C(
        "sample-unknown-sampler",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), sampler="euler2"),
        ValueError,
        r"sampler must be one of \('ddpm', 'ddim', 'euler', 'heun', 'dpmpp2m', 'dpmpp3m', "
        r"'unipc'\), got 'euler2'",
    ),
    C(
        "sample-steps-zero",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), steps=0),
        ValueError,
        r"steps must be an int >= 1, got 0",
    ),
    C(
        "sample-steps-too-many",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), steps=11),
        ValueError,
        r"steps must be in 1..T = 1..10, got 11",
    ),
    C(
        "sample-steps-float",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), steps=2.5),
        ValueError,
        r"steps must be an int >= 1, got 2.5",
    ),
    C(
        "sample-eta-above-one",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), sampler="ddim", eta=2.0),
        ValueError,
        r"eta must be a real number in \[0, 1\], got 2.0",
    ),
    C(
        "sample-eta-with-ddpm",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), eta=0.5),
        ValueError,
        r"eta applies to sampler='ddim' only",
    ),
    C(
        "sample-shape-empty",
        lambda: DIFFUSION.sample(_eps_model, ()),
        ValueError,
        r"shape must be \(B, \*event_shape\) with positive ints, got \(\)",
    ),
    C(
        "sample-shape-int",
        lambda: DIFFUSION.sample(_eps_model, 5),
        ValueError,
        r"shape must be a sequence \(B, \*event_shape\), got 5",
    ),
    C(
        "sample-shape-zero",
        lambda: DIFFUSION.sample(_eps_model, (0, 2)),
        ValueError,
        r"shape must be \(B, \*event_shape\) with positive ints",
    ),
    C(
        "sample-timesteps-ascending",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), timesteps=[1, 5, 10]),
        ValueError,
        r"timesteps must be strictly descending, got \[1, 5, 10\]",
    ),
    C(
        "sample-timesteps-repeated",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), timesteps=[10, 5, 5]),
        ValueError,
        r"timesteps must be strictly descending",
    ),
    C(
        "sample-timesteps-out-of-range",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), timesteps=[12, 5]),
        ValueError,
        r"timesteps must be in 1..10, got 12",
    ),
    C(
        "sample-timesteps-float",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), timesteps=[9.5, 5.0]),
        ValueError,
        r"timesteps must be an integer tensor",
    ),
    C(
        "sample-timesteps-empty",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), timesteps=[]),
        ValueError,
        r"timesteps must be a non-empty 1-D sequence",
    ),
    C(
        "sample-steps-and-timesteps",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), steps=2, timesteps=[10, 5]),
        ValueError,
        r"pass either steps or timesteps, not both",
    ),
    C(
        "sample-model-not-callable",
        lambda: DIFFUSION.sample("unet", (2, 2)),
        TypeError,
        r"model must be callable as model\(x_t, t\), got str",
    ),
    C(
        "sample-model-wrong-output",
        lambda: DIFFUSION.sample(lambda x, t: x[:, :1], (2, 2)),
        ValueError,
        r"model\(x_t, t\) must return a tensor of x_t's shape \(2, 2\)",
    ),
    C(
        "sample-x-T-shape",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), x_T=torch.zeros(3, 2)),
        ValueError,
        r"x_T must have shape \(2, 2\) \(the `shape` argument\), got \(3, 2\)",
    ),
    C(
        "sample-x-T-int",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), x_T=torch.zeros(2, 2, dtype=torch.int64)),
        ValueError,
        r"x_T must be a floating-point tensor of shape \(B, \*event_shape\)",
    ),
    C(
        "sample-generator-wrong-kind",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), generator=0),
        TypeError,
        r"generator must be a torch.Generator, got int",
    ),
    C(
        "sample-zero-snr-eps",
        lambda: ZERO_SNR.sample(_eps_model, (2, 2), sampler="ddim"),
        ValueError,
        r"sampler='ddim' with prediction='eps' is undefined on this schedule",
    ),
    C(
        "sample-zero-snr-euler",
        lambda: ZERO_SNR.sample(_eps_model, (2, 2), sampler="euler", prediction="v"),
        ValueError,
        r"sampler='euler' with prediction='v' is undefined on this schedule",
    ),
    C(
        "sample-grid-unknown",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), grid="log"),
        ValueError,
        r"grid must be one of \('uniform', 'karras'\), got 'log'",
    ),
    C(
        "sample-karras-with-timesteps",
        lambda: DIFFUSION.sample(_eps_model, (2, 2), grid="karras", timesteps=[5, 2]),
        ValueError,
        r"timesteps cannot be given with grid='karras'",
    ),
    C(
        "sample-karras-zero-snr",
        lambda: ZERO_SNR.sample(_eps_model, (2, 2), grid="karras", prediction="v"),
        ValueError,
        r"grid='karras' needs a finite sigma at t = T, but this schedule has zero terminal SNR",
    ),
    C(
        "p-mean-variance-eps-zero-snr",
        lambda: ZERO_SNR.p_mean_variance(X0, X0, 10, prediction="eps"),
        ValueError,
        r"prediction='eps' cannot give x0 at t = T = 10: alphas_cumprod\[T\] = 0",
    ),
    C(
        "p-step-eps-zero-snr",
        lambda: ZERO_SNR.p_step(X0, X0, torch.tensor([10, 3, 1])),
        ValueError,
        r"prediction='eps' cannot give x0 at t = T = 10",
    ),
    C(
        "predict-x0-from-eps-zero-snr",
        lambda: ZERO_SNR.predict_x0_from_eps(X0, 10, X0),
        ValueError,
        r"prediction='eps' cannot give x0 at t = T = 10",
    ),
    C(
        "to-x0-eps-zero-snr",
        lambda: ZERO_SNR.to_x0_eps(X0, X0, 10, "eps"),
        ValueError,
        r"prediction='eps' cannot give x0 at t = T = 10",
    ),
    # ---------------------------------------------------------------- ground truth
    C(
        "marginal-data-not-gaussian",
        lambda: DIFFUSION.marginal(X0, 3),
        TypeError,
        r"data must be a gausslab Gaussian or GaussianMixture, got Tensor",
    ),
    C(
        "marginal-t-negative",
        lambda: DIFFUSION.marginal(G, -1),
        ValueError,
        r"t must be in 0..10, got -1",
    ),
    C(
        "marginal-t-vector",
        lambda: DIFFUSION.marginal(G, torch.tensor([1, 2])),
        ValueError,
        r"t must be one timestep \(an int or a 0-d tensor\), got shape \(2,\)",
    ),
    C(
        "marginal-data-batched",
        lambda: DIFFUSION.marginal(BATCH3, 1),
        ValueError,
        r"data must be one distribution \(batch_shape \(\)\), got batch_shape \(3,\)",
    ),
    C(
        "optimal-model-prediction",
        lambda: DIFFUSION.optimal_model(G, "score"),
        ValueError,
        r"prediction must be one of \('eps', 'x0', 'v'\), got 'score'",
    ),
    # ---------------------------------------------------------------- central limit theorem
    C(
        "clt-dist-not-distribution",
        lambda: clt.standardized_sums("normal", 10, 10),
        TypeError,
        r"dist must be a torch.distributions.Distribution, got str",
    ),
    C(
        "clt-dist-batched",
        lambda: clt.standardized_sums(torch.distributions.Normal(torch.zeros(2), 1.0), 10, 10),
        ValueError,
        r"dist must have scalar events and no batch dimensions",
    ),
    C(
        "clt-n-zero",
        lambda: clt.standardized_sums(torch.distributions.Exponential(1.0), 0, 10),
        ValueError,
        r"n must be an integer >= 1, got 0",
    ),
    C(
        "clt-num-samples-float",
        lambda: clt.standardized_sums(torch.distributions.Exponential(1.0), 10, 2.5),
        TypeError,
        r"num_samples must be an integer >= 2, got 2.5",
    ),
    C(
        "clt-variance-zero",
        lambda: clt.standardized_sums(torch.distributions.Exponential(1.0), 10, 10, variance=0.0),
        ValueError,
        r"standardizing needs variance > 0",
    ),
    C(
        "clt-unknown-start",
        lambda: clt.start_distribution("cauchy"),
        ValueError,
        r"unknown start distribution 'cauchy'; expected one of",
    ),
    C(
        "clt-unknown-parameter",
        lambda: clt.start_distribution("uniform", c=1.0),
        ValueError,
        r"start distribution 'uniform' got unknown parameter\(s\) \['c'\]",
    ),
    C(
        "clt-bernoulli-degenerate",
        lambda: clt.start_distribution("bernoulli", p=1.0),
        ValueError,
        r"p must be in \(0, 1\)",
    ),
    C(
        "clt-uniform-reversed",
        lambda: clt.start_distribution("uniform", a=1.0, b=0.0),
        ValueError,
        r"uniform needs a < b",
    ),
    C(
        "clt-ks-empty",
        lambda: clt.ks_distance(torch.zeros(0)),
        ValueError,
        r"z must be a non-empty 1-D tensor of samples, got shape \(0,\)",
    ),
    C(
        "clt-ks-nan",
        lambda: clt.ks_distance(torch.tensor([0.0, math.nan])),
        ValueError,
        r"z must be finite",
    ),
]


def _innermost_frame_file(error: BaseException) -> str:
    return traceback.extract_tb(error.__traceback__)[-1].filename


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_clearly(case: Case):
    """The bad call raises the listed ValueError/TypeError from gausslab's own checks, with a
    message naming the argument and the expected form, and no torch-internal wording."""
    with pytest.raises((ValueError, TypeError)) as info:
        case.call()
    assert info.type is case.error, f"{info.type.__name__}: {info.value}"
    message = str(info.value)
    assert info.match(case.match)
    assert not any(phrase in message for phrase in TORCH_INTERNAL_PHRASES), message
    assert _innermost_frame_file(info.value).startswith(GAUSSLAB_DIR), (
        f"raised from {_innermost_frame_file(info.value)}, not from gausslab's checks"
    )


def test_catalogue_ids_are_distinct_and_numerous():
    """The catalogue holds at least 50 distinct cases (the brief's floor)."""
    ids = [case.id for case in CASES]
    assert len(set(ids)) == len(ids)
    assert len(ids) >= 50


# -------------------------------------------------------------------------- command line
CLI_CASES = [
    ("verify-samples-zero", ["verify", "--samples", "0"], r"--samples must be at least"),
    ("verify-samples-negative", ["verify", "--samples", "-3"], r"--samples must be at least"),
    ("verify-only-nomatch", ["verify", "--only", "nomatch"], r"--only 'nomatch' matches no check"),
    ("verify-device-unknown", ["verify", "--device", "bogus"], r"--device 'bogus' cannot be used"),
    (
        "figures-out-unwritable",
        ["figures", "--out", "/proc/x"],
        r"--out '/proc/x' is not a writable folder",
    ),
    ("bench-unknown-suite", ["bench", "nosuchsuite"], r"suite must be one of .*'nosuchsuite'"),
    (
        "bench-device-unknown",
        ["bench", "core", "--device", "bogus"],
        r"--device must be cpu or cuda",
    ),
    (
        "explore-port-too-large",
        ["explore", "--port", "70000", "--no-browser"],
        r"cannot listen on 127.0.0.1:70000 .*--port",
    ),
    (
        "explore-port-negative",
        ["explore", "--port", "-1", "--no-browser"],
        r"cannot listen on 127.0.0.1:-1 .*--port",
    ),
]


@pytest.mark.parametrize(
    ("args", "match"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_cli_bad_flag_exits_2_with_one_line(args: list[str], match: str):
    """A bad flag exits with code 2 and a single line naming the flag, no traceback (nothing
    is served, computed or written before the check)."""
    result = CliRunner().invoke(cli_app, args)
    output = result.output.strip()
    assert result.exit_code == 2, (result.exit_code, output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert re.search(match, output), output


# -------------------------------------------------------------------------- explorer
EXPLORER_CASES = [
    # (id, callback output prefix, {control: value}, expected alert text)
    ("univariate-mu-text", "uni-graph", {"uni-mu": "abc"}, r"μ must be a number, got 'abc'"),
    ("univariate-sigma-zero", "uni-graph", {"uni-sigma": 0}, r"std must be strictly positive"),
    (
        "univariate-sigma-negative",
        "uni-graph",
        {"uni-sigma": -1.5},
        r"std must be strictly positive, but its smallest entry is -1.5",
    ),
    (
        "univariate-sigma-empty",
        "uni-graph",
        {"uni-sigma": None},
        r"σ must be a number, got nothing",
    ),
    ("univariate-mu-nan", "uni-graph", {"uni-mu": "nan"}, r"μ must be a finite number"),
    (
        "univariate-sigma-overflows-the-plot",
        "uni-graph",
        {"uni-sigma": 1e308},
        r"σ = 1e\+308 with μ = 0 cannot be drawn in double precision",
    ),
    (
        "univariate-mu-very-long-text",
        "uni-graph",
        {"uni-mu": "x" * 100_000},
        r"^μ must be a number, got 'x{38}…$",
    ),
    ("diffusion-T-huge", "diff-flow", {"diff-T": 10**9}, r"T must be between 2 and 2000"),
    (
        "diffusion-schedule-not-offered",
        "diff-flow",
        {"diff-schedule": "__init__"},
        r"schedule must be one of \['linear', 'cosine', 'scaled_linear', 'sigmoid'\]",
    ),
    ("univariate-mu-huge", "uni-graph", {"uni-mu": "1e400"}, r"μ must be a finite number"),
    ("univariate-mu-bool", "uni-graph", {"uni-mu": True}, r"μ must be a number, got True"),
    ("univariate-mu-list", "uni-graph", {"uni-mu": [1, 2]}, r"μ must be a number"),
    (
        "univariate-view-unknown",
        "uni-graph",
        {"uni-view": "3d"},
        r"view must be 'density' or 'log', got '3d'",
    ),
    (
        "contours-rho-one",
        "cont-graph",
        {"cont-rho": 1.0},
        r"Correlation ρ must lie strictly between -1 and 1, got 1",
    ),
    (
        "contours-var-negative",
        "cont-graph",
        {"cont-var1": -2},
        r"Variance σ₁² must be positive, got -2",
    ),
    (
        "conditioning-rho-above-one",
        "cond-graph",
        {"cond-rho": 1.5},
        r"Correlation ρ must lie strictly between -1 and 1, got 1.5",
    ),
    (
        "divergences-q-var-zero",
        "div-graph",
        {"div-q-var1": 0},
        r"Variance σ₁² must be positive, got 0",
    ),
    ("surface-var-negative", "surf-graph", {"surf-var2": -1}, r"Variance σ₂² must be positive"),
    ("clt-n-zero", "clt-graph", {"clt-n": 0}, r"\bn\b"),
    ("clt-n-fraction", "clt-graph", {"clt-n": "2.5"}, r"\bn\b.*whole number"),
    ("clt-n-huge", "clt-graph", {"clt-n": 10**9}, r"n must be at most 10000 on this page"),
    ("clt-start-unknown", "clt-graph", {"clt-start": "cauchy"}, r"start distribution|cauchy"),
    ("surface-var-text", "surf-graph", {"surf-var1": "big"}, r"must be a number, got 'big'"),
    (
        "maxent-nu-at-two",
        "maxent-graph",
        {"maxent-student_t": 2},
        r"nu of the Student-t must lie in \(2, inf\), got 2",
    ),
    (
        "maxent-beta-zero",
        "maxent-graph",
        {"maxent-generalized_normal": 0},
        r"beta of the generalized normal must lie in \(0, inf\), got 0",
    ),
    (
        "maxent-separation-one",
        "maxent-graph",
        {"maxent-mixture": 1},
        r"separation of the two-component mixture must lie in \[0, 1\), got 1",
    ),
    ("maxent-variance-zero", "maxent-graph", {"maxent-variance": 0}, r"variance must be strictly"),
    ("maxent-variance-text", "maxent-graph", {"maxent-variance": "wide"}, r"σ² must be a number"),
    ("brownian-steps-huge", "brown-paths", {"brown-n": 10**6}, r"steps must be between 1 and 500"),
    ("brownian-steps-fraction", "brown-paths", {"brown-n": 2.5}, r"steps must be a whole number"),
    ("brownian-law-unknown", "brown-paths", {"brown-steps": "levy"}, r"step law must be one of"),
    ("brownian-sigma-negative", "brown-paths", {"brown-sigma": -1}, r"σ must be positive, got -1"),
    ("brownian-t-above-one", "brown-paths", {"brown-t": 2}, r"t must lie in \(0, 1\], got 2"),
    (
        "brownian-diffusion-t-huge",
        "brown-forward",
        {"brown-diffusion-t": 10**9},
        r"diffusion step t must be between 1 and 100",
    ),
    (
        "brownian-diffusion-law-unknown",
        "brown-forward",
        {"brown-steps": None},
        r"step law must be one of",
    ),
]


def _alert_text(response_json: dict[str, Any]) -> str:
    """The message in the alert output of a callback response ('' when cleared)."""
    for prop in response_json["response"].values():
        children = prop.get("children")
        if isinstance(children, dict) and children.get("props", {}).get("role") == "alert":
            return str(children["props"]["children"])
    return ""


@pytest.mark.parametrize(
    ("prefix", "overrides", "match"),
    [c[1:] for c in EXPLORER_CASES],
    ids=[c[0] for c in EXPLORER_CASES],
)
def test_explorer_bad_control_value_shows_alert(
    explorer_app: Any, callback_body: Any, prefix: str, overrides: dict[str, Any], match: str
):
    """A malformed control value reaches the page callback and comes back as a 200 whose
    alert names the control and what it expects (the plot keeps its last good state)."""
    response = explorer_app.server.test_client().post(
        "/_dash-update-component", json=callback_body(prefix, overrides)
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    alert = _alert_text(response.get_json())
    assert re.search(match, alert), alert
    assert "Internal error" not in alert


def test_explorer_valid_request_clears_the_alert(explorer_app: Any, callback_body: Any):
    """The layout defaults are accepted: 200, and the alert output is cleared (None), so the
    bad-value cases above test the values, not a broken request."""
    response = explorer_app.server.test_client().post(
        "/_dash-update-component", json=callback_body("uni-graph", {})
    )
    assert response.status_code == 200
    assert _alert_text(response.get_json()) == ""


STRUCTURAL_CASES = [
    ("body-not-object", lambda body: [1, 2, 3]),
    ("unknown-output", lambda body: {**body, "output": "nosuch.children"}),
    ("output-not-string", lambda body: {**body, "output": 42}),
    ("inputs-missing", lambda body: {k: v for k, v in body.items() if k != "inputs"}),
    ("inputs-too-few", lambda body: {**body, "inputs": body["inputs"][:1]}),
    ("inputs-not-props", lambda body: {**body, "inputs": ["mu", "sigma", "view"]}),
    ("outputs-garbage", lambda body: {**body, "outputs": {"nested": [[[None]]]}}),
    ("changed-prop-ids-numbers", lambda body: {**body, "changedPropIds": [1, 2]}),
    # outputs that name other components than the callback declares: Dash's dispatcher
    # raised CallbackException("Output does not match callback definition"), a 500
    ("output-pattern-id-as-string", lambda body: _with_output(body, 0, id="uni-mu")),
    ("output-other-component", lambda body: _with_output(body, 1, id="page-content")),
    ("output-other-property", lambda body: _with_output(body, 4, property="figure")),
    ("output-pattern-id", lambda body: _with_output(body, 0, id={"ctl": "uni-mu"})),
    ("input-other-component", lambda body: _with_input(body, 2, id="cont-graph")),
    ("input-pattern-id-as-string", lambda body: _with_input(body, 0, id="uni-mu")),
    ("input-other-property", lambda body: _with_input(body, 0, property="n_clicks")),
    ("state-where-none-declared", lambda body: {**body, "state": body["inputs"][:1]}),
    ("browser-side-callback", lambda body: {**body, "output": _CLIENTSIDE_OUTPUT}),
]


_CLIENTSIDE_OUTPUT = (
    '..{"ctl":["MATCH"],"role":"slider"}.value...{"ctl":["MATCH"],"role":"text"}.value..'
)


def _with_output(body: dict[str, Any], index: int, **change: Any) -> dict[str, Any]:
    outputs = [dict(item) for item in body["outputs"]]
    outputs[index].update(change)
    return {**body, "outputs": outputs}


def _with_input(body: dict[str, Any], index: int, **change: Any) -> dict[str, Any]:
    inputs = [dict(item) for item in body["inputs"]]
    inputs[index].update(change)
    return {**body, "inputs": inputs}


@pytest.mark.parametrize(
    "pathname",
    ["Infinity", "..", "NaN", "-Infinity", "http://example.com/univariate", "\x00", "x" * 5000],
)
def test_explorer_route_outside_the_app_is_page_not_found(
    explorer_app: Any, callback_body: Any, pathname: str
):
    """A pathname that is not under the app's prefix (Dash's strip_relative_path raised
    UnsupportedRelativePath on it: a 500) is answered 200 with the not-found page, which
    echoes at most 40 characters of it."""
    response = explorer_app.server.test_client().post(
        "/_dash-update-component", json=callback_body("page-content", {"url": pathname})
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    page = json.dumps(response.get_json())
    assert "Page not found" in page
    assert len(page) < 1000


@pytest.mark.parametrize(
    ("pathname", "heading"),
    [
        ("/", "Gaussian distributions"),
        ("", "Gaussian distributions"),
        ("/univariate", "Univariate"),
        ("//univariate/", "Univ"),
    ],
)
def test_explorer_route_inside_the_app_finds_its_page(
    explorer_app: Any, callback_body: Any, pathname: str, heading: str
):
    response = explorer_app.server.test_client().post(
        "/_dash-update-component", json=callback_body("page-content", {"url": pathname})
    )
    assert response.status_code == 200
    assert heading in json.dumps(response.get_json(), ensure_ascii=False)


def test_explorer_deeply_nested_body_is_400(explorer_app: Any):
    """A body nested deeper than the JSON parser's recursion limit is refused with 400 (it
    used to escape the guard as a RecursionError: a 500)."""
    deep = "[" * 100_000 + "]" * 100_000
    response = explorer_app.server.test_client().post(
        "/_dash-update-component", data=deep, content_type="application/json"
    )
    assert response.status_code == 400
    assert "malformed callback request" in response.get_json()["error"]


@pytest.mark.parametrize(
    "mutate", [c[1] for c in STRUCTURAL_CASES], ids=[c[0] for c in STRUCTURAL_CASES]
)
def test_explorer_structurally_invalid_request_is_400(
    explorer_app: Any, callback_body: Any, mutate: Callable[[dict[str, Any]], Any]
):
    """A body that is not a dispatchable callback request gets a 400 naming what is wrong
    (the guard in gausslab.explorer.guard), never a 500."""
    body = mutate(callback_body("uni-graph", {}))
    response = explorer_app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert "malformed callback request" in response.get_json()["error"]
