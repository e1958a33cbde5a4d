"""Univariate page: the plotted density integrates to 1, peaks at 1/(sigma sqrt(2 pi)),
follows the mu slider, and rejects invalid sigma with a message."""

from __future__ import annotations

import math

import pytest

from gausslab.explorer.harness import (
    control_text,
    figure_data,
    mark_figure,
    set_value,
    slider_thumb,
    type_value,
    wait_for_new_figure,
)

pytestmark = pytest.mark.browser

GRAPH = "uni-graph"


def _density(tab) -> dict:
    return next(t for t in figure_data(tab.page, GRAPH) if t["name"] == "p(x)")


def test_area_is_one_and_peak_matches_formula_for_several_sigmas(tab):
    tab.open("univariate", GRAPH)
    for sigma in ("0.3", "1", "2.5", "3.7"):
        set_value(tab.page, "uni-sigma", sigma, GRAPH)
        assert tab.page.locator("#uni-area").inner_text() == "1.0000"
        peak = max(_density(tab)["y"])
        assert peak == pytest.approx(1 / (float(sigma) * math.sqrt(2 * math.pi)), rel=1e-9)
    assert tab.errors == []


def test_mu_slider_moves_the_peak(tab):
    tab.open("univariate", GRAPH)
    thumb = slider_thumb(tab.page, "uni-mu")
    for expected in (0.1, 0.2, 0.3):
        mark_figure(tab.page, GRAPH)
        thumb.press("ArrowRight")
        wait_for_new_figure(tab.page, GRAPH)
        curve = _density(tab)
        argmax = max(range(len(curve["y"])), key=curve["y"].__getitem__)
        assert curve["x"][argmax] == pytest.approx(expected, abs=1e-9)
    assert control_text(tab.page, "uni-mu").input_value() == "0.3"


def test_log_view_is_the_parabola_log_p(tab):
    tab.open("univariate", GRAPH)
    set_value(tab.page, "uni-sigma", "2", GRAPH)
    mark_figure(tab.page, GRAPH)
    tab.page.get_by_label("log p(x)").check()
    wait_for_new_figure(tab.page, GRAPH)
    (curve,) = figure_data(tab.page, GRAPH)
    assert curve["name"] == "log p(x)"
    assert max(curve["y"]) == pytest.approx(-math.log(2 * math.sqrt(2 * math.pi)), rel=1e-9)
    x0, y0 = curve["x"][0], curve["y"][0]  # grid edge: mu - 6 sigma, 18 nats below the top
    assert x0 == pytest.approx(-12)
    assert max(curve["y"]) - y0 == pytest.approx(18, rel=1e-9)


def test_invalid_sigma_shows_a_message_and_the_app_keeps_serving(tab):
    tab.open("univariate", GRAPH)
    alert = tab.page.locator("#uni-alert .alert")
    for typed, message in (
        ("-1", "positive"),
        ("0", "positive"),
        ("abc", "must be a number"),
        ("nan", "finite"),
        ("", "must be a number"),
    ):
        type_value(tab.page, "uni-sigma", typed)
        tab.page.wait_for_function(
            "m => (document.querySelector('#uni-alert .alert') || {}).innerText?.includes(m)",
            arg=message,
        )
        set_value(tab.page, "uni-sigma", "0.5", GRAPH)
        assert alert.count() == 0
        assert max(_density(tab)["y"]) == pytest.approx(1 / (0.5 * math.sqrt(2 * math.pi)))
    assert tab.errors == []
