"""``Diffusion``: the diffusion process with its samplers, variational bound and exact ground
truth as methods — the one class users construct.

The layers below it import one another one way only: ``schedule`` <- ``process`` <- ``vlb``,
``ground_truth``, ``samplers`` <- this module <- ``evaluation``. Each method here IS the module
function it names (``Diffusion.sample`` is ``samplers.sample`` with the process as its first
argument), so its signature and documentation live in one place.
"""

from __future__ import annotations

from gausslab.diffusion import ground_truth, samplers
from gausslab.diffusion import vlb as bound
from gausslab.diffusion.process import DiffusionProcess

__all__ = ["Diffusion"]


class Diffusion(DiffusionProcess):
    """Gaussian diffusion over a ``Schedule`` (see ``DiffusionProcess`` for the process).

    Methods beyond the process, each the named module function:
    ``sample`` (``samplers.sample``), ``marginal`` and ``optimal_model``
    (``ground_truth``), ``vlb``, ``vlb_term`` and ``prior_kl`` (``vlb``).
    """

    sample = samplers.sample
    marginal = ground_truth.marginal
    optimal_model = ground_truth.optimal_model
    vlb = bound.vlb
    vlb_term = bound.vlb_term
    prior_kl = bound.prior_kl
