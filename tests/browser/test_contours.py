"""Contours page: the drawn principal axes have half-lengths √λᵢ and directions of the
eigenvectors of Σ (checked against numpy.linalg.eigh), and the presets give circles,
axis-aligned and rotated ellipses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gausslab.explorer.harness import (
    control_text,
    figure_data,
    mark_figure,
    set_value,
    wait_for_new_figure,
)

pytestmark = pytest.mark.browser

GRAPH = "cont-graph"


def _axes(tab) -> list[tuple[float, np.ndarray]]:
    """(half-length, unit direction) of each drawn principal axis, in drawing order."""
    result = []
    for trace in figure_data(tab.page, GRAPH):
        if trace["name"].startswith("axis"):
            start, end = np.array([trace["x"], trace["y"]]).T
            half = (end - start) / 2
            result.append((float(np.linalg.norm(half)), half / np.linalg.norm(half)))
    return result


def _check_axes_match_eigh(tab, var1: float, var2: float, rho: float) -> None:
    cross = rho * math.sqrt(var1 * var2)
    eigenvalues, eigenvectors = np.linalg.eigh(np.array([[var1, cross], [cross, var2]]))
    drawn = _axes(tab)
    assert len(drawn) == 2
    for (length, direction), i in zip(drawn, (1, 0), strict=True):  # eigh is ascending
        assert length == pytest.approx(math.sqrt(eigenvalues[i]), rel=1e-9)
        if not math.isclose(eigenvalues[0], eigenvalues[1]):
            assert abs(direction @ eigenvectors[:, i]) == pytest.approx(1, abs=1e-9)


def test_axes_lengths_and_directions_match_numpy_eigh(tab):
    tab.open("contours", GRAPH)
    _check_axes_match_eigh(tab, 1.0, 1.0, 0.5)
    for var1, var2, rho in ((2.5, 0.7, -0.6), (0.4, 3.0, 0.85)):
        for name, value in (("var1", var1), ("var2", var2), ("rho", rho)):
            set_value(tab.page, f"cont-{name}", str(value), GRAPH)
        _check_axes_match_eigh(tab, var1, var2, rho)
    assert tab.errors == []


def test_presets_set_the_covariance(tab):
    tab.open("contours", GRAPH)
    presets = (
        ("Isotropic", (1.0, 1.0, 0.0)),
        ("Diagonal", (3.0, 0.5, 0.0)),
        ("Rotated", (2.0, 1.0, 0.7)),
    )
    for button, params in presets:
        mark_figure(tab.page, GRAPH)
        tab.page.get_by_role("button", name=button).click()
        wait_for_new_figure(tab.page, GRAPH)
        assert float(control_text(tab.page, "cont-var1").input_value()) == params[0]
        _check_axes_match_eigh(tab, *params)
        ring = next(t for t in figure_data(tab.page, GRAPH) if t["name"] == "Mahalanobis 1")
        radii = np.hypot(ring["x"], ring["y"])
        if button == "Isotropic":
            np.testing.assert_allclose(radii, 1.0, rtol=1e-9)  # a circle
        else:
            assert radii.max() - radii.min() > 0.1
        samples = next(t for t in figure_data(tab.page, GRAPH) if t["name"] == "samples")
        assert len(samples["x"]) == 300
    assert tab.errors == []
