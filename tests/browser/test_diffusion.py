"""Diffusion page: the plotted density of x_t is the mixture with components
N(√ᾱ_t μ_k, ᾱ_t s_k² + 1 − ᾱ_t) (ᾱ computed here from the DDPM linear schedule with its
beta range rescaled by 1000 / T, improved-diffusion's convention), the
t slider follows T, reverse sampling with the optimal denoiser recovers the data law, and
invalid data, T or steps are reported."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gausslab.explorer.harness import (
    figure_data,
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
