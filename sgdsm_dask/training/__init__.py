"""Training the LSTM-CNN and the checkpoint files it writes and every run reads.

- :mod:`.train`: the loss of eq. 12 and the resumable training loop (Adam,
  learning rate halved every ``halve_every`` epochs), a checkpoint after
  every epoch;
- :mod:`.checkpoint`: :class:`~.checkpoint.Checkpoint` files (weights,
  configuration, normalisation, provenance, training state), saved with
  their SHA-256 and loaded only after it and their contents are checked;
  the shipped checkpoints of ``sgdsm_dask/weights`` (:func:`~.checkpoint.shipped_path`).

The network itself is pure compute in :mod:`sgdsm_dask.model`; the samples
it trains on are cut from staged cubes by :mod:`.samples`.
"""
