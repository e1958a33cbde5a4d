"""The covariance structures every suite covers, with one builder each.

``STRUCTURES`` names them; ``random_gaussian(name, *batch, d=...)`` builds a random,
well-conditioned Gaussian of that structure (parameters drawn in float64 from a seeded
generator, then cast, so the same seed gives the same law in every dtype). The covariance,
gaussian, algebra, divergences, mixture, properties and dtype-parity suites parametrize over
``STRUCTURES``: a structure added here is tested by all of them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from gausslab import Gaussian

F64 = torch.float64

Builder = Callable[[Tensor, int, float, torch.Generator, dict], Gaussian]


def _isotropic(loc: Tensor, d: int, scale: float, generator: torch.Generator, to: dict) -> Gaussian:
    batch = loc.shape[:-1]
    std = (torch.rand(batch, dtype=F64, generator=generator) + 0.5) * scale
    return Gaussian.isotropic(loc.to(**to), std.to(**to))


def _diagonal(loc: Tensor, d: int, scale: float, generator: torch.Generator, to: dict) -> Gaussian:
    std = (torch.rand(loc.shape, dtype=F64, generator=generator) + 0.5) * scale
    return Gaussian.diagonal(loc.to(**to), std.to(**to))


def _dense(loc: Tensor, d: int, scale: float, generator: torch.Generator, to: dict) -> Gaussian:
    batch = loc.shape[:-1]
    lower = torch.randn(*batch, d, d, dtype=F64, generator=generator).tril(-1) * 0.3
    diagonal = torch.rand(*batch, d, dtype=F64, generator=generator) + 0.5
    tril = (lower + torch.diag_embed(diagonal)) * scale
    return Gaussian(loc.to(**to), (tril @ tril.mT).to(**to))


BUILDERS: dict[str, Builder] = {
    "isotropic": _isotropic,
    "diagonal": _diagonal,
    "dense": _dense,
}
STRUCTURES: tuple[str, ...] = tuple(BUILDERS)
#: structures whose events may have several dims (the others take vector events only)
ANY_EVENT_SHAPE: tuple[str, ...] = ("isotropic", "diagonal")


def random_gaussian(
    structure: str,
    *batch: int,
    d: int,
    seed: int = 0,
    generator: torch.Generator | None = None,
    scale: float = 1.0,
    dtype: torch.dtype = F64,
    device: str | torch.device = "cpu",
) -> Gaussian:
    """A random Gaussian of `structure` with batch shape `batch` and event (d,): mean of
    size ~scale, covariance eigenvalues within about [0.1, 4] scale^2. Drawn in float64
    from `generator` (or a generator seeded with `seed`), then cast to dtype and device, so
    one seed gives the same law in every dtype."""
    generator = generator or torch.Generator().manual_seed(seed)
    loc = torch.randn(*batch, d, dtype=F64, generator=generator) * scale
    return BUILDERS[structure](loc, d, scale, generator, {"dtype": dtype, "device": device})


def from_matrix(structure: str, loc: Tensor, matrix: Tensor) -> Gaussian:
    """The Gaussian of `structure` with covariance `matrix`, which that structure must be
    able to hold exactly (a multiple of I for "isotropic", diagonal for "diagonal")."""
    if structure == "isotropic":
        return Gaussian.isotropic(loc, matrix[..., 0, 0].sqrt())
    if structure == "diagonal":
        return Gaussian.diagonal(loc, matrix.diagonal(dim1=-2, dim2=-1).sqrt())
    return Gaussian(loc, matrix)


def with_component_axis(g: Gaussian) -> Gaussian:
    """g with a trailing batch dim of size 1 (a mixture's component axis), same structure."""
    loc = g.mean.unsqueeze(-1 - len(g.event_shape))
    return Gaussian.from_covariance(loc, g.covariance.unsqueeze_batch(-1))
