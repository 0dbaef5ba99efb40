"""Reflection for Aurora DSQL."""

from __future__ import annotations


class ReflectionMixin:
    """Reflection behaviour of the Aurora DSQL dialect."""
