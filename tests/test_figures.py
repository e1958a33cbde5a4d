"""`gausslab figures`: every figure is written as a decodable, non-blank PNG and an SVG."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
from typer.testing import CliRunner

from gausslab.cli import app
from gausslab.figures import FIGURES

CLI = CliRunner()


@pytest.fixture(scope="module")
def figures_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures") / "nested" / "out"
    result = CLI.invoke(app, ["figures", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_every_seed_picture_is_drawn():
    """The registry covers each picture the seed describes."""
    assert set(FIGURES) == {
        "univariate_pdfs",
        "mvn_contours",
        "mvn_surface",
        "conditional_slice",
        "clt_histograms",
        "diffusion_forward",
        "schedules",
        "maximum_entropy",
        "brownian_motion",
        "correlation_collapse",
        "gradient_estimators",
        "variance_preserving",
    }


@pytest.mark.parametrize("stem", sorted(FIGURES))
def test_png_decodes_and_is_not_blank(figures_dir, stem):
    """<stem>.png decodes with matplotlib and its pixels are not all one colour."""
    pixels = matplotlib.image.imread(figures_dir / f"{stem}.png")
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 200
    rgb = pixels[..., :3]
    assert np.ptp(rgb) > 0.5 and rgb.std() > 0.05


@pytest.mark.parametrize("stem", sorted(FIGURES))
def test_svg_is_written(figures_dir, stem):
    """<stem>.svg is a non-empty SVG document."""
    text = (figures_dir / f"{stem}.svg").read_text()
    assert "<svg" in text and len(text) > 10_000


@pytest.mark.parametrize("kind", ["file", "below_a_file"])
def test_unwritable_out_exits_2_with_one_line(tmp_path, kind):
    """--out naming a file, or a folder below a file, exits 2 with one line, no traceback."""
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("not a folder")
    out = blocker if kind == "file" else blocker / "figures"
    result = CLI.invoke(app, ["figures", "--out", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "is not a writable folder" in lines[0], result.output
    assert "Traceback" not in result.output
