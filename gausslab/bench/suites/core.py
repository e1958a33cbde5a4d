"""Core suite: log_prob, rsample and entropy of isotropic, diagonal and dense Gaussians.

Anchors are torch.distributions (Independent(Normal) for the structured cases,
MultivariateNormal for dense) and scipy.stats.multivariate_normal. Floors: one read of the
input and an in-place copy for elementwise work, a normal draw into a buffer for sampling,
a GEMM of the same flops and a bare triangular solve for dense work.
"""

from __future__ import annotations

import functools

import torch
from torch.distributions import Independent, MultivariateNormal, Normal

from gausslab import Gaussian
from gausslab.bench.floors import (
    COPY,
    NORMAL,
    copy_floor,
    equal_flops,
    gemm_floor,
    normal_floor,
    read_floor,
    solve_floor,
)
from gausslab.bench.harness import Candidates, Target, Workload
from gausslab.bench.inputs import randn, spd_matrix
from gausslab.bench.suites import fmt_dtype, optional_module

__all__ = ["scaling_workloads", "workloads"]

F32, F64 = torch.float32, torch.float64
TORCH = "torch.distributions"


def _structured(
    kind: str, event_shape: tuple[int, ...], dtype: torch.dtype, device: torch.device
) -> tuple[Gaussian, Independent]:
    """A gausslab isotropic/diagonal Gaussian over `event_shape` and the same law as
    Independent(Normal) from torch.distributions."""
    loc = randn(*event_shape, seed=1, dtype=dtype, device=device)
    if kind == "isotropic":
        std = torch.tensor(0.7, dtype=dtype, device=device)
        gaussian = Gaussian.isotropic(loc, std, len(event_shape), validate_args=False)
    else:
        std = randn(*event_shape, seed=2, dtype=dtype, device=device).abs() + 0.5
        gaussian = Gaussian.diagonal(loc, std, len(event_shape), validate_args=False)
    anchor = Independent(
        Normal(loc, std.expand(event_shape), validate_args=False),
        len(event_shape),
        validate_args=False,
    )
    return gaussian, anchor


def _structured_log_prob(
    kind: str, event_shape: tuple[int, ...], n: int, dtype: torch.dtype, device: torch.device
) -> Candidates:
    gaussian, anchor = _structured(kind, event_shape, dtype, device)
    x = randn(n, *event_shape, seed=3, dtype=dtype, device=device)
    return Candidates(
        gausslab=lambda: gaussian.log_prob(x),
        anchors={TORCH: lambda: anchor.log_prob(x)},
        floors=dict([read_floor(x), copy_floor(x)]),
        reference=TORCH,
    )


def _structured_rsample(
    kind: str, event_shape: tuple[int, ...], n: int, dtype: torch.dtype, device: torch.device
) -> Candidates:
    gaussian, anchor = _structured(kind, event_shape, dtype, device)
    return Candidates(
        gausslab=lambda: gaussian.rsample((n,)),
        anchors={TORCH: lambda: anchor.rsample((n,))},
        floors=dict([normal_floor((n, *event_shape), dtype, device)]),
    )


def _dense(d: int, dtype: torch.dtype, device: torch.device) -> tuple[Gaussian, MultivariateNormal]:
    loc = randn(d, seed=1, dtype=dtype, device=device)
    covariance = spd_matrix(d, seed=2, dtype=dtype, device=device)
    gaussian = Gaussian(loc, covariance, validate_args=False)
    anchor = MultivariateNormal(loc, covariance, validate_args=False)
    return gaussian, anchor


def _dense_log_prob(d: int, n: int, dtype: torch.dtype, device: torch.device) -> Candidates:
    """Both sides spend their time in Z = (X - mu) L^{-T}: N d^2 flops."""
    gaussian, anchor = _dense(d, dtype, device)
    x = randn(n, d, seed=3, dtype=dtype, device=device)
    anchors = {TORCH: lambda: anchor.log_prob(x)}
    scipy_stats = optional_module("scipy.stats")
    if device.type == "cpu" and scipy_stats is not None:
        frozen = scipy_stats.multivariate_normal(
            anchor.loc.numpy(), anchor.covariance_matrix.numpy(), allow_singular=False
        )
        x_numpy = x.numpy()
        anchors["scipy"] = lambda: frozen.logpdf(x_numpy)
    return Candidates(
        gausslab=lambda: gaussian.log_prob(x),
        anchors=anchors,
        floors=dict(
            [
                gemm_floor(equal_flops(n * d * d), dtype=dtype, device=device),
                solve_floor(anchor.scale_tril, x),
            ]
        ),
        reference=TORCH,
    )


def _dense_rsample(d: int, n: int, dtype: torch.dtype, device: torch.device) -> Candidates:
    """A draw is eps ~ N(0, I) of (n, d), then the product eps L^T (2 n d^2 flops)."""
    gaussian, anchor = _dense(d, dtype, device)
    return Candidates(
        gausslab=lambda: gaussian.rsample((n,)),
        anchors={TORCH: lambda: anchor.rsample((n,))},
        floors=dict(
            [
                normal_floor((n, d), dtype, device),
                gemm_floor((n, d, d), dtype=dtype, device=device),
            ]
        ),
    )


def _dense_entropy(d: int, dtype: torch.dtype, device: torch.device) -> Candidates:
    gaussian, anchor = _dense(d, dtype, device)
    return Candidates(
        gausslab=gaussian.entropy,
        anchors={TORCH: anchor.entropy},
        reference=TORCH,
    )


