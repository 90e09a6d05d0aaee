"""What became of each day of a staged cube: its ``day_status`` (int8 in the store; never renumber)."""

from __future__ import annotations

from enum import IntEnum


class DayStatus(IntEnum):
    """``day_status`` of a staged day; written last for a time chunk, so it is the chunk's commit marker."""

    PENDING = 0  # not staged yet
    STAGED = 1  # soil moisture staged
    MISSING = 2  # no LPRM file for the day (missing in the archive)
    SKIPPED = 3  # a bad input file, skipped with --on-error skip


#: CF ``flag_meanings`` of :class:`DayStatus`, in the order of its values.
STATUS_MEANINGS = "pending staged missing_in_archive skipped_bad_input"
