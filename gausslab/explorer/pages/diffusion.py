"""Diffusion of a 1-D mixture, the whole flow at once: the exact density p_t(x) over (t, x)
with sample paths of the forward chain and of the chosen reverse sampler drawn on it, the
law of x_t at one t, the schedule in log-SNR with the sampler's timesteps, and reverse
sampling with the exact Bayes-optimal denoiser against the data density.

Everything that depends only on the mixture and the schedule (the density grid, the forward
paths) or also on the sampler (the reverse run) is computed once per setting and cached,
so moving t only redraws the slice and patches the t markers of the other plots.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from dash import Dash, Input, Output, Patch, State, ctx, dcc, html, no_update

from gausslab import GaussianMixture
from gausslab.diffusion import SAMPLERS, Diffusion, Schedule, evaluate_sampler
from gausslab.explorer.callbacks import page_callback, parse_int, parse_numbers, shown
from gausslab.explorer.controls import (
    alert_area,
    choice,
    graph,
    number_control,
    page_frame,
    readout,
    slider_id,
    text_field,
    value_of,
)
from gausslab.explorer.draws import fixed_samples
from gausslab.explorer.registry import Page
from gausslab.explorer.styling import PALETTE, Figure, Trace, figure, line, markers, packed

DTYPE = torch.float64
SAMPLES = 2000
REVERSE_SAMPLES = 1000  # each reverse step evaluates the optimal denoiser on all of them
PATHS = 8  # sample paths drawn on the density map, forward and reverse
GRID_POINTS = 241  # x points of the slice plot
FLOW_ROWS = 161  # x points of the density map
FLOW_COLUMNS = 161  # at most this many t columns in the density map (T + 1 when smaller)
SCHEDULES = {
    "linear": "linear",
    "cosine": "cosine",
    "scaled_linear": "scaled linear",
    "sigmoid": "sigmoid",
}
# (beta_start, beta_end) of each beta schedule at T = 1000 (DDPM; Stable Diffusion)
BETA_RANGES = {
    "linear": (1e-4, 0.02),
    "scaled_linear": (0.00085, 0.012),
    "sigmoid": (1e-4, 0.02),
}
MAX_BETA = 0.999
MIN_T, MAX_T = 2, 2000
START_CHOICES = {"noise": "N(0, 1)", "exact": "exact q(x_T)"}
SAMPLER_LABELS = {
    "ddpm": "DDPM",
    "ddim": "DDIM (η = 0)",
    "euler": "Euler ODE",
    "heun": "Heun ODE",
    "dpmpp2m": "DPM-Solver++ 2M",
    "dpmpp3m": "DPM-Solver++ 3M",
    "unipc": "UniPC",
}
DATA_INPUTS = [
    Input("diff-weights", "value"),
    Input("diff-means", "value"),
    Input("diff-stds", "value"),
    Input("diff-schedule", "value"),
    value_of("diff-T"),
]
# The error-vs-steps panel: each sampler (those registered) from the exact q(x_T), so only
# its discretization error is left, graded by the exact sliced-W2 metric; fixed seed.
ERROR_SAMPLERS = tuple(
    name for name in ("ddim", "heun", "dpmpp2m", "dpmpp3m", "unipc") if name in SAMPLERS
)
ERROR_STEPS = (2, 5, 10, 20)
ERROR_SAMPLES = 4096
ERROR_METRIC = "sliced_w2"
ERROR_SEED = 4
# trace order of the density map, so that patches can address the path traces
FLOW_FORWARD, FLOW_REVERSE = 1, 2
SNR_SAMPLER, SNR_NOW = 1, 2


def sampler_label(name: str) -> str:
    """How the page names a registered sampler."""
    return SAMPLER_LABELS.get(name, name.upper())


def layout() -> html.Div:
    """Mixture, schedule, T and t; the density map, the slice at t, the log-SNR schedule and
    the reverse-sampling panel."""
    return page_frame(
        "Diffusion of a 1-D mixture",
        r"The forward process $q(x_t \mid x_0) = \mathcal{N}(x_t; \sqrt{\bar\alpha_t}\,x_0, "
        r"(1-\bar\alpha_t) I)$ keeps mixture data a mixture: each component "
        r"$\mathcal{N}(\mu, s^2)$ becomes $\mathcal{N}(\sqrt{\bar\alpha_t}\,\mu,\ "
        r"\bar\alpha_t s^2 + 1 - \bar\alpha_t)$. The map shows that exact density $p_t(x)$ "
        r"for every $t$, with paths of the forward chain $x_t = \sqrt{1-\beta_t}\,x_{t-1} + "
        r"\sqrt{\beta_t}\,\epsilon$ (white) and of the chosen sampler run back from noise "
        r"with the exact Bayes-optimal denoiser (orange).",
        [
            text_field("diff-weights", "Mixture weights", "0.3, 0.7"),
            text_field("diff-means", "Component means", "-2, 1.5"),
            text_field("diff-stds", "Component standard deviations", "0.3, 0.5"),
            choice("diff-schedule", "Noise schedule", SCHEDULES, "linear"),
            number_control("diff-T", "Steps T", low=10, high=1000, step=10, value=200, live=False),
            number_control("diff-t", "Time t", low=0, high=200, step=1, value=20),
            alert_area("diff-alert"),
            html.H4("Reverse sampling", className="group-title"),
            choice(
                "diff-sampler", "Sampler", {name: sampler_label(name) for name in SAMPLERS}, "ddpm"
            ),
            number_control(
                "diff-steps", "Sampling steps", low=1, high=1000, step=1, value=50, live=False
            ),
            choice("diff-start", "x_T drawn from", START_CHOICES, "noise"),
            alert_area("diff-reverse-alert"),
            dcc.Store(id="diff-reverse-paths"),
            dcc.Store(id="diff-flow-drawn"),
        ],
        [
            graph("diff-flow", height=400),
            html.Div(
                className="readouts",
                children=[
                    readout("diff-abar", r"$\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)$ ="),
                    readout("diff-snr", r"$\mathrm{SNR}(t) = \bar\alpha_t / (1 - \bar\alpha_t)$ ="),
                    readout("diff-abar-T", r"$\bar\alpha_T$ ="),
                ],
            ),
            html.Div(
                className="graph-row",
                children=[graph("diff-graph", height=340), graph("diff-snr-graph", height=340)],
            ),
            graph("diff-reverse-graph", height=320),
            graph("diff-error-graph", height=320),
            alert_area("diff-error-alert"),
            html.Div(
                className="readouts",
                children=[
                    readout("diff-reverse-mean", "mean of samples / of data:"),
                    readout("diff-reverse-std", "std of samples / of data:"),
                ],
            ),
        ],
    )


@dataclass(frozen=True)
class Setup:
    """The parsed data and schedule controls (hashable: the key of the page's caches)."""

    weights: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]
    schedule: str
    T: int


