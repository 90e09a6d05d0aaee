"""The origin of each reconstructed value: the ``flag`` of result stores and daily files.

One place for the values and their CF ``flag_meanings``, so that the model
that sets them and the export that writes them agree without importing
each other. The stored integers are part of the file format: never renumber.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class Flag(IntEnum):
    """``flag`` of a pixel of a day (int8 in stores and files)."""

    OBSERVED = 0
    FILLED = 1  # reconstructed by the model
    NOT_FILLED = 2  # not reconstructed: sea, a day not staged
    # reconstructed on a day whose look-ahead (the 'anomaly' network's days after) ran past the record's
    # last day: filled again, as FILLED, once --append brings the days after
    PROVISIONAL = 3


#: CF ``flag_meanings`` of :class:`Flag`, in the order of its values.
FLAG_MEANINGS = "observed reconstructed not_reconstructed reconstructed_provisional"
#: The flags of values the model made (final or provisional).
RECONSTRUCTED = (int(Flag.FILLED), int(Flag.PROVISIONAL))
#: The subsets of a product's values that validation scores apart, by their flags.
SUBSETS = {
    "observed": (int(Flag.OBSERVED),),
    "reconstructed": RECONSTRUCTED,
    "all": (int(Flag.OBSERVED), *RECONSTRUCTED),
}


def reconstructed(flag: Any) -> Any:
    """Where ``flag`` (an array) marks a value the model made, final or provisional."""
    return (flag == Flag.FILLED) | (flag == Flag.PROVISIONAL)
