"""Gaussian diffusion: noise schedules, the forward/reverse process, its variational bound,
samplers, exact ground truth for Gaussian and Gaussian-mixture data, and the variance of x_t
under DDPM's and other step coefficients (``variance``)."""

from gausslab.diffusion.diffusion import Diffusion
from gausslab.diffusion.evaluation import SamplerError, evaluate_sampler, format_table
from gausslab.diffusion.ground_truth import optimal_denoiser
from gausslab.diffusion.metrics import METRICS, Estimate, sample_error
from gausslab.diffusion.samplers import SAMPLERS
from gausslab.diffusion.schedule import Schedule
from gausslab.diffusion.variance import forward_variance
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
    "forward_variance",
    "optimal_denoiser",
    "sample_error",
]
