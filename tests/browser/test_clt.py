"""CLT page: the KS distance shown is scipy.stats.kstest's statistic on the very samples
plotted, it shrinks as n grows for a skewed start, and invalid n is reported."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gausslab.explorer.harness import (
    figure_data,
    mark_figure,
    set_value,
    type_value,
    wait_for_new_figure,
)

pytestmark = pytest.mark.browser

GRAPH = "clt-graph"


def _samples(tab) -> np.ndarray:
    trace = next(t for t in figure_data(tab.page, GRAPH) if t["type"] == "histogram")
    return np.array(trace["x"], dtype=np.float64)


def _shown_ks(tab) -> float:
    return float(tab.page.locator("#clt-ks").inner_text())


def test_ks_matches_scipy_on_the_plotted_samples_and_shrinks_with_n(tab):
    tab.open("clt", GRAPH)
    shown = {}
    for start in ("bernoulli", "uniform", "exponential"):  # the page opens on exponential
        mark_figure(tab.page, GRAPH)
        tab.page.get_by_label(start.capitalize(), exact=False).first.check()
        wait_for_new_figure(tab.page, GRAPH)
        for n in ("1", "50"):
            set_value(tab.page, "clt-n", n, GRAPH)
            z = _samples(tab)
            assert len(z) == 5000
            statistic = stats.kstest(z, "norm").statistic
            assert _shown_ks(tab) == pytest.approx(statistic, abs=6e-5)  # shown to 4 decimals
            shown[start, n] = statistic
    for start in ("exponential", "bernoulli", "uniform"):
        assert shown[start, "50"] < shown[start, "1"]
    assert shown["exponential", "50"] < 1.358 / np.sqrt(5000) * 2
    assert tab.errors == []


def test_invalid_n_shows_a_message(tab):
    tab.open("clt", GRAPH)
    for typed, message in (("0", "n must be"), ("2.5", "whole number"), ("x", "a number")):
        type_value(tab.page, "clt-n", typed)
        tab.page.wait_for_function(
            "m => (document.querySelector('#clt-alert .alert') || {}).innerText?.includes(m)",
            arg=message,
        )
        set_value(tab.page, "clt-n", "4", GRAPH)
        assert tab.page.locator("#clt-alert .alert").count() == 0
