"""Single-flight: identical computations in flight at the same time run once."""

from insightd.coalescing.base import Cancelled, Coalescer
from insightd.coalescing.local import LocalCoalescer

__all__ = ["Cancelled", "Coalescer", "LocalCoalescer"]
