"""Shared page building blocks: numeric controls, alert areas, readouts and page frames.

A numeric control is a slider paired with a text box. The text box holds the value the
page computes with (so any typed value, valid or not, reaches the library and its error
message reaches the page); a clientside callback keeps the two in sync without a trip to
the server.
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, dcc, html
from dash.dependencies import MATCH
from dash.development.base_component import Component

from gausslab.explorer.formulas import prose


def slider_id(ctl: str) -> dict[str, str]:
    """Component id of the slider of control ``ctl``."""
    return {"ctl": ctl, "role": "slider"}


def text_id(ctl: str) -> dict[str, str]:
    """Component id of the text box of control ``ctl`` (its ``value`` is what pages read)."""
    return {"ctl": ctl, "role": "text"}


def value_of(ctl: str) -> Input:
    """The callback input that carries control ``ctl``'s current (typed or slid) value."""
    return Input(text_id(ctl), "value")


def number_control(
    ctl: str,
    label: str,
    *,
    low: float,
    high: float,
    step: float,
    value: float,
    live: bool = True,
) -> html.Div:
    """A labelled slider over [low, high] with a text box for any typed value.

    ``live`` updates while dragging; heavier pages pass ``live=False`` (update on release).
    """
    return html.Div(
        className="control",
        children=[
            html.Label(label, className="control-label"),
            html.Div(
                className="control-row",
                children=[
                    dcc.Slider(
                        id=slider_id(ctl),
                        min=low,
                        max=high,
                        step=step,
                        value=value,
                        marks=None,
                        allow_direct_input=False,
                        updatemode="drag" if live else "mouseup",
                        className="control-slider",
                    ),
                    dcc.Input(
                        id=text_id(ctl),
                        type="text",
                        value=str(value),
                        debounce=True,
                        className="control-text",
                        size="7",
                    ),
                ],
            ),
        ],
    )


_SYNC_JS = """
function (sliderValue, text, low, high) {
    const none = window.dash_clientside.no_update;
    const trigger = window.dash_clientside.callback_context.triggered_id;
    if (!trigger) { return [none, none]; }
    if (trigger.role === "slider") {
        return [none, String(parseFloat(Number(sliderValue).toPrecision(10)))];
    }
    const x = Number(text);
    const typed = text !== null && String(text).trim() !== "" && Number.isFinite(x);
    return [typed && x >= low && x <= high ? x : none, none];
}
"""


def register_control_sync(app: Dash) -> None:
    """Keep every control's slider and text box in sync, in the browser."""
    app.clientside_callback(
        _SYNC_JS,
        Output(slider_id(MATCH), "value"),
        Output(text_id(MATCH), "value"),
        Input(slider_id(MATCH), "value"),
        Input(text_id(MATCH), "value"),
        State(slider_id(MATCH), "min"),
        State(slider_id(MATCH), "max"),
        prevent_initial_call=True,
    )


def choice(component_id: str, label: str, options: dict[str, str], value: str) -> html.Div:
    """A labelled inline radio group; ``options`` maps values to their labels."""
    return html.Div(
        className="control",
        children=[
            html.Label(label, className="control-label"),
            dcc.RadioItems(
                id=component_id,
                options=[{"value": v, "label": text} for v, text in options.items()],
                value=value,
                inline=True,
                className="control-choice",
            ),
        ],
    )


def text_field(component_id: str, label: str, value: str) -> html.Div:
    """A labelled free-text box, committed on Enter or when it loses focus."""
    return html.Div(
        className="control",
        children=[
            html.Label(label, className="control-label"),
            dcc.Input(
                id=component_id,
                type="text",
                value=value,
                debounce=True,
                className="control-wide-text",
            ),
        ],
    )


def alert_area(component_id: str) -> html.Div:
    """The place where a page shows why its last input was rejected (empty when fine)."""
    return html.Div(id=component_id, className="alert-area", role="status")


def alert(message: str) -> html.Div:
    """The alert shown inside an alert area."""
    return html.Div(message, className="alert", role="alert")


def readout(component_id: str, label: str) -> html.Div:
    """A numeric readout: ``label`` (Markdown with inline ``$TeX$``, typeset by MathJax) and
    beside it the value a callback fills in, so a formula and its current number sit side by
    side. Only the number changes on an update; the label is typeset once."""
    return html.Div(
        className="readout",
        children=[
            prose(label, class_name="readout-label"),
            html.Span(id=component_id, className="readout-value"),
        ],
    )


def graph(component_id: str, height: int = 460) -> dcc.Graph:
    """A plotly graph with the mode bar trimmed to what an explorer needs."""
    return dcc.Graph(
        id=component_id,
        style={"height": f"{height}px"},
        config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]},
    )


def page_frame(
    title: str, intro: str, controls: list[Component], body: list[Component]
) -> html.Div:
    """A page: title, introduction (Markdown with ``$TeX$`` and ``$$TeX$$`` math, see
    ``formulas.prose``), a controls column and the body."""
    return html.Div(
        className="page",
        children=[
            html.H2(title),
            prose(intro),
            html.Div(
                className="page-grid",
                children=[
                    html.Div(controls, className="controls"),
                    html.Div(body, className="body"),
                ],
            ),
        ],
    )
