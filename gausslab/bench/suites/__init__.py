"""The benchmark suites: one module per suite, registered by name in ``SUITES``.

A suite module defines ``workloads(device, quick) -> list[Workload]`` (every workload at
full size, or at a tiny size when `quick`: the same names and shapes either way, so that
the smoke test runs them all) and, optionally, ``scaling_workloads(device, quick)`` for
the curves that ``gausslab bench --plot`` draws. See ``gausslab.bench`` for how to add one.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import torch

__all__ = ["SUITES", "fmt_dtype", "load", "optional_module"]

SUITES: dict[str, str] = {
    "core": "gausslab.bench.suites.core",
    "algebra": "gausslab.bench.suites.algebra",
    "diffusion": "gausslab.bench.suites.diffusion",
}


def load(name: str) -> ModuleType:
    """The module of suite `name` (one of SUITES)."""
    return importlib.import_module(SUITES[name])


def optional_module(name: str) -> ModuleType | None:
    """An anchor's package (scipy, diffusers) when installed, else None: the workload then
    runs without that anchor instead of failing."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def fmt_dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
