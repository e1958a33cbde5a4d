"""`gausslab bench`: run suites, print a rich table, write JSON, plot scaling curves.

For each workload the table shows gausslab's time, each anchor's time with the ratio
anchor / gausslab (above 1: gausslab is faster), the machine floor with the ratio
gausslab / floor (how many floors gausslab costs), the targets and PASS/MISS. Every time is
the median over interleaved rounds, with the interquartile range in brackets.

JSON: {"suite", "device", "machine": {...}, "rows": [...], "scaling": [...], "errors": [...]}.
The exit code is 0 when every workload ran and agreed with its reference anchor (a missed
speed target is reported, not an error), 1 when one failed, 2 for bad arguments.
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
from rich.table import Table

from benchmarks.harness import Candidates, Workload, measure

__all__ = ["SUITES", "machine_info", "run_cli"]

SUITES: dict[str, str] = {
    "core": "benchmarks.core",
    "algebra": "benchmarks.algebra",
    "diffusion": "benchmarks.diffusion",
}

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


def _run_workload(
    suite: str, workload: Workload, device: torch.device, quick: bool
) -> dict[str, Any]:
    """Measure one workload; targets are judged only at full size (not with --quick)."""
    candidates: Candidates = workload.setup()
    calls: dict[str, Callable[[], object]] = {"gausslab": candidates.gausslab}
    for name, call in candidates.anchors.items():
        calls[f"anchor:{name}"] = call
    if candidates.floor is not None:
        calls["floor"] = candidates.floor[1]
    timings = {
        name: timing.per(workload.calls_per_run)
        for name, timing in measure(calls, device=device, **_settings(quick)).items()
    }
    ours = timings["gausslab"].median
    anchors = {}
    for name in candidates.anchors:
        timing = timings[f"anchor:{name}"]
        anchors[name] = {**timing.as_dict(), "ratio": timing.median / ours}
    floor = None
    if candidates.floor is not None:
        floor = {
            "name": candidates.floor[0],
            **timings["floor"].as_dict(),
            "ratio": ours / timings["floor"].median,
        }
    ratios = {name: entry["ratio"] for name, entry in anchors.items()}
    floor_ratio = floor["ratio"] if floor else None
    targets = [
        {"target": target.describe(), "met": None if quick else target.met(ratios, floor_ratio)}
        for target in workload.targets
    ]
    judged = [t["met"] for t in targets if t["met"] is not None]
    status = "-" if not judged else "PASS" if all(judged) else "MISS"
    row: dict[str, Any] = {
        "suite": suite,
        "workload": workload.name,
        "shape": workload.shape,
        "params": dict(workload.params),
        "gausslab": timings["gausslab"].as_dict(),
        "anchors": anchors,
        "floor": floor,
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


def _unit(seconds: float) -> tuple[str, float]:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return unit, scale
    return "ns", 1e-9


def _fmt_timing(entry: dict[str, Any]) -> str:
    """`median unit [q1–q3]`, the spread in the median's unit."""
    unit, scale = _unit(entry["median_s"])
    median, q1, q3 = (entry[key] / scale for key in ("median_s", "q1_s", "q3_s"))
    return f"{median:.3g} {unit} [{q1:.3g}–{q3:.3g}]"


def _table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, show_lines=True)
    table.add_column("workload")
    table.add_column("gausslab")
    table.add_column("anchor")
    table.add_column("anchor time")
    table.add_column("anchor / gausslab", justify="right")
    table.add_column("floor")
    table.add_column("gausslab / floor", justify="right")
    table.add_column("target")
    table.add_column("result")
    styles = {"PASS": "green", "MISS": "red", "WRONG": "bold red", "-": "dim"}
    for row in rows:
        anchors = row["anchors"].items()
        floor = row["floor"] or {}
        table.add_row(
            f"{row['workload']}\n[dim]{row['shape']}[/]",
            _fmt_timing(row["gausslab"]),
            "\n".join(name for name, _ in anchors) or "-",
            "\n".join(_fmt_timing(entry) for _, entry in anchors) or "-",
            "\n".join(f"{entry['ratio']:.3g}x" for _, entry in anchors) or "-",
            f"{floor['name']}\n{_fmt_timing(floor)}" if floor else "-",
            f"{floor['ratio']:.3g}x" if floor else "-",
            "\n".join(t["target"] for t in row["targets"]) or "-",
            f"[{styles[row['status']]}]{row['status']}[/]",
        )
    return table


