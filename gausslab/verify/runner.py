"""Run the checks, judge them with one family-wise error rate, and report.

Monte Carlo results are z-tests and KS results are Kolmogorov-Smirnov tests. With m random
tests in a run, each gets the level alpha = FAMILY_ALPHA / m (Bonferroni): a z-test passes when

    |z| < z* = Phi^{-1}(1 - alpha / 2),

a KS test when its distance D < sqrt(log(2 / alpha) / (2 N)) (``clt.ks_critical``), so a
correct library fails a whole run with probability below FAMILY_ALPHA = 1e-3.
Reference results pass when |estimate - exact| <= tolerance. A check that raises fails with
the exception as its message.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from gausslab.clt import ks_critical
from gausslab.functional import normal_icdf
from gausslab.verify.registry import Check, Context, Result, select

__all__ = ["FAMILY_ALPHA", "Row", "VerifyReport", "run_checks", "run_cli", "z_threshold"]

FAMILY_ALPHA = 1e-3
"""Probability that a correct library fails a full run."""

WIDTH_WHEN_PIPED = 140
"""Table width when stdout is not a terminal (rich would assume 80 columns)."""

MIN_SAMPLES = 1000
"""Fewest Monte Carlo draws per estimate for which the z-tests' normal approximation holds."""


def z_threshold(m: int, family_alpha: float = FAMILY_ALPHA) -> float:
    """z* = Phi^{-1}(1 - alpha / 2) with alpha = family_alpha / m, computed as
    -Phi^{-1}(alpha / 2) to keep full precision."""
    alpha = family_alpha / max(m, 1)
    return -float(normal_icdf(torch.tensor(alpha / 2, dtype=torch.float64)))


@dataclass(frozen=True)
class Row:
    """A judged result: the JSON entry and the table row."""

    name: str
    kind: str
    passed: bool
    exact: float | None
    estimate: float | None
    se: float | None
    z: float | None
    error: float | None
    tolerance: float | None
    message: str | None = None

    def to_json(self) -> dict[str, object]:
        """The entry with NaN/inf written as null (JSON has neither)."""
        return {key: _finite_or_none(value) for key, value in self.__dict__.items()}


