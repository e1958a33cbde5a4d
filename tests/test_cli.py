"""The `gausslab` console script: help and version work from a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import gausslab


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gausslab.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_version_prints_the_package_version():
    """`gausslab --version` prints the installed version and exits 0."""
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"gausslab {gausslab.__version__}"


def test_help_lists_every_command():
    """`gausslab --help` lists explore, verify, figures and bench."""
    result = run("--help")
    assert result.returncode == 0
    for command in ("explore", "verify", "figures", "bench"):
        assert command in result.stdout


def test_explore_without_the_explorer_extra_says_what_to_install(monkeypatch):
    """With dash missing, `gausslab explore` exits 2 naming the extra, not a traceback."""
    from typer.testing import CliRunner

    from gausslab.cli import app

    monkeypatch.setitem(sys.modules, "dash", None)  # importing dash now fails
    monkeypatch.delitem(sys.modules, "gausslab.explorer.server", raising=False)
    result = CliRunner().invoke(app, ["explore", "--no-browser"])
    assert result.exit_code == 2
    assert "pip install 'gausslab[explorer]'" in result.output
