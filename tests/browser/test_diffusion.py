"""Diffusion page: the plotted density of x_t, and every column of the (t, x) density map, is
the mixture with components N(√ᾱ_t μ_k, ᾱ_t s_k² + 1 − ᾱ_t) (ᾱ computed here from the DDPM
linear schedule with its beta range rescaled by 1000 / T, improved-diffusion's convention);
forward paths follow the Markov chain; reverse paths are gausslab's sampler run; the log-SNR
plot is the schedule's; the t slider follows T and only patches the map; reverse sampling
with the optimal denoiser recovers the data law; invalid data, T or steps are reported."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gausslab.explorer.harness import (
    figure_data,
    figure_shapes,
    mark_figure,
    set_value,
    slider_thumb,
    type_value,
    wait_for_new_figure,
)

pytestmark = pytest.mark.browser

GRAPH = "diff-graph"
REVERSE = "diff-reverse-graph"
WEIGHTS, MEANS, STDS = np.array([0.3, 0.7]), np.array([-2.0, 1.5]), np.array([0.3, 0.5])


def _alpha_bar(T: int, t: int) -> float:
    scale = 1000 / T  # DDPM linear schedule, beta_1..beta_T, rescaled as improved-diffusion
    betas = np.linspace(1e-4 * scale, min(0.02 * scale, 0.999), T)
    return float(np.prod(1 - betas[:t]))


def _mixture_pdf(x: np.ndarray, abar: float) -> np.ndarray:
    loc = np.sqrt(abar) * MEANS
    scale = np.sqrt(abar * STDS**2 + 1 - abar)
    return (WEIGHTS * stats.norm.pdf(x[:, None], loc, scale)).sum(axis=1)


def _mixture_cdf(x: np.ndarray) -> np.ndarray:
    return (WEIGHTS * stats.norm.cdf(x[:, None], MEANS, STDS)).sum(axis=1)


def _trace(tab, graph: str, prefix: str) -> dict:
    return next(t for t in figure_data(tab.page, graph) if t["name"].startswith(prefix))


def _check_marginal(tab, T: int, t: int) -> None:
    curve = _trace(tab, GRAPH, "exact density")
    assert curve["name"] == f"exact density of x_{t}"
    x = np.array(curve["x"])
    np.testing.assert_allclose(curve["y"], _mixture_pdf(x, _alpha_bar(T, t)), rtol=1e-9)
    abar_shown = float(tab.page.locator("#diff-abar").inner_text())
    assert abar_shown == pytest.approx(_alpha_bar(T, t), abs=6e-6)


def test_density_of_x_t_is_the_diffused_mixture(tab):
    tab.open("diffusion", GRAPH)
    _check_marginal(tab, 200, 20)
    for t in (0, 1, 150, 200):
        set_value(tab.page, "diff-t", str(t), GRAPH)
        _check_marginal(tab, 200, t)
    mark_figure(tab.page, GRAPH)
    slider_thumb(tab.page, "diff-t").press("ArrowLeft")
    wait_for_new_figure(tab.page, GRAPH)
    _check_marginal(tab, 200, 199)
    assert tab.errors == []


def test_t_slider_range_follows_T(tab):
    tab.open("diffusion", GRAPH)
    set_value(tab.page, "diff-T", "50", GRAPH)
    assert slider_thumb(tab.page, "diff-t").get_attribute("aria-valuemax") == "50"
    set_value(tab.page, "diff-t", "50", GRAPH)
    _check_marginal(tab, 50, 50)


def test_reverse_sampling_with_the_optimal_denoiser_recovers_the_data(tab):
    tab.open("diffusion", REVERSE)
    set_value(tab.page, "diff-T", "100", REVERSE)
    mark_figure(tab.page, REVERSE)
    tab.page.get_by_label("exact q(x_T)").check()
    wait_for_new_figure(tab.page, REVERSE)
    set_value(tab.page, "diff-steps", "100", REVERSE)
    samples = np.array(_trace(tab, REVERSE, "DDPM samples")["x"])
    assert len(samples) == 1000
    ks = stats.kstest(samples, lambda x: _mixture_cdf(np.atleast_1d(x))).statistic
    assert ks < 1.63 / np.sqrt(len(samples))  # the 99% Kolmogorov quantile
    assert tab.errors == []


def _commit(tab, field: str, text: str) -> None:
    box = tab.page.locator(f"#{field}")
    box.fill(text)
    box.press("Enter")


def test_invalid_mixture_is_reported_and_the_page_recovers(tab):
    tab.open("diffusion", GRAPH)
    cases = (
        ("diff-weights", "0.3, 0.6", "sum to 1"),
        ("diff-stds", "-1, 0.5", "positive"),
        ("diff-means", "a, b", "must be a number"),
    )
    for field, typed, message in cases:
        valid = tab.page.locator(f"#{field}").input_value()
        _commit(tab, field, typed)
        alert = tab.page.locator("#diff-alert .alert")
        alert.wait_for()
        assert message in alert.inner_text()
        mark_figure(tab.page, GRAPH)
        _commit(tab, field, valid)
        wait_for_new_figure(tab.page, GRAPH)
        assert tab.page.locator("#diff-alert .alert").count() == 0
        _check_marginal(tab, 200, 20)
    assert tab.errors == []


def test_T_zero_is_reported(tab):
    tab.open("diffusion", GRAPH)
    type_value(tab.page, "diff-T", "0")
    tab.page.locator("#diff-alert .alert").wait_for()
    assert "T must be" in tab.page.locator("#diff-alert .alert").inner_text()
    set_value(tab.page, "diff-T", "100", GRAPH)
    _check_marginal(tab, 100, 20)


def test_invalid_sampling_steps_are_reported_in_the_reverse_panel(tab):
    tab.open("diffusion", REVERSE)
    type_value(tab.page, "diff-steps", "0")
    alert = tab.page.locator("#diff-reverse-alert .alert")
    alert.wait_for()
    assert "steps" in alert.inner_text()
    assert tab.page.locator("#diff-alert .alert").count() == 0
    set_value(tab.page, "diff-steps", "10", REVERSE)
    assert _trace(tab, REVERSE, "DDPM samples")["name"] == "DDPM samples, 10 steps"
    assert tab.page.locator("#diff-reverse-alert .alert").count() == 0


FLOW = "diff-flow"
SNR = "diff-snr-graph"


def _betas(T: int) -> np.ndarray:
    scale = 1000 / T
    return np.linspace(1e-4 * scale, min(0.02 * scale, 0.999), T)


def _flow_traces(tab) -> tuple[dict, dict, dict]:
    traces = figure_data(tab.page, FLOW)
    heat = next(t for t in traces if t["type"] == "heatmap")
    forward = next(t for t in traces if t["name"] == "forward paths")
    reverse = next(t for t in traces if t["name"].endswith("steps") and "paths" in t["name"])
    return heat, forward, reverse


def _split_paths(trace: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """The NaN-separated paths of one line trace, as (t, x) arrays."""
    t = np.array(trace["x"], dtype=float)
    x = np.array(trace["y"], dtype=float)
    breaks = np.flatnonzero(np.isnan(t))
    starts = np.r_[0, breaks[:-1] + 1]
    return [(t[a:b], x[a:b]) for a, b in zip(starts, breaks, strict=True)]


def test_density_map_is_the_exact_diffused_mixture_at_every_column(tab):
    """Every column t of the heat map is the density of N(√ᾱ_t μ_k, ᾱ_t s_k² + 1 − ᾱ_t)
    mixed with the data weights (scipy), over the whole forward process 0..T."""
    tab.open("diffusion", FLOW)
    heat, _, _ = _flow_traces(tab)
    ts, xs = np.array(heat["x"]), np.array(heat["y"])
    z = np.array(heat["z"])  # rows x, columns t
    assert ts[0] == 0 and ts[-1] == 200 and z.shape == (len(xs), len(ts))
    abar = np.r_[1.0, np.cumprod(1 - _betas(200))]
    expected = np.stack([_mixture_pdf(xs, abar[int(t)]) for t in ts], axis=1)
    np.testing.assert_allclose(z, expected, rtol=1e-6, atol=1e-7)  # sent as float32
    assert tab.errors == []


def test_forward_paths_follow_the_markov_chain(tab):
    """Between two drawn times t1 < t2 the chain gives x_t2 | x_t1 ~ N(r x_t1, 1 − r²) with
    r = √(ᾱ_t2 / ᾱ_t1), so the standardized increments of all paths are i.i.d. N(0, 1):
    a KS test at the 0.1% level (fixed seed, deterministic)."""
    tab.open("diffusion", FLOW)
    _, forward, _ = _flow_traces(tab)
    paths = _split_paths(forward)
    assert len(paths) == 8
    abar = np.r_[1.0, np.cumprod(1 - _betas(200))]
    increments = []
    for t, x in paths:
        assert t[0] == 0 and t[-1] == 200
        r = np.sqrt(abar[t[1:].astype(int)] / abar[t[:-1].astype(int)])
        increments.append((x[1:] - r * x[:-1]) / np.sqrt(1 - r**2))
    z = np.concatenate(increments)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_t_move_patches_the_map_line_and_keeps_the_map(tab):
    tab.open("diffusion", FLOW)
    before = _flow_traces(tab)[0]["z"]
    set_value(tab.page, "diff-t", "120", GRAPH)
    tab.page.wait_for_function(
        "() => { const p = document.querySelector('#diff-flow .js-plotly-plot');"
        " return p.layout.shapes[0].x0 === 120; }"
    )
    shapes = figure_shapes(tab.page, FLOW)
    assert shapes[0]["x0"] == shapes[0]["x1"] == 120
    assert _flow_traces(tab)[0]["z"] == before
    now = next(t for t in figure_data(tab.page, SNR) if t["name"] == "t")
    abar = float(np.prod(1 - _betas(200)[:120]))
    assert now["x"] == [120]
    assert now["y"][0] == pytest.approx(np.log(abar / (1 - abar)), rel=1e-9)
    assert tab.errors == []


def test_reverse_paths_are_the_library_sampler_run(tab):
    """DDIM (η = 0) from the page's x_T: the drawn paths visit the sampler plan's timesteps
    and end at the samples gausslab's Diffusion.sample returns for the same x_T."""
    import torch

    from gausslab import GaussianMixture
    from gausslab.diffusion import Diffusion, Schedule, samplers

    tab.open("diffusion", FLOW)
    set_value(tab.page, "diff-T", "100", REVERSE)
    mark_figure(tab.page, REVERSE)
    tab.page.get_by_label("DDIM (η = 0)").check()
    wait_for_new_figure(tab.page, REVERSE)
    set_value(tab.page, "diff-steps", "10", REVERSE)
    tab.page.wait_for_function(
        "() => document.querySelector('#diff-flow .js-plotly-plot').data[2].name"
        " === 'DDIM (η = 0) paths, 10 steps'"
    )
    _, _, reverse = _flow_traces(tab)
    paths = _split_paths(reverse)
    assert len(paths) == 8

    scale = 10.0  # 1000 / T
    diffusion = Diffusion(Schedule.linear(100, 1e-4 * scale, 0.02 * scale))
    data = GaussianMixture.univariate(
        torch.tensor(WEIGHTS), torch.tensor(MEANS), torch.tensor(STDS)
    )
    x_T = torch.randn(1000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x0 = diffusion.sample(diffusion.optimal_model(data), (1000,), sampler="ddim", steps=10, x_T=x_T)
    timesteps = samplers.plan(diffusion, sampler="ddim", steps=10).timesteps
    for i, (t, x) in enumerate(paths):
        assert t.tolist() == [*timesteps, 0]
        assert x[0] == pytest.approx(float(x_T[i]), abs=1e-12)
        assert x[-1] == pytest.approx(float(x0[i]), abs=1e-9)
    sampler_points = next(t for t in figure_data(tab.page, SNR) if "timesteps" in t["name"])
    assert sampler_points["x"] == list(timesteps)
    samples = np.array(_trace(tab, REVERSE, "DDIM")["x"])
    np.testing.assert_allclose(samples, x0.numpy(), atol=1e-9)
    assert tab.errors == []


def test_log_snr_plot_is_the_schedule(tab):
    tab.open("diffusion", SNR)
    chosen = next(t for t in figure_data(tab.page, SNR) if t["name"].endswith("(this page)"))
    abar = np.cumprod(1 - _betas(200))
    assert chosen["x"] == list(range(1, 201))
    np.testing.assert_allclose(chosen["y"], np.log(abar) - np.log1p(-abar), rtol=1e-9)


def test_error_panel_is_evaluate_sampler_with_the_exact_metric(tab):
    """Each sampler's line is gausslab's evaluate_sampler (exact sliced-W2 metric, from the
    exact q(x_T), fixed seed) for the page's mixture and schedule: same rows, same SEs."""
    import torch

    from gausslab import GaussianMixture
    from gausslab.diffusion import Diffusion, Schedule, evaluate_sampler
    from gausslab.explorer.pages import diffusion as page

    tab.open("diffusion", "diff-error-graph")
    scale = 1000 / 200
    rows = evaluate_sampler(
        Diffusion(Schedule.linear(200, 1e-4 * scale, 0.02 * scale)),
        GaussianMixture.univariate(torch.tensor(WEIGHTS), torch.tensor(MEANS), torch.tensor(STDS)),
        samplers=page.ERROR_SAMPLERS,
        steps=page.ERROR_STEPS,
        metric="sliced_w2",
        num_samples=page.ERROR_SAMPLES,
        start="exact",
        generator=torch.Generator().manual_seed(page.ERROR_SEED),
    )
    traces = figure_data(tab.page, "diff-error-graph")
    assert {"DDIM (η = 0)", "Heun ODE"} <= {t["name"] for t in traces}
    for trace, name in zip(traces, page.ERROR_SAMPLERS, strict=True):
        mine = [row for row in rows if row.sampler == name]
        assert trace["x"] == [row.steps for row in mine]
        np.testing.assert_allclose(trace["y"], [row.error for row in mine], rtol=1e-12)
    assert tab.errors == []
