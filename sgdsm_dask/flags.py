"""The origin of each reconstructed value: the ``flag`` of result stores and daily files.

One place for the values and their CF ``flag_meanings``, so that the model
that sets them and the export that writes them agree without importing
each other. The stored integers are part of the file format: never renumber.
"""

from __future__ import annotations

from enum import IntEnum


class Flag(IntEnum):
    """``flag`` of a pixel of a day (int8 in stores and files)."""

    OBSERVED = 0
    FILLED = 1  # reconstructed by the model
    NOT_FILLED = 2  # not reconstructed: sea, a day not staged


#: CF ``flag_meanings`` of :class:`Flag`, in the order of its values.
FLAG_MEANINGS = "observed reconstructed not_reconstructed"
