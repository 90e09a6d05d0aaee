"""Validation (paper sect. 4): metrics, baselines and scoring on pixels hidden on purpose.

``simulated`` hides observed pixels with other days' gaps and scores the model
and the baselines (``baselines``, ``dctpls``; their parameters chosen on a
second hidden set by ``tuning``) with ``metrics``; ``insitu``
scores a product against ISMN stations; ``report`` writes the report.
"""
