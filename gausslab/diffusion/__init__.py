"""Gaussian diffusion: noise schedules, the forward/reverse process and its variational bound."""

from gausslab.diffusion.process import Diffusion
from gausslab.diffusion.schedule import Schedule
from gausslab.diffusion.vlb import VLBTerms

__all__ = ["Diffusion", "Schedule", "VLBTerms"]
