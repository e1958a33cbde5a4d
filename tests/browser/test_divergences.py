"""KL/W2 page: the numbers shown match the closed forms computed here with numpy/scipy,
KL is asymmetric, and both vanish for P = Q."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import sqrtm

from gausslab.explorer.harness import set_value

pytestmark = pytest.mark.browser

GRAPH = "div-graph"
NAMES = ("mu1", "mu2", "var1", "var2", "rho")


def _gaussian(mu1, mu2, var1, var2, rho) -> tuple[np.ndarray, np.ndarray]:
    cross = rho * math.sqrt(var1 * var2)
    return np.array([mu1, mu2]), np.array([[var1, cross], [cross, var2]])


def _kl(p, q) -> float:
    (mp, sp), (mq, sq) = p, q
    sq_inv = np.linalg.inv(sq)
    diff = mq - mp
    logdet = np.log(np.linalg.det(sq) / np.linalg.det(sp))
    return 0.5 * (np.trace(sq_inv @ sp) + diff @ sq_inv @ diff - 2 + logdet)


def _w2(p, q) -> float:
    (mp, sp), (mq, sq) = p, q
    root = sqrtm(sp)
    cross = sqrtm(root @ sq @ root).real
    return math.sqrt(np.sum((mp - mq) ** 2) + np.trace(sp + sq - 2 * cross))


def _shown(tab, name: str) -> float:
    return float(tab.page.locator(f"#div-{name}").inner_text())


def _set(tab, prefix: str, params: tuple[float, ...]) -> None:
    for name, value in zip(NAMES, params, strict=True):
        set_value(tab.page, f"div-{prefix}-{name}", f"{value:g}", GRAPH)


def test_kl_and_w2_match_closed_forms(tab):
    tab.open("divergences", GRAPH)
    p_params, q_params = (0.0, 0.0, 1.0, 1.0, 0.5), (1.0, -0.5, 2.0, 0.5, -0.3)
    for step in range(2):
        if step:
            p_params, q_params = (-1.5, 0.7, 0.4, 3.0, 0.8), (0.5, 1.2, 2.5, 1.5, -0.6)
            _set(tab, "p", p_params)
            _set(tab, "q", q_params)
        p, q = _gaussian(*p_params), _gaussian(*q_params)
        assert _shown(tab, "kl-pq") == pytest.approx(_kl(p, q), rel=1e-5)
        assert _shown(tab, "kl-qp") == pytest.approx(_kl(q, p), rel=1e-5)
        assert _shown(tab, "w2") == pytest.approx(_w2(p, q), rel=1e-5)
        assert _shown(tab, "kl-pq") != pytest.approx(_shown(tab, "kl-qp"), rel=1e-3)
    assert tab.errors == []


def test_distances_vanish_for_equal_gaussians(tab):
    tab.open("divergences", GRAPH)
    _set(tab, "q", (0.0, 0.0, 1.0, 1.0, 0.5))  # the defaults of P
    assert _shown(tab, "kl-pq") == pytest.approx(0, abs=1e-12)
    assert _shown(tab, "kl-qp") == pytest.approx(0, abs=1e-12)
    assert _shown(tab, "w2") == pytest.approx(0, abs=1e-6)
