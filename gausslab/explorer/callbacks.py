"""Page callbacks that never raise: library errors become the page's alert message.

``page_callback`` is the one place where exceptions are turned into messages. A
``ValueError``/``TypeError``/``ArithmeticError`` is the library (or ``parse_number``)
rejecting an input: its message is shown as is. Anything else is a bug: it is logged with
its traceback and the page says so, while the server keeps serving.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from dash import Dash, Input, Output, State, no_update

from gausslab.explorer.controls import alert

log = logging.getLogger(__name__)

INPUT_ERRORS = (ValueError, TypeError, ArithmeticError)


def shown(value: Any, limit: int = 40) -> str:
    """repr(value) cut to `limit` characters, so a hostile input is not echoed whole."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def parse_number(value: Any, name: str) -> float:
    """The finite float a control holds; a ValueError naming ``name`` otherwise.

    Range checks (sigma > 0, |rho| < 1, ...) are the library's job, not this function's.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {shown(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        received = "nothing" if value in (None, "") else shown(value)
        raise ValueError(f"{name} must be a number, got {received}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {shown(value)}")
    return number


def parse_int(value: Any, name: str) -> int:
    """The integer a control holds; a ValueError naming ``name`` otherwise."""
    number = parse_number(value, name)
    if number != int(number):
        raise ValueError(f"{name} must be a whole number, got {shown(value)}")
    return int(number)


def parse_numbers(value: Any, name: str) -> list[float]:
    """The finite floats of a comma-separated list such as "0.3, 0.7"."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a comma-separated list of numbers, got {shown(value)}")
    return [parse_number(item.strip(), f"each of {name}") for item in value.split(",")]


def page_callback(
    app: Dash,
    outputs: Sequence[Output],
    inputs: Sequence[Input | State],
    *,
    alert_id: str,
) -> Callable[[Callable[..., Sequence[Any]]], Callable[..., list[Any]]]:
    """Register ``func(*input_values) -> outputs`` with errors shown in ``alert_id``.

    On success the alert is cleared; on an input error the outputs keep their last good
    values and the alert shows the error message.
    """

    def decorate(func: Callable[..., Sequence[Any]]) -> Callable[..., list[Any]]:
        @functools.wraps(func)
        def run(*values: Any) -> list[Any]:
            unchanged = [no_update] * len(outputs)
            try:
                return [*func(*values), None]
            except INPUT_ERRORS as exc:
                return [*unchanged, alert(str(exc))]
            except Exception:
                log.exception("explorer callback %s failed", func.__name__)
                return [*unchanged, alert("Internal error; the server log has the details.")]

        app.callback([*outputs, Output(alert_id, "children")], list(inputs))(run)
        return run

    return decorate
