"""`gausslab bench`: run suites, print a rich table, write JSON, Markdown and the scaling plot.

For each workload the report shows gausslab's time (and GFLOP/s where the workload counts
its flops), each anchor's time with the ratio anchor / gausslab (above 1: gausslab is
faster), each floor's time with the ratio gausslab / floor (how many floors gausslab
costs), and every target with the ratio it judges and PASS/MISS. Every time is the median
over interleaved rounds, with the interquartile range in brackets.

JSON: {"suite", "device", "quick", "machine": {...}, "rows": [...], "scaling": [...],
"errors": [...]}. The exit code is 0 when every workload ran and agreed with its reference
anchor (a missed speed target is reported, not an error), 1 when one failed, 2 for bad
arguments. Targets are judged only at full size (not with --quick).

`gausslab bench all --plot` regenerates everything under `out` (default
benchmarks/results): `<device>.json`, `scaling-<device>.png`, and the generated tables of
`results` (default benchmarks/RESULTS.md) between its `<!-- gausslab bench ... -->` markers.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from gausslab.bench import report
from gausslab.bench.harness import Candidates, Workload, measure
from gausslab.bench.suites import SUITES, load

__all__ = ["machine_info", "run_cli", "run_suites"]

# Largest max|gausslab - anchor| / max(1, max|anchor|) accepted as "the same result".
_AGREEMENT = {torch.float64: 1e-8, torch.float32: 1e-4}


def _resolve_device(device: str) -> torch.device | str:
    """The torch device, or a one-line reason why it cannot be used."""
    if device not in ("cpu", "cuda"):
        return f"--device must be cpu or cuda, got {device!r}"
    if device == "cuda" and not torch.cuda.is_available():
        build = torch.version.cuda or "CPU-only"
        return (
            f"--device cuda: CUDA is not available here (torch {torch.__version__}, "
            f"{build} build); use --device cpu"
        )
    return torch.device(device)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device) -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
    }
    for package in ("numpy", "scipy", "diffusers"):
        try:
            info[package] = importlib.import_module(package).__version__
        except ImportError:
            info[package] = None
    return info


def _as_tensor(result: object) -> torch.Tensor:
    if isinstance(result, torch.Tensor):
        return result.detach().cpu().to(torch.float64)
    return torch.as_tensor(result, dtype=torch.float64)


def _relative_difference(ours: object, reference: object) -> float:
    a, b = _as_tensor(ours), _as_tensor(reference)
    if a.shape != b.shape:
        raise ValueError(f"gausslab returned shape {tuple(a.shape)}, the anchor {tuple(b.shape)}")
    return float((a - b).abs().max() / max(1.0, float(b.abs().max())))


def _tolerance(result: object) -> float:
    dtype = result.dtype if isinstance(result, torch.Tensor) else torch.float64
    return _AGREEMENT.get(dtype, 1e-2)


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"warmup": 1, "repeats": 3, "min_sample": 0.0}
    return {"warmup": 2, "repeats": 9, "min_sample": 2e-3}


def _run_workload(
    suite: str, workload: Workload, device: torch.device, quick: bool
) -> dict[str, Any]:
    """Measure one workload and judge its targets (only at full size)."""
    candidates: Candidates = workload.setup()
    calls: dict[str, Callable[[], object]] = {"gausslab": candidates.gausslab}
    calls.update({f"anchor:{name}": call for name, call in candidates.anchors.items()})
    calls.update({f"floor:{name}": call for name, call in candidates.floors.items()})
    timings = {
        name: timing.per(workload.calls_per_run)
        for name, timing in measure(calls, device=device, **_settings(quick)).items()
    }
    ours = timings["gausslab"].median
    anchors = {}
    for name in candidates.anchors:
        timing = timings[f"anchor:{name}"]
        anchors[name] = {**timing.as_dict(), "ratio": timing.median / ours}
    floors = {}
    for name in candidates.floors:
        timing = timings[f"floor:{name}"]
        floors[name] = {**timing.as_dict(), "ratio": ours / timing.median}
    anchor_ratios = {name: entry["ratio"] for name, entry in anchors.items()}
    floor_ratios = {name: entry["ratio"] for name, entry in floors.items()}
    targets = []
    for target in workload.targets:
        ratio = target.ratio(anchor_ratios, floor_ratios)
        met = None if quick or ratio is None else target.met(ratio)
        targets.append({"target": target.describe(), "ratio": ratio, "met": met})
    judged = [t["met"] for t in targets if t["met"] is not None]
    status = "-" if not judged else "PASS" if all(judged) else "MISS"
    gausslab = timings["gausslab"].as_dict()
    gausslab["gflop_per_s"] = workload.flops / ours / 1e9 if workload.flops else None
    row: dict[str, Any] = {
        "suite": suite,
        "workload": workload.name,
        "shape": workload.shape,
        "params": dict(workload.params),
        "flops": workload.flops,
        "gausslab": gausslab,
        "anchors": anchors,
        "floors": floors,
        "targets": targets,
        "status": status,
        "reference": candidates.reference,
        "max_rel_diff": None,
    }
    if candidates.reference is not None:
        result = candidates.gausslab()
        difference = _relative_difference(result, candidates.anchors[candidates.reference]())
        row["max_rel_diff"] = difference
        if not difference <= _tolerance(result):
            row["status"] = "WRONG"
    return row


def _run_workloads(
    suite: str,
    workloads: list[Workload],
    device: torch.device,
    quick: bool,
    console: Console,
    errors: list[dict[str, str]],
) -> list[dict[str, Any]]:
    rows = []
    for workload in workloads:
        console.print(f"[dim]{suite}: {workload.name} ({workload.shape})[/]")
        try:
            rows.append(_run_workload(suite, workload, device, quick))
        except Exception as error:  # a broken workload is reported, the others still run
            message = f"{type(error).__name__}: {error}"
            errors.append({"suite": suite, "workload": workload.name, "error": message})
            console.print(f"[red]{suite}: {workload.name} ({workload.shape}) failed: {message}[/]")
    return rows


def run_suites(
    names: list[str], device: torch.device, quick: bool, scaling: bool, console: Console
) -> dict[str, Any]:
    """Run the named suites (and, with `scaling`, every suite's scaling sweep); the report."""
    errors: list[dict[str, str]] = []
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    for name in names:
        try:
            module = load(name)
        except ImportError as error:
            errors.append({"suite": name, "workload": "*", "error": f"ImportError: {error}"})
            console.print(f"[red]suite {name} cannot run: {error}[/]")
            continue
        suite_rows = _run_workloads(
            name, module.workloads(device, quick), device, quick, console, errors
        )
        rows.extend(suite_rows)
        if suite_rows:
            console.print(report.table(f"gausslab bench {name} on {device.type}", suite_rows))
        if scaling and hasattr(module, "scaling_workloads"):
            sweep = module.scaling_workloads(device, quick)
            curves.extend(_run_workloads(name, sweep, device, quick, console, errors))
    return {
        "suite": names[0] if len(names) == 1 else "all",
        "device": device.type,
        "quick": quick,
        "machine": machine_info(device),
        "rows": rows,
        "scaling": curves,
        "errors": errors,
    }


def _console() -> Console:
    """A console for the report: piped or redirected output gets a width that fits the
    whole table (rich would otherwise cut it to 80 columns)."""
    console = Console()
    return console if console.is_terminal else Console(width=1000)


def run_cli(
    suite: str,
    device: str,
    *,
    json_path: Path | None = None,
    plot: bool = False,
    out: Path = Path("benchmarks/results"),
    results: Path | None = Path("benchmarks/RESULTS.md"),
    quick: bool = False,
) -> int:
    """Run `suite` (one of SUITES, or all) and report; see the module docstring.

    With `plot`, the scaling sweeps run too and `out/scaling-<device>.png` is drawn; when
    the suite is all at full size (not `quick`), the JSON goes to `out/<device>.json`
    (unless `json_path` is given) and the generated tables of `results` are refreshed when
    that file exists.
    """
    if suite not in (*SUITES, "all"):
        print(f"suite must be one of {', '.join(SUITES)} or all, got {suite!r}", file=sys.stderr)
        return 2
    resolved = _resolve_device(device)
    if isinstance(resolved, str):
        print(resolved, file=sys.stderr)
        return 2
    console = _console()
    names = list(SUITES) if suite == "all" else [suite]
    data = run_suites(names, resolved, quick, plot, console)
    plot_path = out / f"scaling-{resolved.type}.png" if plot and data["scaling"] else None
    if plot_path is not None:
        report.plot(data["scaling"], plot_path)
        console.print(f"scaling curves written to {plot_path}")
    if plot and suite == "all" and not quick:
        json_path = json_path or out / f"{resolved.type}.json"
        if results is not None and results.is_file():
            report.update_results(results, data, plot_path)
            console.print(f"tables in {results} regenerated")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(data, indent=2, allow_nan=False))
        console.print(f"results written to {json_path}")
    wrong = [row for row in data["rows"] + data["scaling"] if row["status"] == "WRONG"]
    for row in wrong:
        console.print(
            f"[bold red]{row['workload']} ({row['shape']}): gausslab disagrees with "
            f"{row['reference']} (max relative difference {row['max_rel_diff']:.3g})[/]"
        )
    return 1 if data["errors"] or wrong else 0
