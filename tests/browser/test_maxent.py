"""Maximum-entropy page: the bars are scipy's entropies of laws with the chosen variance (the
mixture by scipy quadrature), the Gaussian's bar is the tallest, the drawn densities are scipy's,
the shape sliders move their family, the formulas are typeset by MathJax, and bad values are
reported."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from gausslab.explorer.harness import figure_data, set_value, type_value

pytestmark = pytest.mark.browser

GRAPH = "maxent-graph"
DENSITIES = "maxent-densities"


def _laws(variance: float, nu: float, beta: float, separation: float) -> dict:
    """The page's eight laws as scipy frozen distributions (the mixture as a pdf)."""
    s = math.sqrt(variance)
    gn_scale = s * math.exp(0.5 * (math.lgamma(1 / beta) - math.lgamma(3 / beta)))
    std = s * math.sqrt(1 - separation**2)
    parts = [stats.norm(sign * separation * s, std) for sign in (-1, 1)]
    return {
        "Gaussian": stats.norm(0, s),
        "uniform": stats.uniform(-math.sqrt(3) * s, 2 * math.sqrt(3) * s),
        "triangular": stats.triang(0.5, -math.sqrt(6) * s, 2 * math.sqrt(6) * s),
        "Laplace": stats.laplace(0, s / math.sqrt(2)),
        "logistic": stats.logistic(0, s * math.sqrt(3) / math.pi),
        "Student-t": stats.t(nu, 0, s * math.sqrt((nu - 2) / nu)),
        "generalized normal": stats.gennorm(beta, 0, gn_scale),
        "two-component mixture": lambda x: 0.5 * (parts[0].pdf(x) + parts[1].pdf(x)),
    }


def _entropy(law, variance: float) -> float:
    if hasattr(law, "entropy"):
        return float(law.entropy())
    bound = 12 * math.sqrt(variance)
    value, _ = integrate.quad(
        lambda x: -law(x) * math.log(law(x)) if law(x) > 0 else 0.0, -bound, bound, limit=400
    )
    return value


def _pdf(law, x: np.ndarray) -> np.ndarray:
    return law.pdf(x) if hasattr(law, "pdf") else law(x)


def _check(tab, variance: float, nu: float = 5.0, beta: float = 4.0, separation: float = 0.8):
    laws = _laws(variance, nu, beta, separation)
    (bars,) = figure_data(tab.page, GRAPH)
    assert bars["x"] == list(laws)
    expected = [_entropy(law, variance) for law in laws.values()]
    np.testing.assert_allclose(bars["y"], expected, rtol=1e-9)
    assert (
        bars["y"][0]
        == max(bars["y"])
        == pytest.approx(0.5 * math.log(2 * math.pi * math.e * variance))
    )
    for curve in figure_data(tab.page, DENSITIES):
        x = np.array(curve["x"])
        inside = np.abs(np.abs(x) - math.sqrt(3 * variance)) > 1e-9  # off the uniform's edges
        np.testing.assert_allclose(
            np.array(curve["y"])[inside],
            _pdf(laws[curve["name"]], x)[inside],
            rtol=1e-9,
            atol=1e-12,
        )


def test_bars_and_densities_are_scipy_entropies_and_pdfs(tab):
    tab.open("maxent", GRAPH)
    _check(tab, 1.0)
    set_value(tab.page, "maxent-variance", "2.5", GRAPH)
    _check(tab, 2.5)
    set_value(tab.page, "maxent-student_t", "30", GRAPH)
    set_value(tab.page, "maxent-generalized_normal", "1", GRAPH)
    set_value(tab.page, "maxent-mixture", "0", GRAPH)
    _check(tab, 2.5, nu=30.0, beta=1.0, separation=0.0)
    closest = tab.page.locator("#maxent-closest").inner_text()
    assert closest.startswith("two-component mixture, 0.0000")  # separation 0 is the Gaussian
    assert tab.errors == []


def test_formulas_are_typeset_by_mathjax(tab):
    tab.open("maxent", GRAPH)
    tab.page.locator(".equation mjx-container").first.wait_for()
    assert tab.page.locator(".intro mjx-container").count() >= 4  # H(p), the maximum, ...
    assert tab.page.locator(".readout-label mjx-container").count() == 2
    assert tab.errors == []


def test_invalid_values_show_a_message(tab):
    tab.open("maxent", GRAPH)
    for ctl, typed, message in (
        ("maxent-student_t", "2", "nu of the Student-t must lie in (2, inf)"),
        ("maxent-mixture", "1", "separation of the two-component mixture must lie in [0, 1)"),
        ("maxent-variance", "-1", "variance must be strictly positive"),
        ("maxent-generalized_normal", "abc", "must be a number"),
    ):
        type_value(tab.page, ctl, typed)
        tab.page.wait_for_function(
            "m => (document.querySelector('#maxent-alert .alert') || {}).innerText?.includes(m)",
            arg=message,
        )
        set_value(
            tab.page,
            ctl,
            "1.5" if ctl == "maxent-variance" else "0.5" if ctl == "maxent-mixture" else "3",
            GRAPH,
        )
        assert tab.page.locator("#maxent-alert .alert").count() == 0
