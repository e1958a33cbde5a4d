"""Build the explorer app and serve it on the loopback interface.

``create_app()`` assembles the shell (header, router), every registered page and the
shared control callbacks; ``serve()`` binds, prints the address and opens a browser when
one is available. The app never runs in debug mode.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
import webbrowser
from collections.abc import Iterator

import torch
from dash import Dash, Input, Output, dcc, html
from dash.development.base_component import Component
from werkzeug.serving import BaseWSGIServer, make_server

from gausslab.explorer.callbacks import shown
from gausslab.explorer.controls import register_control_sync
from gausslab.explorer.guard import reject_malformed_updates
from gausslab.explorer.pages import PAGES, landing
from gausslab.explorer.theme import INDEX_STRING


def _header() -> html.Header:
    links = [dcc.Link("gausslab explorer", href="./", className="brand")]
    links += [dcc.Link(page.title, href=page.path, className="nav-link") for page in PAGES]
    return html.Header(html.Nav(links), className="header")


def _not_found(path: str) -> html.Div:
    return html.Div(
        className="page",
        children=[
            html.H2("Page not found"),
            html.P(f"There is no explorer page at {shown(path)}."),
            dcc.Link("Back to the list of pages", href="./"),
        ],
    )


def page_path(pathname: object, prefix: str) -> str | None:
    """The page a URL pathname names relative to the app's ``prefix`` ("" for the landing
    page), or None for a pathname outside the app (such as "Infinity" or "../x").

    A missing (non-string) pathname is the landing page. Unlike ``Dash.strip_relative_path``
    this never raises, whatever a client sends.
    """
    if not isinstance(pathname, str):
        return ""
    base = prefix.rstrip("/")
    if pathname != base and not pathname.startswith(base + "/"):
        return None
    return pathname[len(base) :].strip("/")


def create_app() -> Dash:
    """The explorer as a Dash app (not started).

    Sets torch to one intra-op thread for this process: the explorer's arrays are small,
    and a thread pool contending for busy cores turns microsecond ops into milliseconds.
    """
    torch.set_num_threads(1)
    app = Dash(
        __name__,
        title="gausslab explorer",
        update_title=None,
        serve_locally=True,
        assets_ignore=".*",
    )
    app.index_string = INDEX_STRING
    app.layout = html.Div(
        [dcc.Location(id="url"), _header(), html.Main(id="page-content")], className="app"
    )
    app.validation_layout = html.Div(
        [app.layout, landing.layout(PAGES), *(page.layout() for page in PAGES)]
    )
    routes = {page.path: page for page in PAGES}

    prefix = app.config.requests_pathname_prefix

    @app.callback(Output("page-content", "children"), Input("url", "pathname"))
    def route(pathname: object) -> Component:
        path = page_path(pathname, prefix)
        if path == "":
            return landing.layout(PAGES)
        page = routes.get(path) if path is not None else None
        return page.layout() if page else _not_found(str(pathname))

    register_control_sync(app)
    for page in PAGES:
        page.register(app)
    reject_malformed_updates(app)
    return app


def _bind(app: Dash, host: str, port: int) -> BaseWSGIServer:
    """A threaded WSGI server for ``app``, bound now (OSError if the port is taken).

    The socket is bound here rather than by werkzeug, which would exit the process itself.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, port), family=family) as listener:
        return make_server(host, port, app.server, threaded=True, fd=listener.fileno())


@contextlib.contextmanager
def background_server(app: Dash | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` (a fresh explorer by default) on a free port in a thread; yield its URL."""
    server = _bind(app or create_app(), host, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.port}/"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _try_open(url: str) -> None:
    with contextlib.suppress(webbrowser.Error, OSError):
        webbrowser.open(url)


def _open_browser(url: str) -> None:
    """Open ``url`` in a graphical browser, if this machine has a display, without waiting."""
    if _has_display():
        threading.Thread(target=_try_open, args=(url,), daemon=True).start()


def serve(host: str = "127.0.0.1", port: int = 8050, open_browser: bool = True) -> None:
    """Serve the explorer on ``host:port`` until interrupted, printing its address.

    A port that is already taken ends the process with a one-line message (exit code 2).
    """
    app = create_app()
    try:
        server = _bind(app, host, port)
    except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0..65535
        reason = getattr(exc, "strerror", None) or str(exc)
        print(
            f"gausslab explore: cannot listen on {host}:{port} ({reason}); "
            "choose another port with --port.",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    url = f"http://{host}:{server.port}/"
    print(f"gausslab explorer is running at {url} (press Ctrl+C to stop)", flush=True)
    if open_browser:
        _open_browser(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