def _isotropic_vs_dense(d: int, n: int, dtype: torch.dtype, device: torch.device) -> Candidates:
    """What keeping structure buys: isotropic log_prob against the same law held dense."""
    loc = randn(d, seed=1, dtype=dtype, device=device)
    std = torch.tensor(0.7, dtype=dtype, device=device)
    gaussian = Gaussian.isotropic(loc, std, validate_args=False)
    eye = torch.eye(d, dtype=dtype, device=device)
    anchor = MultivariateNormal(loc, scale_tril=std * eye, validate_args=False)
    x = randn(n, d, seed=3, dtype=dtype, device=device)
    return Candidates(
        gausslab=lambda: gaussian.log_prob(x),
        anchors={"MultivariateNormal (dense)": lambda: anchor.log_prob(x)},
        floors=dict([read_floor(x), copy_floor(x)]),
        reference="MultivariateNormal (dense)",
    )


def workloads(device: torch.device, quick: bool) -> list[Workload]:
    """The core suite at full size, or every workload at a tiny size when `quick`."""
    small_n = 100 if quick else 1_000_000
    image = (3, 4, 4) if quick else (3, 64, 64)
    image_n = 4 if quick else 256
    d_big, n_big = (8, 16) if quick else (1024, 10_000)
    dense_dims = (2, 3, 4) if quick else (16, 256, 1024)
    # torch's MultivariateNormal.rsample broadcasts L against every draw (batched
    # matrix-vector products): 13 s for d = 1024, N = 1000 here, hence a modest N.
    dense_rsample_n = 8 if quick else 256
    iso_d, iso_n = (16, 4) if quick else (3072, 256)
    image_label = "x".join(map(str, image))
    near_normal = (Target(floor=NORMAL, at_most=1.2),)

    items: list[Workload] = []
    for kind in ("diagonal", "isotropic"):
        for event, n, label in (((2,), small_n, "d=2"), (image, image_n, f"d={image_label}")):
            items.append(
                Workload(
                    f"{kind} log_prob",
                    f"{label} N={n} float32",
                    functools.partial(_structured_log_prob, kind, event, n, F32, device),
                )
            )
            items.append(
                Workload(
                    f"{kind} rsample",
                    f"{label} N={n} float32",
                    functools.partial(_structured_rsample, kind, event, n, F32, device),
                    targets=near_normal if event == image else (),
                )
            )
    for kind, targets in (
        ("diagonal", (Target(floor=COPY, at_most=1.2), Target(anchor=TORCH, at_least=20.0))),
        ("isotropic", (Target(floor=COPY, at_most=1.2),)),
    ):
        items.append(
            Workload(
                f"{kind} log_prob",
                f"d={d_big} N={n_big} float32",
                functools.partial(_structured_log_prob, kind, (d_big,), n_big, F32, device),
                targets=targets,
                params={"d": d_big, "N": n_big},
            )
        )
    items.append(
        Workload(
            "dense log_prob",
            f"d={d_big} N={n_big} float64",
            functools.partial(_dense_log_prob, d_big, n_big, F64, device),
            targets=(Target(anchor=TORCH, at_least=1.5),),
            params={"d": d_big, "N": n_big},
            flops=float(n_big * d_big * d_big),
        )
    )
    for d in dense_dims:
        items.append(
            Workload(
                "dense rsample",
                f"d={d} N={dense_rsample_n} float32",
                functools.partial(_dense_rsample, d, dense_rsample_n, F32, device),
                flops=float(2 * dense_rsample_n * d * d),
            )
        )
    for d in dense_dims:
        items.append(
            Workload(
                "dense entropy",
                f"d={d} float32",
                functools.partial(_dense_entropy, d, F32, device),
            )
        )
    items.append(
        Workload(
            "isotropic log_prob vs dense",
            f"d={iso_d} N={iso_n} float32",
            functools.partial(_isotropic_vs_dense, iso_d, iso_n, F32, device),
            targets=(Target(anchor="MultivariateNormal (dense)", at_least=100.0),),
        )
    )
    return items


def scaling_workloads(device: torch.device, quick: bool) -> list[Workload]:
    """log_prob time against d (N fixed) and against N (d fixed): diagonal and isotropic
    (float32, against the read and copy floors) and dense (float64, against the GEMM and
    solve floors). A workload named "<curve> vs <variable>" carries the variable in `params`.
    """
    dims = (4, 8) if quick else (16, 64, 256, 1024, 2048)
    sizes = (8, 16) if quick else (100, 1_000, 10_000, 100_000)
    fixed_n = 16 if quick else 1_000
    fixed_d = 8 if quick else 256
    points = [("vs d", d, fixed_n) for d in dims] + [("vs N", fixed_d, n) for n in sizes]
    items: list[Workload] = []
    for axis, d, n in points:
        for name, build, dtype in (
            ("diagonal log_prob", functools.partial(_structured_log_prob, "diagonal", (d,)), F32),
            ("isotropic log_prob", functools.partial(_structured_log_prob, "isotropic", (d,)), F32),
            ("dense log_prob", functools.partial(_dense_log_prob, d), F64),
        ):
            items.append(
                Workload(
                    f"{name} {axis}",
                    f"d={d} N={n} {fmt_dtype(dtype)}",
                    functools.partial(build, n, dtype, device),
                    params={"d": d, "N": n},
                )
            )
    return items
