"""Argument checks shared by every public constructor and method.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) whose message
names the argument, says what was received and what was expected. Checks run once, at
construction; hot paths never call them.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor


def describe(value: Tensor) -> str:
    """A short description of a tensor for error messages: shape and dtype."""
    return f"shape {tuple(value.shape)} and dtype {value.dtype}"


def as_float_tensor(value: Any, name: str, *, like: Tensor | None = None) -> Tensor:
    """Convert `value` to a floating tensor (integers become the default float dtype).

    Tensors keep their dtype and device; Python numbers, lists and arrays take the dtype and
    device of `like` when given.
    """
    if isinstance(value, Tensor):
        tensor = value
    else:
        try:
            tensor = torch.as_tensor(
                value,
                dtype=like.dtype if like is not None else None,
                device=like.device if like is not None else None,
            )
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(
                f"{name} must be a tensor or a number, got {type(value).__name__}: {error}"
            ) from None
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"{name} must be a real floating tensor, got dtype {tensor.dtype}")
    if not tensor.is_floating_point():
        float_dtype = like.dtype if like is not None else torch.get_default_dtype()
        tensor = tensor.to(float_dtype)
    return tensor


def check_count(name: str, value: Any, minimum: int) -> int:
    """An integer (a Python int or anything with __index__, not a bool) that is >= minimum."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if count < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {count}")
    return count


def check_finite(value: Tensor, name: str) -> None:
    """Raise if `value` holds NaN or infinity."""
    if not bool(torch.isfinite(value).all()):
        bad = value[~torch.isfinite(value)].flatten()[0].item()
        raise ValueError(f"{name} must be finite, but it contains {bad} ({describe(value)})")


def check_positive(value: Tensor, name: str) -> None:
    """Raise unless every entry of `value` is finite and strictly positive."""
    check_finite(value, name)
    if not bool((value > 0).all()):
        smallest = value.min().item()
        raise ValueError(
            f"{name} must be strictly positive, but its smallest entry is {smallest} "
            f"({describe(value)})"
        )


def common_float(*named: tuple[str, Tensor]) -> list[Tensor]:
    """Promote tensors to one floating dtype; refuse tensors on different devices."""
    devices = {tensor.device for _, tensor in named}
    if len(devices) > 1:
        listing = ", ".join(f"{name} on {tensor.device}" for name, tensor in named)
        raise ValueError(f"arguments must be on one device, got {listing}")
    dtype = named[0][1].dtype
    for _, tensor in named[1:]:
        dtype = torch.promote_types(dtype, tensor.dtype)
    return [tensor.to(dtype) for _, tensor in named]


def broadcast_shapes(what: str, **shapes: Sequence[int]) -> torch.Size:
    """Broadcast named shapes, or raise a message that lists each of them."""
    try:
        return torch.broadcast_shapes(*shapes.values())
    except RuntimeError:
        listing = ", ".join(f"{name} {tuple(shape)}" for name, shape in shapes.items())
        raise ValueError(f"{what}: shapes do not broadcast: {listing}") from None


def check_event_ndims(event_ndims: Any, ndim: int, name: str = "loc") -> int:
    """Check that `event_ndims` is an int in [0, ndim]."""
    if isinstance(event_ndims, bool) or not isinstance(event_ndims, int):
        raise TypeError(f"event_ndims must be an int, got {event_ndims!r}")
    if not 0 <= event_ndims <= ndim:
        raise ValueError(
            f"event_ndims must be between 0 and {name}.dim() = {ndim}, got {event_ndims}"
        )
    return event_ndims


def check_value_shape(value: Tensor, event_shape: torch.Size, name: str = "x") -> None:
    """Raise unless the trailing dims of `value` equal `event_shape`."""
    k = len(event_shape)
    if value.dim() < k or (k and tuple(value.shape[-k:]) != tuple(event_shape)):
        raise ValueError(
            f"{name} must end with the event shape {tuple(event_shape)}, "
            f"got {name} of shape {tuple(value.shape)}"
        )


def as_operand(value: Any, name: str, like: Tensor) -> Tensor:
    """A finite floating tensor in the dtype and on the device of `like`.

    Numbers and lists take the dtype of `like`; a tensor of another floating dtype or on
    another device is refused rather than silently converted.
    """
    tensor = as_float_tensor(value, name, like=like)
    if tensor.dtype != like.dtype or tensor.device != like.device:
        raise ValueError(
            f"{name} must have the dtype and device of the distribution ({like.dtype} on "
            f"{like.device}), got {tensor.dtype} on {tensor.device}; convert one of them"
        )
    check_finite(tensor, name)
    return tensor


def check_indices(idx: Any, size: int, name: str = "idx", *, allow_all: bool = True) -> list[int]:
    """Distinct coordinates of a vector of length `size`, as a list of ints in [0, size).

    `idx` is an int, a sequence of ints or a 1-dim integer tensor; negative entries count
    from the end. It must not be empty, and with allow_all=False it must leave a coordinate
    out.
    """
    if isinstance(idx, int) and not isinstance(idx, bool):
        idx = [idx]
    if isinstance(idx, Tensor):
        if idx.dim() != 1 or idx.is_floating_point() or idx.dtype == torch.bool:
            raise TypeError(
                f"{name} must be a 1-dim integer tensor or a sequence of ints, got a tensor "
                f"of {describe(idx)}"
            )
        entries = idx.tolist()
    elif isinstance(idx, Sequence) and not isinstance(idx, str):
        entries = list(idx)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in entries):
            raise TypeError(f"{name} must hold ints, got {idx!r}")
    else:
        raise TypeError(
            f"{name} must be an int, a sequence of ints or a 1-dim integer tensor, "
            f"got {type(idx).__name__}"
        )
    if not entries:
        raise ValueError(f"{name} must name at least one coordinate, got an empty index")
    outside = [i for i in entries if not -size <= i < size]
    if outside:
        raise ValueError(
            f"{name} must lie in [-{size}, {size}) for an event of {size} coordinates, got "
            f"{outside[0]} in {entries}"
        )
    index = [i % size for i in entries]
    if len(set(index)) != len(index):
        raise ValueError(f"{name} must not repeat a coordinate, got {entries}")
    if not allow_all and len(index) == size:
        raise ValueError(
            f"{name} must leave at least one of the {size} coordinates out, got {entries}"
        )
    return index