def _finite_or_none(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _judge(result: Result, z_star: float, alpha: float) -> Row:
    if result.kind == "monte_carlo":
        tolerance = z_star * result.se
    elif result.kind == "ks":
        tolerance = ks_critical(result.sample_size, alpha)
    else:
        tolerance = result.tolerance
    passed = bool(result.error <= tolerance) if math.isfinite(result.error) else False
    return Row(
        name=result.name,
        kind=result.kind,
        passed=passed,
        exact=result.exact,
        estimate=result.estimate,
        se=result.se,
        z=result.z,
        error=result.error,
        tolerance=tolerance,
    )


def _crashed(check: Check, error: Exception) -> Row:
    message = f"{type(error).__name__}: {error}".splitlines()[0]
    return Row(check.name, "error", False, None, None, None, None, None, None, message)


@dataclass(frozen=True)
class VerifyReport:
    """The judged rows of a run, the threshold z* its z-tests used, and how many random
    tests (z-tests and KS tests) shared the family-wise level."""

    rows: list[Row]
    z_star: float
    random_tests: int

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    def to_json(self, samples: int, seed: int, device: str) -> dict[str, object]:
        return {
            "checks": [row.to_json() for row in self.rows],
            "passed": self.passed,
            "samples": samples,
            "seed": seed,
            "device": device,
            "family_alpha": FAMILY_ALPHA,
            "z_threshold": self.z_star,
        }


def _check_seed(seed: int, name: str) -> int:
    """A seed per check, so a check's draws do not depend on which others run."""
    return zlib.crc32(f"{seed}:{name}".encode())


def run_checks(
    checks: Sequence[Check],
    context: Context,
    seed: int,
    on_done: Callable[[Check], None] | None = None,
) -> VerifyReport:
    """Run `checks`, each with the global torch RNG seeded from (seed, check name)."""
    results: list[Result | Row] = []
    fork_devices = [context.device] if context.device.type == "cuda" else []
    for item in checks:
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(_check_seed(seed, item.name))
            try:
                results.extend(item.run(context))
            except Exception as error:  # a crash is a failed check, not a crashed run
                results.append(_crashed(item, error))
        if on_done is not None:
            on_done(item)
    random = sum(isinstance(r, Result) and r.kind in ("monte_carlo", "ks") for r in results)
    z_star = z_threshold(random)
    alpha = FAMILY_ALPHA / max(random, 1)
    rows = [r if isinstance(r, Row) else _judge(r, z_star, alpha) for r in results]
    return VerifyReport(rows, z_star, random)


# ---------------------------------------------------------------------- command line


class UsageError(Exception):
    """A bad command-line argument: one line on stderr, exit status 2."""


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UsageError(f"--device {name!r} cannot be used: {reason}") from None
    return device


def _check_writable(json_path: Path) -> None:
    folder = json_path.parent
    if json_path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise UsageError(
            f"--json {str(json_path)!r} cannot be written: it must name a file in an existing, "
            "writable folder"
        )


def _validate(
    samples: int, only: str | None, device: str, json_path: Path | None
) -> tuple[list[Check], Context]:
    if json_path is not None:
        _check_writable(Path(json_path))
    if samples < MIN_SAMPLES:
        raise UsageError(
            f"--samples must be at least {MIN_SAMPLES} (the z-tests rely on the central "
            f"limit theorem), got {samples}"
        )
    checks = select(only)
    if not checks:
        raise UsageError(
            f"--only {only!r} matches no check (substring or glob over names such as "
            f"{', '.join(c.name for c in select(None)[:3])}, ...)"
        )
    return checks, Context(samples=samples, device=_device(device))


def _table_row(row: Row) -> tuple[str, ...]:
    """check, closed form, estimate, SE (tolerance for references), z (error for references)."""
    verdict = "[green]yes[/]" if row.passed else "[bold red]NO[/]"
    name = escape(row.name)
    if row.kind == "error":
        return (name, "—", "—", "—", escape(row.message or ""), verdict)
    exact, estimate = f"{row.exact:.7g}", f"{row.estimate:.7g}"
    if row.kind in ("reference", "ks"):
        tolerance, error = f"tol {row.tolerance:.1e}", f"err {row.error:.1e}"
        return (name, exact, estimate, tolerance, error, verdict)
    z = f"{row.z:+.2f}" if row.z is not None else "—"
    return (name, exact, estimate, f"{row.se:.2e}", z, verdict)


def _print_table(report: VerifyReport, console: Console) -> None:
    table = Table(title="gausslab verify", title_justify="left")
    table.add_column("check", overflow="fold")
    for header in ("closed form", "estimate", "SE", "z"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("pass", justify="center", no_wrap=True)
    for row in report.rows:
        table.add_row(*_table_row(row))
    console.print(table)
    failed = sum(not row.passed for row in report.rows)
    tests = (
        f"{report.random_tests} of them random tests (Monte Carlo z-tests at "
        f"|z| < {report.z_star:.2f} and KS tests at the same level; Bonferroni, family-wise "
        f"alpha = {FAMILY_ALPHA:g})"
        if report.random_tests
        else "all against precise references"
    )
    verdict = "[green]all passed[/]" if failed == 0 else f"[bold red]{failed} failed[/]"
    console.print(f"{len(report.rows)} comparisons, {tests}; {verdict}")


def run_cli(json_path: Path | None, samples: int, seed: int, only: str | None, device: str) -> int:
    """`gausslab verify`: 0 when every check passes, 1 when one fails, 2 for a usage error."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=WIDTH_WHEN_PIPED)
    try:
        checks, context = _validate(samples, only, device, json_path)
    except UsageError as error:
        Console(stderr=True).print(f"Error: {error}", highlight=False, soft_wrap=True)
        return 2
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("verifying", total=len(checks))

        def advance(done: Check) -> None:
            progress.update(task, advance=1, description=done.name)

        report = run_checks(checks, context, seed, on_done=advance)
    _print_table(report, console)
    if json_path is not None:
        payload = report.to_json(samples=samples, seed=seed, device=str(context.device))
        Path(json_path).write_text(json.dumps(payload, indent=2) + "\n")
    return 0 if report.passed else 1
