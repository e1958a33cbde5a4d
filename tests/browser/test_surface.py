"""3-D page: the surface peaks at the mean with height 1/(2π |Σ|^½), and a rotated camera
survives a slider move (uirevision)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gausslab.explorer.harness import (
    figure_data,
    mark_figure,
    scene_camera,
    set_value,
    slider_thumb,
    wait_for_new_figure,
)

pytestmark = pytest.mark.browser

GRAPH = "surf-graph"


def test_surface_peak_is_at_the_mean_with_the_normalizing_height(tab):
    tab.open("surface", GRAPH)
    params = {"mu1": "1", "mu2": "-0.4", "var1": "2", "var2": "0.5", "rho": "0.3"}
    for name, value in params.items():
        set_value(tab.page, f"surf-{name}", value, GRAPH)
    (surface,) = figure_data(tab.page, GRAPH)
    z = np.array(surface["z"])
    row, col = np.unravel_index(z.argmax(), z.shape)
    assert surface["x"][col] == pytest.approx(1.0, abs=1e-9)
    assert surface["y"][row] == pytest.approx(-0.4, abs=1e-9)
    det = 2 * 0.5 * (1 - 0.3**2)
    assert z.max() == pytest.approx(1 / (2 * math.pi * math.sqrt(det)), rel=1e-9)
    assert tab.errors == []


def test_rotated_camera_survives_a_slider_move(tab):
    tab.open("surface", GRAPH)
    default_eye = scene_camera(tab.page, GRAPH)["eye"]
    box = tab.page.locator(f"#{GRAPH} .js-plotly-plot").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    tab.page.mouse.move(cx, cy)
    tab.page.mouse.down()
    tab.page.mouse.move(cx + 150, cy + 40, steps=8)
    tab.page.mouse.up()
    rotated_eye = scene_camera(tab.page, GRAPH)["eye"]
    assert rotated_eye != pytest.approx(default_eye, abs=1e-3)

    mark_figure(tab.page, GRAPH)
    slider_thumb(tab.page, "surf-rho").press("ArrowLeft")
    wait_for_new_figure(tab.page, GRAPH)
    assert scene_camera(tab.page, GRAPH)["eye"] == pytest.approx(rotated_eye, abs=1e-9)
    assert tab.errors == []
