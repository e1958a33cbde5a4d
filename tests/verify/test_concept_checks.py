"""The maximum-entropy, Brownian-motion and conceptual-question checks fail when a formula is
wrong, and KS rows are judged at the run's Bonferroni level with a critical value that is a
true level-alpha bound (scipy's exact Kolmogorov distribution)."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch

import gausslab.brownian as brownian
import gausslab.diffusion.variance as variance
import gausslab.families as families
import gausslab.maxent as maxent
from gausslab import Gaussian
from gausslab.clt import KS_CRITICAL_95, ks_critical
from gausslab.gradient_estimators import pathwise_gradients, score_function_gradients
from gausslab.verify import registry, runner
from gausslab.verify.checks import brownian as brownian_checks
from gausslab.verify.checks import conceptual
from gausslab.verify.registry import CHECKS, Check, Context, ks_result, mean_result

SAMPLES = 20_000
CONTEXT = Context(samples=SAMPLES, device=torch.device("cpu"))


def _failed_rows(pattern: str) -> list[str]:
    """Names of the failing rows when the checks matching `pattern` run."""
    report = runner.run_checks(registry.select(pattern), CONTEXT, seed=0)
    return [row.name for row in report.rows if not row.passed]


@pytest.mark.parametrize("n", [50, 1000, 20_000])
@pytest.mark.parametrize("alpha", [0.05, 1e-3, 1e-6])
def test_ks_critical_is_a_level_alpha_bound_and_nearly_tight(n, alpha):
    """P(D_n > ks_critical(n, alpha)) <= alpha under scipy's exact law of D_n (kstwo), and
    > alpha / 3, so the test is neither too lax nor much too strict."""
    tail = scipy.stats.kstwo(n).sf(ks_critical(n, alpha))
    assert alpha / 3 < tail <= alpha


def test_ks_critical_at_95_percent_is_the_kolmogorov_quantile():
    assert ks_critical(10_000, 0.05) * 100 == pytest.approx(KS_CRITICAL_95, abs=1e-3)
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\)"):
        ks_critical(10, 1.0)


def test_ks_rows_share_the_bonferroni_level(monkeypatch):
    """A KS row counts as a random test; it fails above the critical distance at alpha / m."""

    def rows(ctx: Context) -> list:
        draws = torch.randn(ctx.samples, dtype=ctx.dtype)
        return [
            mean_result("injected.mean", draws, 0.0),
            ks_result("injected.ks_small", 0.01, ctx.samples),
            ks_result("injected.ks_large", 0.03, ctx.samples),
        ]

    monkeypatch.setitem(CHECKS, "injected.ks", Check("injected.ks", "ks", rows))
    report = runner.run_checks(registry.select("injected.ks"), CONTEXT, seed=0)
    assert report.random_tests == 3
    by_name = {row.name: row for row in report.rows}
    critical = ks_critical(SAMPLES, runner.FAMILY_ALPHA / 3)
    assert by_name["injected.ks_small"].tolerance == pytest.approx(critical)
    assert by_name["injected.ks_small"].passed and not by_name["injected.ks_large"].passed
    assert by_name["injected.ks_large"].kind == "ks" and by_name["injected.ks_large"].se is None


def test_wrong_logistic_entropy_fails(monkeypatch):
    """H = log s + 2 shifted by 1e-6: the quadrature reference catches it."""
    correct = families.Logistic.entropy
    monkeypatch.setattr(families.Logistic, "entropy", lambda self: correct(self) + 1e-6)
    assert "maxent.entropy[logistic]" in _failed_rows("maxent.entropy")


def test_gaussian_entropy_without_e_fails_gap_and_kl(monkeypatch):
    """1/2 log(2 pi sigma^2) (the e forgotten) breaks every gap and the KL identity."""
    monkeypatch.setattr(
        maxent,
        "gaussian_entropy",
        lambda v: 0.5 * (math.log(2 * math.pi) + torch.as_tensor(v).log()),
    )
    failed = _failed_rows("maxent.*")
    assert "maxent.kl_identity[laplace]" in failed and "maxent.gap[uniform]" in failed
    assert "maxent.laws_at_or_above_gaussian_entropy" in failed


def test_laplace_scale_without_sqrt2_fails_the_variance(monkeypatch):
    """Laplace(0, sigma) has variance 2 sigma^2, not sigma^2: the variance row fails."""
    family = maxent.FAMILIES["laplace"]
    wrong = maxent.Family(
        family.name, family.label, lambda loc, s, _: torch.distributions.Laplace(loc, s)
    )
    monkeypatch.setitem(maxent.FAMILIES, "laplace", wrong)
    assert "maxent.variance" in _failed_rows("maxent.entropy")


def test_step_laws_of_the_wrong_variance_fail(monkeypatch):
    """Uniform steps on [-1, 1] (variance 1/3, the sqrt(3) forgotten) break Var = sigma^2 t;
    Gaussian steps of variance 1.44 fail the KS test."""
    monkeypatch.setitem(
        brownian.STEP_LAWS,
        "uniform",
        lambda shape, generator, like: torch.rand(shape, dtype=like.dtype) * 2 - 1,
    )
    gaussian = brownian.STEP_LAWS["gaussian"]
    monkeypatch.setitem(brownian.STEP_LAWS, "gaussian", lambda *a: 1.2 * gaussian(*a))
    failed = _failed_rows("brownian.*")
    assert "brownian.variance_linear[t=2].E[X^2]" in failed
    assert "brownian.gaussian_marginals[t=1].KS" in failed


def test_exploding_law_with_the_preserving_noise_fails(monkeypatch):
    """x_0 + sqrt(1 - abar_t) eps instead of x_0 + sigma_t eps is not the rescaled process."""

    def wrong(data, schedule, t):
        noise = float(schedule.one_minus_alphas_cumprod[t].sqrt())
        return data.convolve(
            Gaussian.isotropic(
                data.mean.new_zeros(()), torch.tensor(noise, dtype=torch.float64), event_ndims=0
            )
        )

    monkeypatch.setattr(brownian_checks, "variance_exploding_marginal", wrong)
    assert "brownian.variance_preserving_rescaling[t=40].law" in _failed_rows(
        "brownian.variance_preserving_rescaling"
    )


def test_biased_score_function_fails(monkeypatch):
    """Drawing z with rsample inside the score-function estimator adds the pathwise term: the
    mean doubles and the check fails."""

    def biased(make, params, loss, num_draws):
        score = score_function_gradients(make, params, loss, num_draws)
        if not make(*params).has_rsample:
            return score
        path = pathwise_gradients(make, params, loss, num_draws)
        return tuple(s + p for s, p in zip(score, path, strict=True))

    monkeypatch.setattr(conceptual, "score_function_gradients", biased)
    failed = _failed_rows("reparam.pathwise_vs_score_function")
    assert "reparam.gaussian.score_function.d/dmu.mean" in failed


def test_noise_coefficient_without_sqrt_fails(monkeypatch):
    """b_t = beta_t instead of sqrt(beta_t): the variance is no longer preserved."""
    label, _ = variance.CHOICES["preserving"]
    monkeypatch.setitem(variance.CHOICES, "preserving", (label, lambda b: ((1 - b).sqrt(), b)))
    failed = _failed_rows("diffusion.variance_preserving")
    assert "diffusion.variance_preserving[preserving,Var(x_0)=1].exact" in failed
    assert "diffusion.variance_preserving.q_step" in failed


def test_float32_eigenvalues_fail_as_rho_approaches_one(monkeypatch):
    """Principal variances computed in float32 lose 1 - rho: caught at rho = 0.99999."""

    def low_precision(self):
        values, vectors = torch.linalg.eigh(self.covariance_matrix.float())
        return values.flip(-1).double(), vectors.flip(-1).double()

    monkeypatch.setattr(Gaussian, "principal_axes", low_precision)
    failed = _failed_rows("mvn.rho_to_one")
    assert "mvn.rho_to_one[rho=0.99999].condition_number" in failed
