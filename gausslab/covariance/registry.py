"""Rules for binary operations keyed by the pair of covariance structure types.

Like ``torch.distributions.kl.register_kl``: ``register(op, A, B)`` decorates a rule
``f(a, b)`` for a of type A and b of type B; ``dispatch(op, a, b)`` calls the most specific
rule registered for their types (closest in both method resolution orders), and the rule
registered for ``(Covariance, Covariance)`` is the fallback. A rule may be registered for
one order only: ``register(op, A, B, symmetric=True)`` also registers ``f(b, a)`` for
``(B, A)`` with the arguments swapped back, for operations that commute (add, parallel, W2).

Operations in use: "add" (Sigma_a + Sigma_b), "parallel" ((Sigma_a^{-1} + Sigma_b^{-1})^{-1}),
"kl" (KL(N(0, Sigma_a) || N(0, Sigma_b))) and "w2" (the covariance part of W2^2).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

__all__ = ["dispatch", "register", "rules"]

Rule = Callable[[Any, Any], Any]
_RULES: dict[str, dict[tuple[type, type], Rule]] = {}


def register(
    op: str, left: type, right: type, *, symmetric: bool = False
) -> Callable[[Rule], Rule]:
    """Decorator: register ``rule(a, b)`` for op on (left, right) structure types."""

    def decorate(rule: Rule) -> Rule:
        table = _RULES.setdefault(op, {})
        table[(left, right)] = rule
        if symmetric and left is not right:
            table[(right, left)] = lambda b, a: rule(a, b)
        _lookup.cache_clear()
        return rule

    return decorate


def rules(op: str) -> dict[tuple[type, type], Rule]:
    """The rules registered for op, keyed by type pair (a copy)."""
    return dict(_RULES.get(op, {}))


@cache
def _lookup(op: str, left: type, right: type) -> Rule:
    """The rule whose pair is closest to (left, right): smallest total distance in the two
    method resolution orders, ties going to the closer worse side."""
    matches = {}
    for (a, b), rule in _RULES.get(op, {}).items():
        if issubclass(left, a) and issubclass(right, b):
            distances = (left.__mro__.index(a), right.__mro__.index(b))
            matches[(sum(distances), max(distances))] = rule
    if not matches:
        raise NotImplementedError(
            f"no {op!r} rule for covariance structures {left.__name__} and {right.__name__}"
        )
    return matches[min(matches)]


def dispatch(op: str, a: Any, b: Any) -> Any:
    """Apply the most specific rule registered for op and the types of a and b."""
    return _lookup(op, type(a), type(b))(a, b)