def schedule_name(value: object) -> str:
    """The schedule control's value, checked against the page's schedules."""
    if not isinstance(value, str) or value not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {shown(value)}")
    return value


def schedule_for(name: object, T: int) -> Schedule:
    """The named schedule with T steps. Beta ranges are rescaled by 1000 / T (as
    improved-diffusion does), so that every T ends near pure noise like T = 1000 does."""
    if not MIN_T <= T <= MAX_T:
        raise ValueError(f"T must be between {MIN_T} and {MAX_T}, got {T}")
    return _schedule(schedule_name(name), T)


@functools.lru_cache(maxsize=32)
def _schedule(name: str, T: int) -> Schedule:
    if name == "cosine":
        return Schedule.cosine(T)
    start, end = BETA_RANGES[name]
    scale = 1000 / T
    return getattr(Schedule, name)(T, start * scale, min(end * scale, MAX_BETA))


@functools.lru_cache(maxsize=16)
def _build(setup: Setup) -> tuple[GaussianMixture, Diffusion]:
    data = GaussianMixture.univariate(
        torch.tensor(setup.weights, dtype=DTYPE),
        torch.tensor(setup.means, dtype=DTYPE),
        torch.tensor(setup.stds, dtype=DTYPE),
    )
    return data, Diffusion(schedule_for(setup.schedule, setup.T))


