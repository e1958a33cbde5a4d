"""`gausslab verify`: checks can fail, the real ones pass; exit codes, JSON schema, usage errors."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

import gausslab.algebra
from gausslab.cli import app
from gausslab.verify import registry, runner
from gausslab.verify.registry import CHECKS, Check, Context, Result, mean_result

SAMPLES = 20_000
"""Reduced Monte Carlo size for the tests (the z-tests stay calibrated at any size)."""

CLI = CliRunner()


def invoke(*args: str):
    return CLI.invoke(app, ["verify", *args])


def off_by_ten_percent(ctx: Context) -> list[Result]:
    """E[X] = 1 for X ~ N(1, 1), claimed as 1.1: a wrong closed form."""
    draws = 1.0 + torch.randn(ctx.samples, dtype=ctx.dtype, device=ctx.device)
    return [mean_result("injected.wrong_mean", draws, 1.1)]


@pytest.fixture
def wrong_check(monkeypatch):
    monkeypatch.setitem(
        CHECKS, "injected.wrong_mean", Check("injected.wrong_mean", "wrong", off_by_ten_percent)
    )


def test_z_threshold_is_bonferroni_quantile():
    """z* = Phi^{-1}(1 - 1e-3 / (2 m)): 3.29 for m = 1 and 4.42 for m = 100 (normal tables)."""
    assert runner.z_threshold(1) == pytest.approx(3.2905267, abs=1e-6)
    assert runner.z_threshold(100) == pytest.approx(4.4171734, abs=1e-6)


def test_injected_wrong_closed_form_fails_with_exit_1_and_json(wrong_check, tmp_path):
    """A check whose closed form is off by 10% fails: exit 1, "passed": false in the JSON."""
    path = tmp_path / "report.json"
    result = invoke("--only", "injected.*", "--samples", str(SAMPLES), "--json", str(path))
    assert result.exit_code == 1, result.output
    report = json.loads(path.read_text())
    assert report["passed"] is False
    (entry,) = report["checks"]
    assert entry["passed"] is False and abs(entry["z"]) > report["z_threshold"]


def test_monkeypatched_wrong_library_formula_fails(monkeypatch, tmp_path):
    """Breaking gausslab.algebra.convolve (its law scaled by 1.05) makes algebra.convolve fail."""
    correct = gausslab.algebra.convolve

    def wrong(g, h):
        law = correct(g, h)
        return law.affine(1.05)  # 5% too wide on every coordinate

    monkeypatch.setattr(gausslab.algebra, "convolve", wrong)
    path = tmp_path / "report.json"
    result = invoke("--only", "algebra.convolve", "--samples", str(SAMPLES), "--json", str(path))
    assert result.exit_code == 1, result.output
    assert json.loads(path.read_text())["passed"] is False


def test_wrong_reference_value_fails(monkeypatch):
    """A precise-reference check fails when the library value is off by more than its
    tolerance (here normal_log_cdf shifted by 1e-9)."""
    from gausslab import functional

    correct = functional.normal_log_cdf
    monkeypatch.setattr(functional, "normal_log_cdf", lambda *a, **k: correct(*a, **k) + 1e-9)
    context = Context(samples=SAMPLES, device=torch.device("cpu"))
    report = runner.run_checks(registry.select("univariate.cdf"), context, seed=0)
    by_name = {row.name: row for row in report.rows}
    assert by_name["univariate.cdf"].passed
    assert not by_name["univariate.log_cdf"].passed


def test_crashing_check_is_reported_as_failed(monkeypatch):
    """A check that raises fails with the exception as its message instead of crashing."""

    def crash(ctx: Context) -> list[Result]:
        raise RuntimeError("boom")

    monkeypatch.setitem(CHECKS, "injected.crash", Check("injected.crash", "crash", crash))
    context = Context(samples=SAMPLES, device=torch.device("cpu"))
    report = runner.run_checks(registry.select("injected.crash"), context, seed=0)
    (row,) = report.rows
    assert not report.passed and row.kind == "error" and "boom" in row.message


def test_real_checks_pass_at_default_seed_and_json_schema(tmp_path):
    """Every registered check passes at seed 0 with reduced samples; the JSON has the
    DESIGN.md schema with finite numbers (null only for a reference's se and z)."""
    path = tmp_path / "report.json"
    result = invoke("--samples", str(SAMPLES), "--json", str(path))
    assert result.exit_code == 0, result.output
    report = json.loads(path.read_text())
    assert report["passed"] is True
    names = [entry["name"] for entry in report["checks"]]
    assert len(names) == len(set(names)), "row names must be unique"
    checked = {name.split("[")[0].split(".")[0] for name in names}
    assert {"univariate", "mvn", "algebra", "exercise1", "exercise2", "exercise4"} <= checked
    for entry in report["checks"]:
        assert {"name", "passed", "exact", "estimate", "se", "z"} <= entry.keys()
        assert entry["passed"] is True
        assert math.isfinite(entry["exact"]) and math.isfinite(entry["estimate"])
        if entry["kind"] == "monte_carlo":
            assert entry["se"] > 0 and abs(entry["z"]) < report["z_threshold"]
        else:
            assert entry["se"] is None and entry["error"] <= entry["tolerance"]
    assert "all passed" in result.output


def test_seed_makes_runs_reproducible_and_independent_of_selection():
    """The same seed gives the same estimates, whether a check runs alone or with others."""
    context = Context(samples=2000, device=torch.device("cpu"))
    alone = runner.run_checks(registry.select("mvn.sampling"), context, seed=3)
    together = runner.run_checks(registry.select("mvn.*"), context, seed=3)
    other_seed = runner.run_checks(registry.select("mvn.sampling"), context, seed=4)
    estimates = {row.name: row.estimate for row in together.rows}
    assert all(estimates[row.name] == row.estimate for row in alone.rows)
    assert [r.estimate for r in alone.rows] != [r.estimate for r in other_seed.rows]


def test_only_takes_a_substring_or_a_glob():
    """--only 'cdf' selects by substring, 'univariate.*' by glob."""
    assert [c.name for c in registry.select("cdf")] == ["univariate.cdf"]
    assert all(c.name.startswith("univariate.") for c in registry.select("univariate.*"))
    assert len(registry.select("univariate.*")) >= 4


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--only", "no-such-check"], "--only 'no-such-check' matches no check"),
        (["--samples", "0"], "--samples must be at least"),
        (["--samples", "-5"], "--samples must be at least"),
        (["--device", "warp-drive"], "--device 'warp-drive' cannot be used"),
        (["--json", "/nonexistent-folder/report.json"], "cannot be written"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, fragment):
    """Bad --only, --samples <= 0, an unknown device or an unwritable --json: exit 2, one
    line naming the option, no traceback."""
    result = invoke(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_cuda_exits_2():
    """--device cuda on a machine without CUDA: exit 2 with one line."""
    result = invoke("--device", "cuda", "--only", "univariate.cdf")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
