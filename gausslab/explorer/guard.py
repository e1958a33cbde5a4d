"""Answer malformed posts to Dash's callback endpoint with 400 instead of a server error.

Dash trusts the shape of ``/_dash-update-component`` bodies (its own renderer builds them);
a hand-made body with a missing key, a wrong type, or outputs/inputs that name other
components than the callback declares would crash Dash's dispatcher with a 500. This check
runs before the dispatcher and rejects such bodies: every output, input and state entry
must name the component id (a pattern id matching its wildcards) and property the
callback was registered with. Values inside a well-formed body are checked by the pages
themselves (see ``callbacks.page_callback``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from dash import Dash
from dash.exceptions import DashException
from flask import request

log = logging.getLogger(__name__)

DISPATCH_SUFFIX = "_dash-update-component"
Spec = tuple[str, str]  # (component id as Dash writes it, property)


def _bare_property(prop: str) -> str:
    """A property without the ``@hash`` Dash appends to duplicate-allowed outputs."""
    return prop.split("@", 1)[0]


def _output_specs(key: str) -> list[Spec]:
    """The (id, property) of each output named by a callback key "a.p" or "..a.p...b.q.."."""
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    return [tuple(part.rsplit(".", 1)) for part in parts]  # type: ignore[misc]


def _id_matches(received: Any, declared: str) -> bool:
    """Whether a received component id is the declared one (a string, or a JSON pattern
    whose wildcard values, written ["MATCH"] etc., match any scalar)."""
    if not declared.startswith("{"):
        return received == declared
    pattern = json.loads(declared)
    if not isinstance(received, dict) or set(received) != set(pattern):
        return False
    for key, value in pattern.items():
        if isinstance(value, list):  # a wildcard
            if not isinstance(received[key], str | int | float) or isinstance(received[key], bool):
                return False
        elif received[key] != value:
            return False
    return True


def _prop_matches(item: Any, spec: Spec) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("property"), str)
        and _bare_property(item["property"]) == _bare_property(spec[1])
        and _id_matches(item.get("id"), spec[0])
    )


def _props_match(received: Any, specs: list[Spec]) -> bool:
    """``received`` holds one prop per spec (a list of props for an ALL-type wildcard)."""
    if not isinstance(received, list) or len(received) != len(specs):
        return False
    return all(
        _prop_matches(item, spec)
        or (isinstance(item, list) and all(_prop_matches(one, spec) for one in item))
        for item, spec in zip(received, specs, strict=True)
    )


def _declared(entries: list[dict[str, str]]) -> list[Spec]:
    return [(entry["id"], entry["property"]) for entry in entries]


def malformed_reason(app: Dash, body: Any) -> str | None:
    """Why ``body`` is not a callback request this app can dispatch, or None if it is."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    output = body.get("output")
    callback = app.callback_map.get(output) if isinstance(output, str) else None
    if callback is None:
        return "'output' must name one of this app's callbacks"
    if "callback" not in callback:
        return "'output' names a callback that runs in the browser, not on the server"
    outputs = body.get("outputs")
    specs = _output_specs(output)
    single = not output.startswith("..")
    if not (_prop_matches(outputs, specs[0]) if single else _props_match(outputs, specs)):
        return "'outputs' does not match the callback's outputs"
    if not _props_match(body.get("inputs"), _declared(callback["inputs"])):
        return "'inputs' does not match the callback's inputs"
    if not _props_match(body.get("state", []), _declared(callback["state"])):
        return "'state' does not match the callback's state"
    changed = body.get("changedPropIds", [])
    if not (isinstance(changed, list) and all(isinstance(c, str) for c in changed)):
        return "'changedPropIds' must be a list of strings"
    return None


def _refuse(reason: str) -> tuple[dict[str, str], int]:
    return {"error": f"malformed callback request: {reason}"}, 400


def reject_malformed_updates(app: Dash) -> None:
    """Install the check on ``app``'s Flask server, and a last line of defence: a Dash
    error raised while dispatching a request that passed the check is logged with its
    traceback and answered 400, never 500."""

    @app.server.before_request
    def check_update_body() -> tuple[dict[str, str], int] | None:
        if request.method != "POST" or not request.path.endswith(DISPATCH_SUFFIX):
            return None
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # JSON nested deeper than the parser's recursion limit
            body = None
        reason = malformed_reason(app, body)
        return _refuse(reason) if reason else None

    @app.server.errorhandler(DashException)
    def dispatch_error(error: DashException) -> tuple[dict[str, str], int]:
        if not request.path.endswith(DISPATCH_SUFFIX):
            raise error
        log.error("explorer: Dash refused a callback request", exc_info=error)
        return _refuse(f"Dash refused it ({type(error).__name__})")
