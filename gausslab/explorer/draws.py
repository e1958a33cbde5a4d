"""Reproducible draws for plots: the same seed on every update, so that samples glide
smoothly as parameters move instead of jumping around."""

from __future__ import annotations

import numpy as np
import torch
from torch.distributions import Distribution

from gausslab.explorer.styling import to_numpy


def fixed_samples(dist: Distribution, count: int, seed: int = 0) -> np.ndarray:
    """``count`` draws from ``dist`` (its own ``sample``) under a fixed seed.

    The global RNG is forked, so the caller's random state is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return to_numpy(dist.sample((count,)))
