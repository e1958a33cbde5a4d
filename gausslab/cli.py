"""The `gausslab` command line: explore | verify | figures | bench.

Each command is a thin typer wrapper: heavy imports happen inside the command so that
`gausslab --help` stays instant, and each command's work lives in its own module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gausslab import __version__

app = typer.Typer(
    name="gausslab",
    help="Gaussian distributions as diffusion models use them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"gausslab {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Gaussian distributions as diffusion models use them."""


@app.command()
def explore(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to serve on.")] = 8050,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser.")
    ] = False,
) -> None:
    """Serve the interactive explorer in your browser."""
    try:
        from gausslab.explorer.server import serve
    except ModuleNotFoundError as error:  # dash/plotly come with the "explorer" extra
        typer.echo(
            f"gausslab explore needs {error.name!r}: pip install 'gausslab[explorer]'", err=True
        )
        raise typer.Exit(2) from None
    serve(host=host, port=port, open_browser=not no_browser)


@app.command()
def verify(
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write machine-readable results here.")
    ] = None,
    samples: Annotated[int, typer.Option(help="Monte Carlo samples per check.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    only: Annotated[
        str | None,
        typer.Option(help="Run only checks whose name contains this text or matches this glob."),
    ] = None,
    device: Annotated[str, typer.Option(help="torch device to run on.")] = "cpu",
) -> None:
    """Check every closed form against Monte Carlo and high-precision references."""
    from gausslab.verify.runner import run_cli

    raise typer.Exit(
        run_cli(json_path=json_path, samples=samples, seed=seed, only=only, device=device)
    )


@app.command()
def figures(
    out: Annotated[Path, typer.Option(help="Folder to write the figures into.")] = Path("figures"),
) -> None:
    """Draw the seed's pictures as PNG and SVG files with matplotlib."""
    from gausslab.figures import run_cli

    raise typer.Exit(run_cli(out=out))


@app.command()
def bench(
    suite: Annotated[str, typer.Argument(help="core | algebra | diffusion | all")] = "core",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    plot: Annotated[
        bool,
        typer.Option(
            help="Also sweep d and N and draw OUT/scaling-DEVICE.png; with `all` (full size), "
            "write OUT/DEVICE.json and regenerate the tables of --results."
        ),
    ] = False,
    out: Annotated[Path, typer.Option(help="Folder for the plot and the JSON of --plot.")] = Path(
        "benchmarks/results"
    ),
    results: Annotated[
        Path, typer.Option(help="Markdown file whose generated tables --plot refreshes.")
    ] = Path("benchmarks/RESULTS.md"),
    quick: Annotated[bool, typer.Option(help="Tiny sizes, for smoke tests.")] = False,
) -> None:
    """Time gausslab side by side with torch.distributions, scipy, diffusers and the
    machine's floors."""
    from gausslab.bench.runner import run_cli

    raise typer.Exit(
        run_cli(
            suite,
            device,
            json_path=json_path,
            plot=plot,
            out=out,
            results=results,
            quick=quick,
        )
    )


if __name__ == "__main__":
    app()
