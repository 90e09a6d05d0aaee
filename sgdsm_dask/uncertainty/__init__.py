"""Uncertainty and gap provenance of every reconstructed value (pure NumPy: arrays in, arrays out).

- :mod:`.gaps`: ``days_since_observed`` (carried from day to day) and
  ``distance_to_observed`` (cells to the nearest observation of the day);
- :mod:`.sigma`: :class:`SigmaModel`, the standard error of a filled value as
  a function of what its pixel knew, fitted on pixels hidden on purpose;
  :func:`reliability`, the fraction of errors within one and two sigma;
- :mod:`.calibration`: the windows of a cube a model is calibrated on, and
  the calibration itself (hide, fill, fit).
"""

from .gaps import DISTANCE_CAP, days_since_observed, distance_to_observed
from .sigma import OBSERVED_SIGMA, Reliability, SigmaModel, depth_class, fit_sigma, reliability

__all__ = [
    "DISTANCE_CAP",
    "OBSERVED_SIGMA",
    "Reliability",
    "SigmaModel",
    "days_since_observed",
    "depth_class",
    "distance_to_observed",
    "fit_sigma",
    "reliability",
]
