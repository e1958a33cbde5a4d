"""gausslab: Gaussian distributions as diffusion models use them."""

from importlib.metadata import PackageNotFoundError, version

from gausslab.algebra import affine, condition, convolve, marginal, product
from gausslab.covariance import Covariance, Dense, Diagonal, Isotropic
from gausslab.divergences import kl_divergence, wasserstein2
from gausslab.gaussian import Gaussian, UnivariateGaussian
from gausslab.mixture import GaussianMixture

try:
    __version__ = version("gausslab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "Covariance",
    "Dense",
    "Diagonal",
    "Gaussian",
    "GaussianMixture",
    "Isotropic",
    "UnivariateGaussian",
    "__version__",
    "affine",
    "condition",
    "convolve",
    "kl_divergence",
    "marginal",
    "product",
    "wasserstein2",
]
