"""Conditioning page: the conditional of x₁ given x₂ is N(ρ x₂, 1 − ρ²) for unit variances
(the seed's exercise: ρ = .7, x₂ = 1.5 gives N(1.05, 0.51)), drawn curve and slice agree."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gausslab.explorer.harness import (
    figure_data,
    mark_figure,
    set_value,
    slider_thumb,
    type_value,
    wait_for_new_figure,
)

pytestmark = pytest.mark.browser

GRAPH = "cond-graph"


def _normal_pdf(x: np.ndarray, mean: float, var: float) -> np.ndarray:
    return np.exp(-((x - mean) ** 2) / (2 * var)) / math.sqrt(2 * math.pi * var)


def _check_conditional(tab, rho: float, x2: float) -> None:
    traces = {t["name"]: t for t in figure_data(tab.page, GRAPH)}
    curve = traces["p(x₁ | x₂) = N(μ₁|₂, σ²₁|₂)"]
    x = np.array(curve["x"])
    expected = _normal_pdf(x, rho * x2, 1 - rho**2)
    np.testing.assert_allclose(curve["y"], expected, rtol=1e-9, atol=1e-300)
    ratio = traces["slice p(x₁, x₂) / p(x₂)"]
    np.testing.assert_allclose(
        ratio["y"], _normal_pdf(np.array(ratio["x"]), rho * x2, 1 - rho**2), rtol=1e-9
    )
    assert traces["μ₁|₂ on the slice"]["x"][0] == pytest.approx(rho * x2, abs=1e-12)
    assert traces["slice x₂ = value"]["y"] == [x2, x2]


def test_seed_exercise_gives_n_1_05_0_51(tab):
    tab.open("conditioning", GRAPH)
    assert tab.page.locator("#cond-law").inner_text() == "N(1.05, 0.51)"
    _check_conditional(tab, 0.7, 1.5)
    assert tab.errors == []


def test_conditional_mean_is_rho_times_x2_as_controls_move(tab):
    tab.open("conditioning", GRAPH)
    for rho, x2 in ((-0.4, 2.0), (0.9, -1.2), (0.0, 2.5)):
        set_value(tab.page, "cond-rho", str(rho), GRAPH)
        set_value(tab.page, "cond-x2", str(x2), GRAPH)
        _check_conditional(tab, rho, x2)
    mark_figure(tab.page, GRAPH)
    slider_thumb(tab.page, "cond-x2").press("ArrowLeft")  # 2.5 -> 2.4 with rho = 0
    wait_for_new_figure(tab.page, GRAPH)
    _check_conditional(tab, 0.0, 2.4)


def test_rho_outside_the_open_unit_interval_is_reported(tab):
    tab.open("conditioning", GRAPH)
    for rho in ("1", "-1.5"):
        type_value(tab.page, "cond-rho", rho)
        alert = tab.page.locator("#cond-alert .alert")
        alert.wait_for()
        assert "Correlation ρ must lie strictly between -1 and 1" in alert.inner_text()
        set_value(tab.page, "cond-rho", "0.5", GRAPH)
        _check_conditional(tab, 0.5, 1.5)
        assert tab.page.locator("#cond-alert .alert").count() == 0
