"""The registry of checks and the results they return.

A check verifies one identity of the library and returns one ``Result`` per compared number:

- Monte Carlo (``mean_result``): the estimate is the sample mean of N i.i.d. draws whose
  expectation the closed form gives, with standard error se = std(draws) / sqrt(N), so that
  z = (estimate - exact) / se is approximately N(0, 1) when the library is right.
- Precise reference (``reference_result``): a deterministic value compared with a
  high-precision reference (mpmath, quadrature, float64 linear algebra); it passes when
  |estimate - exact| <= tolerance.
- Kolmogorov-Smirnov (``ks_result``): the distance D = sup |F_N - F| between N draws and the
  exact CDF F (exact = 0, estimate = D); it passes when D is below the critical value at the
  run's Bonferroni level, like a z-test.

Checks register themselves with the ``@check(name, description)`` decorator; ``CHECKS`` maps
each name to its ``Check`` and ``select(pattern)`` picks some of them.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "CHECKS",
    "Check",
    "Context",
    "Result",
    "check",
    "ks_result",
    "mean_result",
    "mean_results",
    "moment_results",
    "reference_result",
    "select",
    "worst_reference",
]


@dataclass(frozen=True)
class Context:
    """What a check runs with: Monte Carlo draws per estimate, device and dtype."""

    samples: int
    device: torch.device
    dtype: torch.dtype = torch.float64

    def tensor(self, data: object) -> Tensor:
        """`data` as a tensor in the check's dtype on its device."""
        return torch.as_tensor(data, dtype=self.dtype, device=self.device)


@dataclass(frozen=True)
class Result:
    """One compared number: the closed form `exact` against `estimate`.

    Monte Carlo results carry the standard error `se` of the estimate; precise-reference
    results carry the `tolerance` on |estimate - exact| instead; KS results carry the
    `sample_size` N whose critical distance the runner sets.
    """

    name: str
    exact: float
    estimate: float
    se: float | None = None
    tolerance: float | None = None
    sample_size: int | None = None

    def __post_init__(self) -> None:
        given = sum(x is not None for x in (self.se, self.tolerance, self.sample_size))
        if given != 1:
            raise ValueError(
                f"result {self.name!r} needs exactly one of se, tolerance and sample_size"
            )

    @property
    def kind(self) -> str:
        if self.se is not None:
            return "monte_carlo"
        return "reference" if self.sample_size is None else "ks"

    @property
    def error(self) -> float:
        """|estimate - exact|."""
        return abs(self.estimate - self.exact)

    @property
    def z(self) -> float | None:
        """(estimate - exact) / se for Monte Carlo results, None for references."""
        if self.se is None:
            return None
        if self.se == 0.0:
            return 0.0 if self.error == 0.0 else math.copysign(math.inf, self.estimate - self.exact)
        return (self.estimate - self.exact) / self.se


def reference_result(name: str, estimate: object, exact: object, tolerance: float) -> Result:
    """A deterministic library value against a precise reference, |estimate - exact| <= tol."""
    return Result(name, exact=float(exact), estimate=float(estimate), tolerance=tolerance)


def worst_reference(
    name: str, pairs: Iterable[tuple[object, object]], rtol: float, floor: float = 0.0
) -> Result:
    """The (estimate, exact) pair with the largest relative error, judged with tolerance
    rtol * max(|exact|, floor)."""

    def scale(pair: tuple[object, object]) -> float:
        return max(abs(float(pair[1])), floor)

    estimate, exact = max(pairs, key=lambda p: abs(float(p[0]) - float(p[1])) / scale(p))
    return reference_result(name, estimate, exact, rtol * scale((estimate, exact)))


def ks_result(name: str, distance: float, sample_size: int) -> Result:
    """The KS distance sup |F_N - F| of `sample_size` draws from their exact CDF F, judged
    against the critical distance at the run's Bonferroni level (``clt.ks_critical``)."""
    return Result(name, exact=0.0, estimate=float(distance), sample_size=int(sample_size))


def mean_result(name: str, draws: Tensor, exact: object) -> Result:
    """Sample mean of the i.i.d. `draws` (shape (N,)) against their expectation `exact`.

    estimate = mean(draws), se = std(draws) / sqrt(N) (unbiased std).
    """
    draws = draws.detach().to(torch.float64).reshape(-1)
    count = draws.numel()
    se = float(draws.std() / math.sqrt(count))
    return Result(name, exact=float(exact), estimate=float(draws.mean()), se=se)


def _label(index: tuple[int, ...]) -> str:
    return "[" + ",".join(str(i) for i in index) + "]"


def mean_results(name: str, draws: Tensor, exact: Tensor) -> list[Result]:
    """``mean_result`` for every entry of a statistic: draws (N, *shape), exact (*shape).

    Rows are named ``name[i]`` (``name[i,j]`` for matrices).
    """
    exact = exact.detach().to(torch.float64).cpu()
    flat = draws.detach().reshape(draws.shape[0], -1)
    return [
        mean_result(f"{name}{_label(index)}", flat[:, k], exact[index])
        for k, index in enumerate(itertools.product(*map(range, exact.shape)))
    ]


def moment_results(name: str, x: Tensor, mean: Tensor, covariance: Tensor) -> list[Result]:
    """Mean and covariance of samples x (N, d) against a closed-form law N(mean, covariance).

    Rows ``name.mean[i]``: E[x_i] = mean_i; rows ``name.cov[i,j]`` (i <= j):
    E[(x_i - mean_i)(x_j - mean_j)] = covariance_ij, each a sample mean of i.i.d. terms.
    """
    mean = mean.detach().to(device=x.device, dtype=x.dtype)
    covariance = covariance.detach().to(torch.float64).cpu()
    results = mean_results(f"{name}.mean", x, mean)
    centered = x.detach() - mean
    d = x.shape[-1]
    for i in range(d):
        for j in range(i, d):
            products = centered[:, i] * centered[:, j]
            results.append(mean_result(f"{name}.cov[{i},{j}]", products, covariance[i, j]))
    return results


@dataclass(frozen=True)
class Check:
    """One identity: `run(context)` returns its results; `name` is topic.identity."""

    name: str
    description: str
    run: Callable[[Context], Sequence[Result]]


CHECKS: dict[str, Check] = {}
"""Every registered check by name, in registration order."""


def check(name: str, description: str) -> Callable[[Callable], Callable]:
    """Register the decorated function ``run(context) -> list[Result]`` as a check."""

    def register(run: Callable[[Context], Sequence[Result]]) -> Callable:
        if name in CHECKS:
            raise ValueError(f"a check named {name!r} is already registered")
        CHECKS[name] = Check(name, description, run)
        return run

    return register


def select(pattern: str | None) -> list[Check]:
    """The registered checks whose name matches `pattern`: a glob when it holds one of
    ``*?[``, a substring otherwise; all checks for None."""
    import gausslab.verify.checks  # noqa: F401  (registers the library's checks)

    if pattern is None:
        return list(CHECKS.values())
    if any(c in pattern for c in "*?["):
        return [c for c in CHECKS.values() if fnmatch.fnmatchcase(c.name, pattern)]
    return [c for c in CHECKS.values() if pattern in c.name]
