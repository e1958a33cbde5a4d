"""The README is true: its python examples run and CI runs its test command verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def fenced_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_exactly_two_shell_commands():
    """The top of the README gives one install-and-explore command and one test command."""
    commands = [block.strip() for block in fenced_blocks("bash")]
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert commands[0].endswith("gausslab explore")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    """.ci/run's last command is the README's test command, character for character."""
    test_command = fenced_blocks("bash")[1].strip()
    ci_lines = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line.strip()]
    assert ci_lines[-1] == test_command


@pytest.mark.parametrize("index", range(len(fenced_blocks("python"))))
def test_readme_python_example_runs(index, capsys):
    """Each python block of the README executes without error and prints what it promises."""
    exec(compile(fenced_blocks("python")[index], f"README.md[python {index}]", "exec"), {})
    assert capsys.readouterr().out.strip()
