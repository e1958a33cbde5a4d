"""The library's checks, one module per topic; importing this package registers them all, in
the order of TOPICS (the order of the report)."""

from __future__ import annotations

import importlib

TOPICS = (
    "univariate",
    "multivariate",
    "reparameterization",
    "algebra",
    "mixture",
    "divergences",
    "diffusion",
    "central_limit",
    "maxent",
    "brownian",
    "conceptual",
)

for _topic in TOPICS:
    importlib.import_module(f"{__name__}.{_topic}")
