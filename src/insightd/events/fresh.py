"""The uuids a bulk load has stored into a project that was empty when the load began.

Such a project needs no probe of the ``event_uuids`` index for its dedup check: a repeat can only be
one of the uuids stored since. Each uuid is kept as a 64-bit key (its last 16 hex digits, parsed with
numpy) in one sorted array; a key hit is only a candidate, confirmed exactly against the index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.uint64]

LIMIT = 50_000_000  # keys kept per project (8 bytes each); beyond that, back to probing the index
_HEX = np.zeros(256, np.uint64)
for _i, _c in enumerate("0123456789abcdef"):
    _HEX[ord(_c)] = _HEX[ord(_c.upper())] = _i
_TAIL = [19, 20, 21, 22, *range(24, 36)]  # "xxxxxxxx-xxxx-xxxx-XXXX-XXXXXXXXXXXX"


def uuid_keys(uuids: Any) -> Keys | None:
    """64-bit keys of canonical (36-character) uuid strings; None if any is spelled otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = uuids.combine_chunks() if isinstance(uuids, pa.ChunkedArray) else uuids
    if len(array) == 0:
        return np.empty(0, np.uint64)
    lengths = pc.min_max(pc.binary_length(array)).as_py()
    if array.null_count or lengths != {"min": 36, "max": 36}:
        return None
    offsets = np.frombuffer(array.buffers()[1], np.int32, len(array) + 1, array.offset * 4)
    data = np.frombuffer(array.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 36)
    digits = np.ascontiguousarray(data[:, _TAIL].T)  # 16 rows of n hex digits
    keys: Keys = _HEX[digits[0]]
    for row in digits[1:]:
        keys <<= np.uint64(4)
        keys |= _HEX[row]
    return keys


def distinct(keys: Keys) -> bool:
    """True when no two keys are equal (then neither are their uuids)."""
    ordered = np.sort(keys)
    return not bool((ordered[1:] == ordered[:-1]).any())


class FreshKeys:
    """The sorted keys of what has been stored into one project since it was found empty."""

    def __init__(self) -> None:
        self.keys: Keys = np.empty(0, np.uint64)

    def candidates(self, keys: Keys) -> npt.NDArray[np.intp]:
        """Positions of ``keys`` that may already be stored."""
        if len(self.keys) == 0 or len(keys) == 0:
            return np.empty(0, np.intp)
        order = np.argsort(keys)  # sorted needles: the binary searches walk memory in order (5× faster)
        needles = keys[order]
        at = np.minimum(np.searchsorted(self.keys, needles), len(self.keys) - 1)
        return np.sort(order[self.keys[at] == needles])

    def add(self, keys: Keys) -> bool:
        """Remember stored keys; False once the project is too large to keep them."""
        if len(self.keys) + len(keys) > LIMIT:
            return False
        self.keys = np.sort(np.concatenate([self.keys, np.sort(keys)]), kind="stable")
        return True
