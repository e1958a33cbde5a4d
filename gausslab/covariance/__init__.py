"""Covariance structures, each factorized once, behind one capability interface.

- ``Isotropic``: Sigma = std^2 I over an event of any shape (an image (C, H, W) is one event).
- ``Diagonal``: Sigma = diag(std^2) over an event of any shape.
- ``Dense``: Sigma = L L^T with L the Cholesky factor, vector events.

``Covariance`` (in ``base``) lists what every structure answers (solves, log-det, dense
views, marginal blocks, conditionals, sums, products, divergence pieces); binary operations
dispatch on pairs of structure types through ``registry``. A Gaussian never asks which
structure it holds.
"""

from gausslab.covariance.base import CapabilityError, Covariance, sum_over_event, sum_squares
from gausslab.covariance.dense import Dense
from gausslab.covariance.elementwise import Diagonal, Elementwise, Isotropic
from gausslab.covariance.registry import dispatch, register

__all__ = [
    "CapabilityError",
    "Covariance",
    "Dense",
    "Diagonal",
    "Elementwise",
    "Isotropic",
    "dispatch",
    "register",
    "sum_over_event",
    "sum_squares",
]
