"""Brownian-motion page: the plotted positions are the library's random walk (same seed) scaled
by σ, the drawn density is N(0, σ²t) (scipy), the KS readout is scipy's on the plotted samples;
coin-flip positions lie on their lattice; the forward panel draws the exploding and preserving
laws of the exercise-4 mixture (ᾱ computed here) with VP = √ᾱ · VE particle by particle; bad
values are reported."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from gausslab.brownian import random_walk
from gausslab.explorer.harness import (
    figure_data,
    mark_figure,
    set_value,
    slider_thumb,
    type_value,
    wait_for_new_figure,
)

pytestmark = pytest.mark.browser

GRAPH = "brown-graph"
PATHS = "brown-paths"
FORWARD = "brown-forward"
PARTICLES = 2000
WEIGHTS, MEANS, STDS = np.array([0.3, 0.7]), np.array([-2.0, 1.5]), np.array([0.3, 0.5])


def _trace(tab, graph: str, prefix: str) -> dict:
    return next(t for t in figure_data(tab.page, graph) if t["name"].startswith(prefix))


def _check_positions(tab, steps: str, sigma: float, n: int, k: int) -> np.ndarray:
    """The histogram is sigma * the seed-0 walk at step k; the curve is N(0, sigma^2 k / n)."""
    walk = random_walk(PARTICLES, n, steps=steps, generator=torch.Generator().manual_seed(0))
    expected = sigma * walk.positions[k].numpy()
    samples = np.array(_trace(tab, GRAPH, "positions")["x"])
    np.testing.assert_allclose(samples, expected, rtol=1e-12, atol=1e-12)
    t = k / n
    curve = _trace(tab, GRAPH, "N(0, σ²t)")
    x = np.array(curve["x"])
    np.testing.assert_allclose(curve["y"], stats.norm.pdf(x, 0, sigma * math.sqrt(t)), rtol=1e-10)
    shown = float(tab.page.locator("#brown-ks").inner_text())
    assert shown == pytest.approx(
        stats.kstest(samples, "norm", args=(0, sigma * math.sqrt(t))).statistic, abs=6e-5
    )
    variance, exact = (
        float(v) for v in tab.page.locator("#brown-variance").inner_text().split("/")
    )
    assert variance == pytest.approx(np.mean(samples**2), abs=6e-5)
    assert exact == pytest.approx(sigma**2 * t, abs=6e-5)
    return samples


def test_positions_are_the_walk_and_their_law_is_gaussian(tab):
    tab.open("brownian", GRAPH)
    _check_positions(tab, "uniform", 1.0, 100, 50)  # the defaults: t = 0.5
    set_value(tab.page, "brown-sigma", "2", GRAPH)
    set_value(tab.page, "brown-t", "0.2", GRAPH)
    _check_positions(tab, "uniform", 2.0, 100, 20)
    mark_figure(tab.page, GRAPH)
    slider_thumb(tab.page, "brown-t").press("ArrowRight")
    wait_for_new_figure(tab.page, GRAPH)
    _check_positions(tab, "uniform", 2.0, 100, 21)
    paths = figure_data(tab.page, PATHS)
    assert sum(t["name"].startswith("particle") for t in paths) == 25
    envelope = _trace(tab, PATHS, "±2σ√t")
    np.testing.assert_allclose(envelope["y"], 4 * np.sqrt(envelope["x"]), rtol=1e-12)
    assert tab.errors == []


def test_coin_flip_positions_lie_on_their_lattice(tab):
    tab.open("brownian", GRAPH)
    mark_figure(tab.page, GRAPH)
    tab.page.get_by_label("coin flip", exact=False).check()
    wait_for_new_figure(tab.page, GRAPH)
    set_value(tab.page, "brown-n", "16", GRAPH)
    samples = _check_positions(tab, "coin", 1.0, 16, 8)
    # after 8 steps of +-1/4: positions are multiples of 1/4 with even numerators (-2..2)
    np.testing.assert_allclose(samples * 4, np.round(samples * 4), atol=1e-12)
    assert set(np.round(samples * 4).astype(int)) <= {-8, -6, -4, -2, 0, 2, 4, 6, 8}
    assert tab.errors == []


def _alpha_bar(t: int) -> float:
    betas = np.linspace(1e-3, 0.2, 100)  # the exercise-4 schedule: linear, T = 100
    return float(np.prod(1 - betas[:t]))


def _mixture_pdf(x: np.ndarray, scale: float, noise_var: float) -> np.ndarray:
    loc, std = scale * MEANS, np.sqrt(scale**2 * STDS**2 + noise_var)
    return (WEIGHTS * stats.norm.pdf(x[:, None], loc, std)).sum(axis=1)


def _check_forward(tab, t: int) -> None:
    abar = _alpha_bar(t)
    sigma_sq = (1 - abar) / abar
    traces = figure_data(tab.page, FORWARD)
    ve, vp = (
        next(c for c in traces if c["name"] == f"exact law, {kind}")
        for kind in ("exploding", "preserving")
    )
    np.testing.assert_allclose(ve["y"], _mixture_pdf(np.array(ve["x"]), 1.0, sigma_sq), rtol=1e-9)
    np.testing.assert_allclose(
        vp["y"], _mixture_pdf(np.array(vp["x"]), math.sqrt(abar), 1 - abar), rtol=1e-9
    )
    ve_particles, vp_particles = (np.array(c["x"]) for c in traces if c["type"] == "histogram")
    np.testing.assert_allclose(vp_particles, math.sqrt(abar) * ve_particles, rtol=1e-12)
    assert float(tab.page.locator("#brown-sigma-t").inner_text()) == pytest.approx(
        math.sqrt(sigma_sq), rel=1e-3
    )


def test_forward_panel_shows_exploding_and_preserving_laws(tab):
    tab.open("brownian", FORWARD)
    _check_forward(tab, 20)
    for t in ("1", "100"):
        set_value(tab.page, "brown-diffusion-t", t, FORWARD)
        _check_forward(tab, int(t))
    assert tab.errors == []


def test_invalid_values_show_a_message(tab):
    tab.open("brownian", GRAPH)
    for ctl, typed, message, alert, graph, good in (
        ("brown-n", "501", "steps must be between 1 and 500", "brown-alert", GRAPH, "100"),
        ("brown-sigma", "0", "σ must be positive", "brown-alert", GRAPH, "1"),
        ("brown-t", "x", "t must be a number", "brown-alert", GRAPH, "0.5"),
        (
            "brown-diffusion-t",
            "0",
            "diffusion step t must be between 1 and 100",
            "brown-forward-alert",
            FORWARD,
            "20",
        ),
    ):
        type_value(tab.page, ctl, typed)
        tab.page.wait_for_function(
            "([id, m]) => (document.querySelector(`#${id} .alert`) || {}).innerText?.includes(m)",
            arg=[alert, message],
        )
        set_value(tab.page, ctl, good, graph)
        assert tab.page.locator(f"#{alert} .alert").count() == 0
