"""Memorization page: with no smoothing, the samples of the exact optimal denoiser of the
empirical law of N training points land on those points (nearest-neighbour distance ~ 0);
a smoothing s > 0 makes them generalize (distances comparable to fresh draws). The readouts
are checked against distances recomputed here (scipy) from the plotted points."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from gausslab.explorer.harness import figure_data, set_value

pytestmark = pytest.mark.browser

GRAPH = "mem-graph"


def _points_and_samples(tab) -> tuple[np.ndarray, np.ndarray]:
    traces = {t["name"].split(" (")[0]: t for t in figure_data(tab.page, GRAPH)}
    points = np.c_[traces["training points"]["x"], traces["training points"]["y"]]
    samples = np.c_[traces["samples"]["x"], traces["samples"]["y"]]
    return points, samples


def _nearest(samples: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cKDTree(points).query(samples)[0]


def test_no_smoothing_memorizes_and_smoothing_generalizes(tab):
    tab.open("memorization", GRAPH)
    points, samples = _points_and_samples(tab)
    assert points.shape == (12, 2) and samples.shape == (300, 2)
    distances = _nearest(samples, points)
    assert np.median(distances) < 1e-3  # on the training points
    shown = float(tab.page.locator("#mem-nn").inner_text())
    assert shown == pytest.approx(np.median(distances), abs=1e-4)
    copies = int(tab.page.locator("#mem-copies").inner_text().split()[0])
    assert copies == int((distances < 1e-2).sum()) and copies > 250

    set_value(tab.page, "mem-std", "0.5", GRAPH)
    points, samples = _points_and_samples(tab)
    distances = _nearest(samples, points)
    fresh = float(tab.page.locator("#mem-nn-fresh").inner_text())
    assert np.median(distances) > 0.5 * fresh  # off the points, like new data
    assert float(tab.page.locator("#mem-nn").inner_text()) == pytest.approx(
        np.median(distances), abs=1e-4
    )
    assert (distances < 1e-2).sum() == 0
    assert tab.errors == []


def test_negative_smoothing_is_reported(tab):
    tab.open("memorization", GRAPH)
    box = tab.page.locator('[id=\'{"ctl":"mem-std","role":"text"}\']')
    box.fill("-1")
    box.press("Enter")
    alert = tab.page.locator("#mem-alert .alert")
    alert.wait_for()
    assert "s must be >= 0" in alert.inner_text()
