"""The explorer's pages, in the order the landing page and the header list them."""

from gausslab.explorer.pages import (
    brownian,
    clt,
    conditioning,
    contours,
    diffusion,
    divergences,
    landing,
    maxent,
    memorization,
    surface,
    univariate,
)
from gausslab.explorer.registry import Page

PAGES: tuple[Page, ...] = (
    univariate.PAGE,
    surface.PAGE,
    contours.PAGE,
    divergences.PAGE,
    conditioning.PAGE,
    clt.PAGE,
    maxent.PAGE,
    brownian.PAGE,
    diffusion.PAGE,
    memorization.PAGE,
)

__all__ = ["PAGES", "landing"]
