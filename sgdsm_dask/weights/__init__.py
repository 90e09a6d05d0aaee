"""Shipped checkpoints (see docs/model-card.md); their SHA-256 is in ``sgdsm_dask.training.checkpoint.SHIPPED``."""
