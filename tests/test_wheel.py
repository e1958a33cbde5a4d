"""The wheel users install works on its own: built from the source tree, installed
non-editable into a fresh virtual environment (torch, dash etc. come from this environment
through --system-site-packages; gausslab itself only from the wheel), it ships its PEP 561
``py.typed`` marker, serves an explorer page, draws a figure and runs ``gausslab verify`` and
``gausslab bench core --quick``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHECK_INSTALLED = r"""
import json, sys
from pathlib import Path

import gausslab
from gausslab import figures
from gausslab.explorer.server import create_app

package = Path(gausslab.__file__).parent
app = create_app()
client = app.server.test_client()
route = {
    "output": "page-content.children",
    "outputs": {"id": "page-content", "property": "children"},
    "inputs": [{"id": "url", "property": "pathname", "value": "/univariate"}],
    "changedPropIds": ["url.pathname"],
}
page = client.post("/_dash-update-component", json=route)
figure = figures.FIGURES["univariate_pdfs"]()
figure.savefig(sys.argv[1])
print(json.dumps({
    "package": str(package),
    "py_typed": (package / "py.typed").is_file(),
    "version": gausslab.__version__,
    "index_status": client.get("/").status_code,
    "page_status": page.status_code,
    "page_title": "Univariate Gaussian" in page.get_data(as_text=True),
}))
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with gausslab installed from a wheel built from a copy of the source."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "gausslab", source / "gausslab", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = tmp / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(dist),
            str(source),
        ],
        cwd=tmp,
    )
    (wheel,) = dist.glob("gausslab-*.whl")
    env_dir = tmp / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        cwd=tmp,
    )
    return env_dir


def test_installed_wheel_serves_the_explorer_draws_figures_and_is_typed(
    installed: Path, tmp_path: Path
):
    png = tmp_path / "univariate.png"
    result = _run(
        [str(installed / "bin" / "python"), "-c", CHECK_INSTALLED, str(png)], cwd=tmp_path
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["package"]).is_relative_to(installed), report  # not the source tree
    assert report["py_typed"]
    assert report["version"] != "0.0.0"
    assert report["index_status"] == 200 and report["page_status"] == 200
    assert report["page_title"]
    assert png.read_bytes().startswith(b"\x89PNG")


def test_installed_wheel_runs_verify(installed: Path, tmp_path: Path):
    out = tmp_path / "verify.json"
    _run(
        [
            str(installed / "bin" / "gausslab"),
            "verify",
            "--only",
            "univariate.*",
            "--samples",
            "2000",
            "--json",
            str(out),
        ],
        cwd=tmp_path,
    )
    results = json.loads(out.read_text())
    assert results["passed"] and results["checks"]
    assert all(check["passed"] for check in results["checks"])


def test_installed_wheel_runs_the_benchmarks(installed: Path, tmp_path: Path):
    out = tmp_path / "bench.json"
    _run(
        [str(installed / "bin" / "gausslab"), "bench", "core", "--quick", "--json", str(out)],
        cwd=tmp_path,
    )
    assert json.loads(out.read_text())
