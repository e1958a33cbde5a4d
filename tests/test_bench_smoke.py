"""Smoke test of `gausslab bench`: every workload of every suite runs at --quick size through
the command line, and the JSON report, the Markdown tables and the plot have the documented
form.

No timing is asserted (the machine is shared); each reported time must be a positive finite
number, each ratio must be the quotient of the reported medians, and every workload with a
reference anchor must agree with it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from gausslab.bench.floors import COPY, GEMM, READ, SOLVE
from gausslab.bench.report import update_results
from gausslab.bench.suites import SUITES, algebra, core, diffusion
from gausslab.cli import app

TIMING_KEYS = {"median_s", "q1_s", "q3_s", "samples", "loops"}
ROW_KEYS = {
    "suite",
    "workload",
    "shape",
    "params",
    "gausslab",
    "anchors",
    "floors",
    "flops",
    "targets",
    "status",
    "reference",
    "max_rel_diff",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    """One quick run of every suite with the scaling plot, through the command line with its
    output captured (as when piped), shared by the checks below: (report, plot, output)."""
    folder = tmp_path_factory.mktemp("bench")
    json_path = folder / "bench.json"
    args = ["bench", "all", "--quick", "--plot", "--out", str(folder), "--json", str(json_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(json_path.read_text()), folder / "scaling-cpu.png", result.output


@pytest.fixture(scope="module")
def report(run: tuple[dict, Path, str]) -> tuple[dict, Path]:
    return run[0], run[1]


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
        for floor in row["floors"].values():
            _check_timing(floor)
            assert floor["ratio"] == pytest.approx(ours / floor["median_s"])
        # targets are not judged at --quick sizes, but their ratios are reported
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
    """--plot sweeps d and N for diagonal, isotropic and dense log_prob, each against its
    floors, and writes a PNG."""
    data, plot_path = report
    names = {row["workload"] for row in data["scaling"]}
    assert names == {
        f"{kind} log_prob vs {variable}"
        for kind in ("diagonal", "isotropic", "dense")
        for variable in ("d", "N")
    }
    for row in data["scaling"]:
        expected = {GEMM, SOLVE} if row["workload"].startswith("dense") else {READ, COPY}
        assert set(row["floors"]) == expected, row["workload"]
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_elementwise_and_dense_workload_has_the_true_floors(
    report: tuple[dict, Path],
) -> None:
    """log_prob/q_sample rows are measured against one read and an in-place copy, draws
    against normal_ into a buffer, dense log_prob and KL against a GEMM of the same flops and
    a bare triangular solve; no row uses a fresh clone as its floor."""
    data, _ = report
    floors = {(row["workload"], row["shape"]): set(row["floors"]) for row in data["rows"]}
    for (name, _), names in floors.items():
        assert not any("clone" in floor for floor in names), name
        if name in ("diagonal log_prob", "isotropic log_prob", "q_sample"):
            assert names == {READ, COPY}, name
        if name.endswith("rsample"):
            assert "normal_ into buffer" in names, name
        if name in ("dense log_prob", "KL dense"):
            assert names == {GEMM, SOLVE}, name


def test_piped_table_is_not_cut_to_80_columns(run: tuple[dict, Path, str]) -> None:
    """Captured (non-terminal) output renders the table at its full width: the longest
    anchor name and a floor name appear whole, and no cell is elided."""
    output = run[2]
    assert "autograd of MixtureSameFamily.log_prob" in output
    assert "in-place copy" in output
    assert "…" not in output
    assert max(len(line) for line in output.splitlines()) > 80


def test_results_markdown_block_is_replaced_in_place(
    report: tuple[dict, Path], tmp_path: Path
) -> None:
    """update_results writes the generated block between its markers once, keeps the prose
    around it, and a second run replaces the block instead of appending another."""
    data, plot_path = report
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nprose before\n")
    update_results(results, data, plot_path)
    update_results(results, data, plot_path)
    text = results.read_text()
    assert text.startswith("# Results\n\nprose before\n")
    assert text.count("<!-- gausslab bench cpu: begin") == 1
    assert text.count("<!-- gausslab bench cpu: end -->") == 1
    for row in data["rows"]:
        assert f"| {row['workload']} | {row['shape']} |" in text
    assert f"]({os.path.relpath(plot_path, tmp_path)})" in text  # a link relative to the file


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
