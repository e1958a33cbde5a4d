"""Timing harness: every candidate of a workload timed in one process, interleaved.

A workload has one gausslab callable, any number of anchors (the same computation done by
torch.distributions, scipy or diffusers) and any number of machine floors (the cheapest
operations of the same size: one read of the input, an in-place copy, a normal draw into a
preallocated buffer, a GEMM of the same flops, a bare triangular solve; see
``gausslab.bench.floors``). All of them are built once, warmed up, then timed in rounds:
each round calls every candidate once, in an order that rotates from round to round, so
that noise from other processes on the machine hits all of them alike.

Each figure is the median over the rounds of the time per call; the spread is the
interquartile range (q1, q3) of the same samples. On CUDA the device is synchronized
before and after each timed call, so that the time covers the kernels, not just their launch.
Very short calls are repeated `loops` times per sample (calibrated during warm-up) so that a
sample is long enough for the clock.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["Candidates", "Target", "Timing", "Workload", "measure"]


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median and interquartile range over `samples` rounds."""

    median: float
    q1: float
    q3: float
    samples: int
    loops: int

    def per(self, count: int) -> Timing:
        """The same timing divided among `count` units of work (e.g. sampler steps)."""
        return Timing(
            self.median / count, self.q1 / count, self.q3 / count, self.samples, self.loops
        )

    def as_dict(self) -> dict[str, float | int]:
        return {
            "median_s": self.median,
            "q1_s": self.q1,
            "q3_s": self.q3,
            "samples": self.samples,
            "loops": self.loops,
        }


@dataclass(frozen=True)
class Target:
    """A speed goal for a workload, one of two kinds:

    - ``Target(anchor=name, at_least=r)``: anchor_time / gausslab_time >= r (gausslab is at
      least r times faster than that anchor);
    - ``Target(floor=name, at_most=r)``: gausslab_time / floor_time <= r (gausslab costs at
      most r times that floor).
    """

    anchor: str | None = None
    at_least: float | None = None
    floor: str | None = None
    at_most: float | None = None

    def __post_init__(self) -> None:
        by_anchor = self.anchor is not None and self.at_least is not None
        by_floor = self.floor is not None and self.at_most is not None
        if by_anchor == by_floor or (by_anchor and self.floor is not None):
            raise ValueError(
                f"a Target needs either anchor= and at_least= or floor= and at_most=, got {self!r}"
            )

    def describe(self) -> str:
        if self.anchor is not None:
            return f">= {self.at_least:g}x vs {self.anchor}"
        return f"<= {self.at_most:g}x {self.floor}"

    def ratio(self, anchors: dict[str, float], floors: dict[str, float]) -> float | None:
        """The measured ratio this target judges, or None when it was not measured."""
        if self.anchor is not None:
            return anchors.get(self.anchor)
        return floors.get(self.floor)

    def met(self, ratio: float) -> bool:
        if self.anchor is not None:
            return ratio >= self.at_least
        return ratio <= self.at_most


@dataclass
class Candidates:
    """The callables of one workload, built (inputs allocated) by the workload's setup.

    `anchors` and `floors` map a display name to a callable. When `reference` names an
    anchor, the runner checks once that gausslab's result and that anchor's agree, so a
    speed-up can never come from computing something else.
    """

    gausslab: Callable[[], object]
    anchors: dict[str, Callable[[], object]] = field(default_factory=dict)
    floors: dict[str, Callable[[], object]] = field(default_factory=dict)
    reference: str | None = None  # the anchor whose result gausslab's must match


@dataclass(frozen=True)
class Workload:
    """A named computation at one size; `setup` allocates inputs and returns the candidates.

    `setup` runs only when the workload is measured, so a suite's inputs are never all
    alive at once. `params` (e.g. {"d": 1024, "N": 10000}) feed the scaling curves. Each
    call does `calls_per_run` units of work (e.g. sampler steps); times are reported per unit.
    `flops` (per unit of work), when given, turns gausslab's time into GFLOP/s in the report.
    """

    name: str
    shape: str
    setup: Callable[[], Candidates]
    targets: tuple[Target, ...] = ()
    params: dict[str, int] = field(default_factory=dict)
    calls_per_run: int = 1
    flops: float | None = None


def _synchronizer(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def _calibrate_loops(
    call: Callable[[], object], sync: Callable[[], None], min_sample: float
) -> int:
    """Calls per sample so that one sample lasts at least `min_sample` seconds (max 10,000)."""
    sync()
    start = time.perf_counter()
    call()
    sync()
    elapsed = time.perf_counter() - start
    if elapsed >= min_sample:
        return 1
    return min(10_000, max(1, math.ceil(min_sample / max(elapsed, 1e-7))))


def _time_once(call: Callable[[], object], loops: int, sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    for _ in range(loops):
        call()
    sync()
    return (time.perf_counter() - start) / loops


def _summary(samples: list[float], loops: int) -> Timing:
    ordered = sorted(samples)
    if len(ordered) >= 4:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1, q3 = ordered[0], ordered[-1]
    return Timing(statistics.median(ordered), q1, q3, len(ordered), loops)


def measure(
    calls: dict[str, Callable[[], object]],
    *,
    device: torch.device,
    warmup: int = 2,
    repeats: int = 7,
    min_sample: float = 2e-3,
    max_seconds: float = 30.0,
) -> dict[str, Timing]:
    """Time every callable in `calls`, interleaved round by round, and summarize each.

    warm-up: `warmup` untimed calls each (allocator, caches, lazy factors, kernel selection),
    then up to `repeats` rounds; in round r the candidates run in the order rotated by r.
    Rounds stop early once `max_seconds` have been spent timing, after at least 3 of them
    (an anchor that takes seconds per call would otherwise dominate the suite's run time).
    """
    sync = _synchronizer(device)
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    loops = {name: _calibrate_loops(calls[name], sync, min_sample) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    started = time.perf_counter()
    for round_index in range(repeats):
        if round_index >= 3 and time.perf_counter() - started > max_seconds:
            break
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_time_once(calls[name], loops[name], sync))
    return {name: _summary(samples[name], loops[name]) for name in names}
