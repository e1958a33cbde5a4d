"""Shared test settings: hypothesis profiles and helpers to post explorer callback requests.

Hypothesis profiles (pick one with HYPOTHESIS_PROFILE or --hypothesis-profile):
- "default": derandomized, no deadline, hypothesis' 100 examples per test (a test's own
  @settings(max_examples=...) still wins); tests/test_properties.py runs 10x that per
  property (PROPERTY_EXAMPLES), ~10,300 examples in all.
- "ci": the same, used by CI, so a CI run is reproducible locally.
- "dev": 10 examples per test (100 per property), for quick edits.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "derandomize": True,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("default", max_examples=100, **_COMMON)
settings.register_profile("ci", max_examples=100, **_COMMON)
settings.register_profile("dev", max_examples=10, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# One intra-op thread per test process: `pytest -n 2` then fills two cores without the
# oversubscription that makes small-tensor tests wait on descheduled threads.
torch.set_num_threads(1)


def _dash_id(component_id: Any) -> str:
    """The string Dash uses for a component id (dict ids as sorted, compact JSON)."""
    if isinstance(component_id, dict):
        return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return str(component_id)


def _layout_values(app: Any) -> dict[tuple[str, str], Any]:
    """(component id, property) -> initial value, over every page's layout."""
    values: dict[tuple[str, str], Any] = {}
    for component in app.validation_layout._traverse():
        ident = getattr(component, "id", None)
        if ident is None:
            continue
        for prop in component._prop_names:
            value = getattr(component, prop, None)
            if value is not None and isinstance(value, str | int | float | list | dict | bool):
                values[(_dash_id(ident), prop)] = value
    return values


@pytest.fixture(scope="session")
def explorer_app() -> Any:
    """One explorer app for the session (create_app sets torch to one intra-op thread for
    its process; the previous count is restored so other tests keep their speed)."""
    from gausslab.explorer.server import create_app

    threads = torch.get_num_threads()
    app = create_app()
    torch.set_num_threads(threads)
    return app


CallbackBody = Callable[[str, dict[str, Any]], dict[str, Any]]


@pytest.fixture(scope="session")
def callback_body(explorer_app: Any) -> CallbackBody:
    """``callback_body(output_prefix, overrides)``: a well-formed /_dash-update-component body
    for the callback whose first output starts with ``output_prefix`` (e.g. "uni-graph"),
    every input and state taking its layout value unless ``overrides`` (keyed by control
    name such as "uni-mu", or component id) replaces it."""
    from dash._utils import split_callback_id

    defaults = _layout_values(explorer_app)

    def build(prefix: str, overrides: dict[str, Any]) -> dict[str, Any]:
        keys = [key for key in explorer_app.callback_map if key.lstrip(".").startswith(prefix)]
        assert len(keys) == 1, f"{prefix!r} names callbacks {keys}"
        key = keys[0]
        callback = explorer_app.callback_map[key]

        def props(specs: list[dict[str, str]]) -> list[dict[str, Any]]:
            items = []
            for spec in specs:
                ident = spec["id"]
                parsed = json.loads(ident) if ident.startswith("{") else ident
                name = parsed["ctl"] if isinstance(parsed, dict) else parsed
                value = overrides.get(name, defaults.get((ident, spec["property"])))
                items.append({"id": parsed, "property": spec["property"], "value": value})
            return items

        return {
            "output": key,
            "outputs": split_callback_id(key),
            "inputs": props(callback["inputs"]),
            "state": props(callback["state"]),
            "changedPropIds": [],
        }

    return build
