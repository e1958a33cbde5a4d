"""Answer malformed posts to Dash's callback endpoint with 400 instead of a server error.

Dash trusts the shape of ``/_dash-update-component`` bodies (its own renderer builds them);
a hand-made body with a missing key or a wrong type would crash Dash's dispatcher with a
500. This check runs before the dispatcher and rejects such bodies. Values inside a
well-formed body are checked by the pages themselves (see ``callbacks.page_callback``).
"""

from __future__ import annotations

from typing import Any

from dash import Dash
from flask import request

DISPATCH_SUFFIX = "_dash-update-component"


def _is_prop(item: Any) -> bool:
    return isinstance(item, dict) and "id" in item and isinstance(item.get("property"), str)


def _props_match(received: Any, expected: list[Any]) -> bool:
    """``received`` is a list of one prop (or list of props, for wildcards) per expected entry."""
    if not isinstance(received, list) or len(received) != len(expected):
        return False
    return all(
        _is_prop(item) or (isinstance(item, list) and all(map(_is_prop, item))) for item in received
    )


def malformed_reason(app: Dash, body: Any) -> str | None:
    """Why ``body`` is not a callback request this app can dispatch, or None if it is."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    output = body.get("output")
    callback = app.callback_map.get(output) if isinstance(output, str) else None
    if callback is None:
        return "'output' must name one of this app's callbacks"
    outputs = body.get("outputs")
    if output.startswith(".."):  # several outputs: "..a.prop...b.prop.."
        if not _props_match(outputs, output[2:-2].split("...")):
            return "'outputs' does not match the callback's outputs"
    elif not _is_prop(outputs):
        return "'outputs' must describe the callback's output"
    if not _props_match(body.get("inputs"), callback["inputs"]):
        return "'inputs' does not match the callback's inputs"
    if not _props_match(body.get("state", []), callback["state"]):
        return "'state' does not match the callback's state"
    changed = body.get("changedPropIds", [])
    if not (isinstance(changed, list) and all(isinstance(c, str) for c in changed)):
        return "'changedPropIds' must be a list of strings"
    return None


def reject_malformed_updates(app: Dash) -> None:
    """Install the check on ``app``'s Flask server."""

    @app.server.before_request
    def check_update_body() -> tuple[dict[str, str], int] | None:
        if request.method != "POST" or not request.path.endswith(DISPATCH_SUFFIX):
            return None
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # JSON nested deeper than the parser's recursion limit
            body = None
        reason = malformed_reason(app, body)
        return ({"error": f"malformed callback request: {reason}"}, 400) if reason else None
