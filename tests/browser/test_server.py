"""serve(): loopback by default, prints its address, and a taken port is one clear line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from gausslab.explorer.server import serve


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_port_in_use_is_a_one_line_error_not_a_traceback(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            serve(port=port, open_browser=False)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_explore_command_prints_its_loopback_address():
    port = _free_port()
    command = [sys.executable, "-c", "from gausslab.cli import app; app()", "explore"]
    command += ["--port", str(port)]
    # Without a display, opening a browser must be skipped quietly.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            first_line = process.stdout.readline()
        finally:
            process.terminate()
    assert f"http://127.0.0.1:{port}/" in first_line