def _process(
    weights: object, means: object, stds: object, schedule: object, steps_text: object
) -> tuple[Setup, GaussianMixture, Diffusion]:
    """The mixture data and the diffusion process the controls describe."""
    setup = Setup(
        tuple(parse_numbers(weights, "weights")),
        tuple(parse_numbers(means, "means")),
        tuple(parse_numbers(stds, "standard deviations")),
        schedule_name(schedule),
        parse_int(steps_text, "T"),
    )
    return (setup, *_build(setup))


def _grid(data: GaussianMixture, points: int) -> torch.Tensor:
    """x values covering the data and N(0, 1), for every t."""
    means, stds = data.components.mean, data.components.stddev
    low = min(-4.0, float((means - 4 * stds).min()))
    high = max(4.0, float((means + 4 * stds).max()))
    return torch.linspace(low, high, points, dtype=DTYPE)


@dataclass(frozen=True)
class Flow:
    """The density map and the forward paths of one setup."""

    ts: np.ndarray  # (columns,) the t of each column, 0..T
    x: torch.Tensor  # (FLOW_ROWS,)
    density: np.ndarray  # (FLOW_ROWS, columns): p_t(x) of column t at row x
    forward: np.ndarray  # (PATHS, columns): forward chain paths at the column times


def flow_times(T: int) -> np.ndarray:
    """The t of the density map's columns: all of 0..T, or FLOW_COLUMNS evenly spread."""
    return np.unique(np.linspace(0, T, min(T + 1, FLOW_COLUMNS)).round().astype(np.int64))


@functools.lru_cache(maxsize=8)
def flow(setup: Setup) -> Flow:
    """p_t(x) = diffusion.marginal(data, t).prob(x) on the map's grid, and PATHS runs of the
    forward chain x_t ~ q(x_t | x_{t-1}) (``Diffusion.q_step``) from x_0 ~ data."""
    data, diffusion = _build(setup)
    ts = flow_times(setup.T)
    x = _grid(data, FLOW_ROWS)
    density = torch.stack([diffusion.marginal(data, int(t)).log_prob(x).exp() for t in ts], 1)
    generator = torch.Generator().manual_seed(3)
    state = torch.as_tensor(fixed_samples(data, PATHS, seed=3))
    columns = set(ts.tolist())
    forward = [state]
    for t in range(1, setup.T + 1):
        step = diffusion.q_step(state, t)
        noise = torch.randn(state.shape, generator=generator, dtype=DTYPE)
        state = step.mean + step.stddev * noise
        if t in columns:
            forward.append(state)
    return Flow(ts, x, density.numpy(), torch.stack(forward, 1).numpy())


@dataclass(frozen=True)
class Reverse:
    """A reverse run: all REVERSE_SAMPLES outputs, and the first PATHS paths at every
    timestep the sampler visited (T first, 0 last)."""

    x0: torch.Tensor
    ts: list[int]
    paths: np.ndarray  # (PATHS, len(ts))