def _plot(scaling: list[dict[str, Any]], path: Path) -> None:
    """Time against d and against N, log-log: gausslab solid, anchor dashed, floor dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, variable in zip(axes, ("d", "N"), strict=True):
        series = sorted({row["workload"] for row in scaling if row["workload"].endswith(variable)})
        for color, name in zip(colors, series, strict=False):
            rows = sorted(
                (row for row in scaling if row["workload"] == name),
                key=lambda row: row["params"][variable],
            )
            xs = [row["params"][variable] for row in rows]
            base = name.removesuffix(f" vs {variable}")
            axis.loglog(
                xs,
                [r["gausslab"]["median_s"] for r in rows],
                "o-",
                color=color,
                label=f"{base}: gausslab",
            )
            anchor = "torch.distributions"
            axis.loglog(
                xs,
                [r["anchors"][anchor]["median_s"] for r in rows],
                "s--",
                color=color,
                label=f"{base}: {anchor}",
            )
            if rows[0]["floor"]:
                axis.loglog(
                    xs,
                    [r["floor"]["median_s"] for r in rows],
                    ":",
                    color=color,
                    label=f"{base}: {rows[0]['floor']['name']}",
                )
        fixed = "N" if variable == "d" else "d"
        fixed_value = next(
            (row["params"][fixed] for row in scaling if row["workload"].endswith(variable)), "?"
        )
        axis.set_xlabel(variable)
        axis.set_ylabel("seconds per call (median)")
        axis.set_title(f"log_prob time vs {variable} ({fixed} = {fixed_value})")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"warmup": 1, "repeats": 3, "min_sample": 0.0}
    return {"warmup": 2, "repeats": 9, "min_sample": 2e-3}


def _run_suite(
    suite: str,
    build: Callable[[torch.device, bool], list[Workload]],
    device: torch.device,
    quick: bool,
    console: Console,
    errors: list[dict[str, str]],
) -> list[dict[str, Any]]:
    rows = []
    for workload in build(device, quick):
        console.print(f"[dim]{suite}: {workload.name} ({workload.shape})[/]")
        try:
            rows.append(_run_workload(suite, workload, device, quick))
        except Exception as error:  # a broken workload is reported, the others still run
            message = f"{type(error).__name__}: {error}"
            errors.append({"suite": suite, "workload": workload.name, "error": message})
            console.print(f"[red]{suite}: {workload.name} ({workload.shape}) failed: {message}[/]")
    return rows


def run_cli(suite: str, device: str, json_path: Path | None, plot: Path | None, quick: bool) -> int:
    """Run `suite` (core | algebra | diffusion | all) and report; see the module docstring."""
    console = Console()
    if suite not in (*SUITES, "all"):
        print(f"suite must be one of {', '.join(SUITES)} or all, got {suite!r}", file=sys.stderr)
        return 2
    resolved = _resolve_device(device)
    if isinstance(resolved, str):
        print(resolved, file=sys.stderr)
        return 2
    errors: list[dict[str, str]] = []
    rows: list[dict[str, Any]] = []
    for name in SUITES if suite == "all" else (suite,):
        try:
            module = importlib.import_module(SUITES[name])
        except ImportError as error:
            errors.append({"suite": name, "workload": "*", "error": f"ImportError: {error}"})
            console.print(f"[red]suite {name} cannot run: {error}[/]")
            continue
        suite_rows = _run_suite(name, module.workloads, resolved, quick, console, errors)
        rows.extend(suite_rows)
        if suite_rows:
            console.print(_table(f"gausslab bench {name} on {resolved.type}", suite_rows))
    scaling: list[dict[str, Any]] = []
    if plot is not None:
        from benchmarks.core import scaling_workloads

        scaling = _run_suite("scaling", scaling_workloads, resolved, quick, console, errors)
        if scaling:
            _plot(scaling, plot)
            console.print(f"scaling curves written to {plot}")
    if json_path is not None:
        report = {
            "suite": suite,
            "device": resolved.type,
            "quick": quick,
            "machine": machine_info(resolved),
            "rows": rows,
            "scaling": scaling,
            "errors": errors,
        }
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2, allow_nan=False))
        console.print(f"results written to {json_path}")
    wrong = [row for row in rows + scaling if row["status"] == "WRONG"]
    for row in wrong:
        console.print(
            f"[bold red]{row['workload']} ({row['shape']}): gausslab disagrees with "
            f"{row['reference']} (max relative difference {row['max_rel_diff']:.3g})[/]"
        )
    return 1 if errors or wrong else 0
