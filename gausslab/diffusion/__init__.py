"""Gaussian diffusion: noise schedules, the forward/reverse process, its variational bound,
samplers, and exact ground truth for Gaussian and Gaussian-mixture data."""

from gausslab.diffusion.diffusion import Diffusion
from gausslab.diffusion.evaluation import SamplerError, evaluate_sampler, format_table
from gausslab.diffusion.ground_truth import optimal_denoiser
from gausslab.diffusion.metrics import METRICS, Estimate, sample_error
from gausslab.diffusion.samplers import SAMPLERS
from gausslab.diffusion.schedule import Schedule
from gausslab.diffusion.vlb import VLBTerms

__all__ = [
    "METRICS",
    "SAMPLERS",
    "Diffusion",
    "Estimate",
    "SamplerError",
    "Schedule",
    "VLBTerms",
    "evaluate_sampler",
    "format_table",
    "optimal_denoiser",
    "sample_error",
]