@functools.lru_cache(maxsize=16)
def reverse(setup: Setup, sampler: str, steps: int, start: str) -> Reverse:
    """Run ``sampler`` for ``steps`` steps with the optimal model, from x_T ~ N(0, 1) or the
    exact q(x_T), fixed seeds. The model is called with every state the sampler passes
    through (the last call at a t holds the state at t; Heun's predictor comes first), so
    recording its inputs traces the paths."""
    data, diffusion = _build(setup)
    T = setup.T
    if start not in START_CHOICES:
        raise ValueError(f"x_T must be drawn from one of {list(START_CHOICES)}, got {start!r}")
    if start == "exact":
        x_T = torch.as_tensor(fixed_samples(diffusion.marginal(data, T), REVERSE_SAMPLES, seed=1))
    else:
        x_T = torch.randn(REVERSE_SAMPLES, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    optimal = diffusion.optimal_model(data)
    states: dict[int, torch.Tensor] = {}

    def recording(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        states[int(t[0])] = x_t[:PATHS].clone()
        return optimal(x_t, t)

    x0 = diffusion.sample(
        recording,
        (REVERSE_SAMPLES,),
        sampler=sampler,
        steps=steps,
        x_T=x_T,
        generator=torch.Generator().manual_seed(2),
    )
    ts = sorted(states, reverse=True)
    paths = torch.stack([*(states[t] for t in ts), x0[:PATHS]], 1)
    return Reverse(x0, [*ts, 0], paths.numpy())


def _paths_xy(ts: Any, paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paths as one line trace's x and y, separated by NaN gaps."""
    count, length = paths.shape
    x = np.full((count, length + 1), np.nan)
    x[:, :length] = np.asarray(ts, dtype=np.float64)
    y = np.full((count, length + 1), np.nan)
    y[:, :length] = paths
    return x.ravel(), y.ravel()


def _reverse_trace(paths: dict[str, Any] | None) -> Trace:
    name = "reverse paths"
    if paths:
        name = f"{sampler_label(paths['sampler'])} paths, {paths['steps']} steps"
        x, y = _paths_xy(paths["t"], np.asarray(paths["x"], dtype=np.float64))
    else:
        x, y = np.zeros(0), np.zeros(0)
    return line(x, y, name, line={"color": PALETTE[4], "width": 1.5})


def _t_line(t: int) -> dict[str, Any]:
    return {
        "type": "line",
        "x0": t,
        "x1": t,
        "yref": "paper",
        "y0": 0,
        "y1": 1,
        "line": {"color": PALETTE[1], "width": 2, "dash": "dot"},
    }


def _flow_figure(setup: Setup, t: int, paths: dict[str, Any] | None) -> Figure:
    grid = flow(setup)
    heatmap = {
        "type": "heatmap",
        "x": packed(grid.ts),
        "y": packed(grid.x),
        "z": packed(grid.density, "f4"),
        "name": "p_t(x)",
        "colorscale": "Viridis",
        "zmin": 0.0,
        "colorbar": {"title": {"text": "p_t(x)"}, "len": 0.8},
        "hovertemplate": "t = %{x}<br>x = %{y:.2f}<br>p = %{z:.3f}<extra></extra>",
    }
    fx, fy = _paths_xy(grid.ts, grid.forward)
    forward = line(fx, fy, "forward paths", line={"color": "#ffffff", "width": 1})
    return figure(
        [heatmap, forward, _reverse_trace(paths)],
        title="The whole forward process: exact density p_t(x) over (t, x)",
        x_title="t",
        y_title="x",
        uirevision="diffusion-flow",
        xaxis={"range": [0, setup.T]},
        yaxis={"range": [float(grid.x[0]), float(grid.x[-1])]},
        shapes=[_t_line(t)],
    )


def _log_snr(schedule: Schedule) -> np.ndarray:
    """log SNR(t) for t = 1..T (t = 0 is +inf), as float64."""
    return schedule.log_snr[1:].to(torch.float64).numpy()


def _snr_now(schedule: Schedule, t: int) -> tuple[list[float], list[float]]:
    return ([], []) if t == 0 else ([float(t)], [float(schedule.log_snr[t])])


def _sampler_points(schedule: Schedule, paths: dict[str, Any] | None) -> Trace:
    ts = [t for t in (paths or {}).get("t", []) if t > 0]
    name = f"{sampler_label(paths['sampler'])} timesteps" if paths else "sampler timesteps"
    log_snr = schedule.log_snr[ts].numpy() if ts else np.zeros(0)
    return markers(ts, log_snr, name, marker={"color": PALETTE[4], "size": 6})


def _snr_figure(setup: Setup, t: int, paths: dict[str, Any] | None) -> Figure:
    schedule = _build(setup)[1].schedule
    steps = np.arange(1, setup.T + 1)
    chosen = line(steps, _log_snr(schedule), f"{SCHEDULES[setup.schedule]} (this page)")
    chosen["line"] = {"color": PALETTE[0], "width": 3}
    now = markers(*_snr_now(schedule, t), "t", marker={"color": PALETTE[1], "size": 11})
    others = [
        line(steps, _log_snr(schedule_for(name, setup.T)), label, line={"width": 1, "dash": "dot"})
        for name, label in SCHEDULES.items()
        if name != setup.schedule
    ]
    return figure(
        [chosen, _sampler_points(schedule, paths), now, *others],
        title="Schedule in log-SNR: log(ᾱ_t / (1 − ᾱ_t))",
        x_title="t",
        y_title="log SNR(t)",
        uirevision="diffusion-snr",
        legend={
            "font": {"size": 11},
            "orientation": "v",
            "x": 1.0,
            "xanchor": "right",
            "y": 1.0,
            "yanchor": "top",
        },
        margin={"t": 40},
    )


def _density(dist: GaussianMixture, x: torch.Tensor, name: str, **style: object) -> Trace:
    return line(x, dist.log_prob(x).exp(), name, **style)


def _histogram(samples: object, name: str) -> Trace:
    return {
        "type": "histogram",
        "x": packed(samples),
        "histnorm": "probability density",
        "nbinsx": 80,
        "name": name,
        "marker": {"color": "rgba(31, 119, 180, 0.45)"},
    }


def _data_line(data: GaussianMixture, x: torch.Tensor) -> Trace:
    return _density(data, x, "data density p₀", line={"color": "#555", "dash": "dash"})


def _forward_figure(data: GaussianMixture, marginal: GaussianMixture, t: int) -> Figure:
    x = _grid(data, GRID_POINTS)
    traces = [
        _histogram(fixed_samples(marginal, SAMPLES), f"samples of x_{t}"),
        _data_line(data, x),
        _density(marginal, x, f"exact density of x_{t}", line={"color": PALETTE[1], "width": 3}),
    ]
    return figure(
        traces,
        title=f"The law of x_t at t = {t}",
        x_title="x",
        y_title="density",
        uirevision="diffusion",
        xaxis={"range": [float(x[0]), float(x[-1])]},
    )


def _t_patches(setup: Setup, t: int) -> tuple[Patch, Patch]:
    """Move the t line of the density map and the t marker of the log-SNR plot."""
    on_map = Patch()
    on_map["layout"]["shapes"][0]["x0"] = t
    on_map["layout"]["shapes"][0]["x1"] = t
    on_snr = Patch()
    x, y = _snr_now(_build(setup)[1].schedule, t)
    on_snr["data"][SNR_NOW]["x"] = x
    on_snr["data"][SNR_NOW]["y"] = y
    return on_map, on_snr


def _paths_patches(setup: Setup, paths: dict[str, Any]) -> tuple[Patch, Patch]:
    """Redraw the reverse paths on the density map and the sampler's timesteps."""
    on_map = Patch()
    on_map["data"][FLOW_REVERSE] = _reverse_trace(paths)
    on_snr = Patch()
    on_snr["data"][SNR_SAMPLER] = _sampler_points(_build(setup)[1].schedule, paths)
    return on_map, on_snr


@functools.lru_cache(maxsize=8)
def error_rows(setup: Setup) -> list[Any]:
    """``evaluate_sampler`` rows (sampler, steps, error, standard_error) of the panel."""
    data, diffusion = _build(setup)
    return evaluate_sampler(
        diffusion,
        data,
        samplers=ERROR_SAMPLERS,
        steps=tuple(n for n in ERROR_STEPS if n <= setup.T),
        metric=ERROR_METRIC,
        num_samples=ERROR_SAMPLES,
        start="exact",
        generator=torch.Generator().manual_seed(ERROR_SEED),
    )


def _error_figure(rows: list[Any]) -> Figure:
    traces = []
    for i, name in enumerate(ERROR_SAMPLERS):
        mine = [row for row in rows if row.sampler == name]
        trace = line(
            [row.steps for row in mine],
            [row.error for row in mine],
            sampler_label(name),
            mode="lines+markers",
            line={"color": PALETTE[i % len(PALETTE)]},
        )
        trace["error_y"] = {"type": "data", "array": [row.standard_error for row in mine]}
        traces.append(trace)
    return figure(
        traces,
        title="Sampler error vs steps (exact sliced W₂², from the exact q(x_T), ± 1 SE)",
        x_title="sampling steps",
        y_title="error",
        uirevision="diffusion-error",
        xaxis={"type": "log"},
    )


def register(app: Dash) -> None:
    """The t slider's range follows T (in the browser); the reverse callback (data, sampler,
    steps, start) stores its paths; the forward callback (data, t, stored paths) draws the
    density map, the slice and the log-SNR plot, patching only what a t move or a new
    reverse run changes."""
    app.clientside_callback(
        """function (T) {
            const n = Number(T);
            return Number.isInteger(n) && n >= 1 ? n : window.dash_clientside.no_update;
        }""",
        Output(slider_id("diff-t"), "max"),
        value_of("diff-T"),
    )

    @page_callback(
        app,
        [
            Output("diff-flow", "figure"),
            Output("diff-graph", "figure"),
            Output("diff-snr-graph", "figure"),
            Output("diff-abar", "children"),
            Output("diff-snr", "children"),
            Output("diff-abar-T", "children"),
            Output("diff-flow-drawn", "data"),
        ],
        [
            *DATA_INPUTS,
            value_of("diff-t"),
            Input("diff-reverse-paths", "data"),
            State("diff-flow-drawn", "data"),
        ],
        alert_id="diff-alert",
    )
    def forward(*values: object) -> tuple:
        setup, data, diffusion = _process(*values[:5])
        t = parse_int(values[5], "t")
        paths = values[6] if isinstance(values[6], dict) else None
        marginal = diffusion.marginal(data, t)
        tables = diffusion.schedule
        # Patch the plots only when they show this setup already (the page may be fresh,
        # or a full redraw may still be on its way); otherwise draw them whole.
        drawn = values[7] == repr(setup)
        changed = {str(prop).split(".")[0] for prop in ctx.triggered_prop_ids}
        slice_fig: Any = _forward_figure(data, marginal, t)
        if drawn and changed == {"diff-reverse-paths"} and paths is not None:
            flow_fig, snr_fig = _paths_patches(setup, paths)
            slice_fig = no_update
        elif drawn and changed and all(p.startswith('{"ctl":"diff-t"') for p in changed):
            flow_fig, snr_fig = _t_patches(setup, t)
        else:
            flow_fig, snr_fig = _flow_figure(setup, t, paths), _snr_figure(setup, t, paths)
        return (
            flow_fig,
            slice_fig,
            snr_fig,
            f"{float(tables.alphas_cumprod[t]):.5f}",
            f"{float(tables.snr[t]):.5g}",
            f"{float(tables.alphas_cumprod[-1]):.3g}",
            repr(setup),
        )

    @page_callback(
        app, [Output("diff-error-graph", "figure")], DATA_INPUTS, alert_id="diff-error-alert"
    )
    def errors(*values: object) -> tuple:
        setup, _, _ = _process(*values)
        return (_error_figure(error_rows(setup)),)

    @page_callback(
        app,
        [
            Output("diff-reverse-graph", "figure"),
            Output("diff-reverse-paths", "data"),
            Output("diff-reverse-mean", "children"),
            Output("diff-reverse-std", "children"),
        ],
        [
            *DATA_INPUTS,
            Input("diff-sampler", "value"),
            value_of("diff-steps"),
            Input("diff-start", "value"),
        ],
        alert_id="diff-reverse-alert",
    )
    def reverse_panel(*values: object) -> tuple:
        setup, data, _ = _process(*values[:5])
        sampler, steps_text, start = values[5:]
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {shown(sampler)}")
        steps = parse_int(steps_text, "sampling steps")
        run = reverse(setup, str(sampler), steps, str(start))
        x = _grid(data, GRID_POINTS)
        label = f"{sampler_label(str(sampler))} samples, {steps} steps"
        fig = figure(
            [_histogram(run.x0, label), _data_line(data, x)],
            title="Reverse process with the exact optimal denoiser",
            x_title="x₀",
            y_title="density",
            uirevision="diffusion-reverse",
            xaxis={"range": [float(x[0]), float(x[-1])]},
        )
        paths = {"sampler": sampler, "steps": steps, "t": run.ts, "x": run.paths.tolist()}
        return (
            fig,
            paths,
            f"{float(run.x0.mean()):.3f} / {float(data.mean):.3f}",
            f"{float(run.x0.std()):.3f} / {float(data.stddev):.3f}",
        )


PAGE = Page(
    path="diffusion",
    title="Diffusion",
    summary="Edit a 1-D mixture and a noise schedule and see the exact density p_t(x) of the "
    "whole forward process, with forward paths and the paths of DDPM, DDIM or an ODE sampler "
    "driven back by the exact optimal denoiser; the schedule in log-SNR.",
    graph="diff-graph",
    layout=layout,
    register=register,
)
