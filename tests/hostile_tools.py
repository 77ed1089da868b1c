"""Tools that misbehave on purpose: the app must turn each into an error result, never a 500."""

from __future__ import annotations


def explode(reason: str) -> str:
    """Fail with an unexpected exception (a bug in a tool)."""
    raise RuntimeError(f"tool bug: {reason}")


def flood(size: int) -> str:
    """Answer with ``size`` characters (an oversized result)."""
    return "x" * size
