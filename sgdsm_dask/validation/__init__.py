"""Validation (paper sect. 4): metrics, baselines and scoring on pixels hidden on purpose."""
