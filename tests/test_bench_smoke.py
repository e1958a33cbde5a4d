"""Smoke test of `gausslab bench`: every workload of every suite runs at --quick size through
the public entry points, and the JSON report has the documented schema.

No timing is asserted (the machine is shared); each reported time must be a positive finite
number, each ratio must be the quotient of the reported medians, and every workload with a
reference anchor must agree with it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from benchmarks import algebra, core, diffusion
from benchmarks.runner import SUITES, run_cli
from gausslab.cli import app

TIMING_KEYS = {"median_s", "q1_s", "q3_s", "samples", "loops"}
ROW_KEYS = {
    "suite",
    "workload",
    "shape",
    "params",
    "gausslab",
    "anchors",
    "floor",
    "targets",
    "status",
    "reference",
    "max_rel_diff",
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """One quick run of every suite with the scaling plot, shared by the checks below."""
    folder = tmp_path_factory.mktemp("bench")
    json_path, plot_path = folder / "bench.json", folder / "scaling.png"
    exit_code = run_cli("all", "cpu", json_path, plot_path, quick=True)
    assert exit_code == 0
    return json.loads(json_path.read_text()), plot_path


def _check_timing(entry: dict) -> None:
    assert set(entry) >= TIMING_KEYS
    for key in ("median_s", "q1_s", "q3_s"):
        assert math.isfinite(entry[key]) and entry[key] > 0, (key, entry)
    assert entry["q1_s"] <= entry["median_s"] <= entry["q3_s"]
    assert entry["samples"] >= 1 and entry["loops"] >= 1


def test_report_header_names_suite_device_and_machine(report: tuple[dict, Path]) -> None:
    """The top level says what ran where: suite, device, torch version, CPU count."""
    data, _ = report
    assert data["suite"] == "all" and data["device"] == "cpu" and data["quick"] is True
    assert data["machine"]["torch"] == torch.__version__
    assert data["machine"]["cpu_count"] >= 1
    assert data["machine"]["gpu"] is None
    assert data["errors"] == []


def test_every_workload_of_every_suite_has_a_row(report: tuple[dict, Path]) -> None:
    """Each suite's workload list appears in the report, in order, with nothing missing."""
    data, _ = report
    cpu = torch.device("cpu")
    for name, module in (("core", core), ("algebra", algebra), ("diffusion", diffusion)):
        expected = [(w.name, w.shape) for w in module.workloads(cpu, True)]
        got = [(r["workload"], r["shape"]) for r in data["rows"] if r["suite"] == name]
        assert got == expected, name
    assert {row["suite"] for row in data["rows"]} == set(SUITES)


def test_rows_have_positive_finite_times_and_consistent_ratios(report: tuple[dict, Path]) -> None:
    """Every time is positive and finite; anchor ratio = anchor / gausslab and floor ratio =
    gausslab / floor, recomputed from the reported medians."""
    data, _ = report
    for row in data["rows"] + data["scaling"]:
        assert set(row) == ROW_KEYS
        _check_timing(row["gausslab"])
        ours = row["gausslab"]["median_s"]
        assert row["anchors"], row["workload"]
        for anchor in row["anchors"].values():
            _check_timing(anchor)
            assert anchor["ratio"] == pytest.approx(anchor["median_s"] / ours)
        if row["floor"] is not None:
            _check_timing(row["floor"])
            assert row["floor"]["ratio"] == pytest.approx(ours / row["floor"]["median_s"])
        # targets are not judged at --quick sizes
        assert all(target["met"] is None for target in row["targets"])
        assert row["status"] == "-"


def test_gausslab_agrees_with_each_reference_anchor(report: tuple[dict, Path]) -> None:
    """Where an anchor computes the same quantity, the results match (no speed from wrong
    answers): the recorded relative difference is below the float32 tolerance."""
    data, _ = report
    referenced = [row for row in data["rows"] if row["reference"] is not None]
    assert len(referenced) >= 8
    for row in referenced:
        assert row["reference"] in row["anchors"]
        assert 0 <= row["max_rel_diff"] <= 1e-4, (row["workload"], row["max_rel_diff"])


def test_scaling_curves_cover_d_and_n_and_are_plotted(report: tuple[dict, Path]) -> None:
    """--plot sweeps d and N for diagonal and dense log_prob and writes a PNG."""
    data, plot_path = report
    names = {row["workload"] for row in data["scaling"]}
    assert names == {
        "diagonal log_prob vs d",
        "dense log_prob vs d",
        "diagonal log_prob vs N",
        "dense log_prob vs N",
    }
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_a_device_is_one_line_and_exit_2() -> None:
    """`gausslab bench --device cuda` on a machine without CUDA: one line, exit code 2."""
    result = CliRunner().invoke(app, ["bench", "core", "--device", "cuda", "--quick"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "CUDA is not available" in lines[0]
    assert "Traceback" not in result.output


def test_unknown_suite_is_rejected_with_exit_2() -> None:
    """An unknown suite name is a usage error listing the valid suites, exit code 2."""
    result = CliRunner().invoke(app, ["bench", "nosuch", "--quick"])
    assert result.exit_code == 2
    assert "core, algebra, diffusion or all" in result.output
