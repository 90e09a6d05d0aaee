"""The SGD-SM 2.0 LSTM-CNN (paper sect. 3.1): pure compute, arrays in and arrays out.

``partial_conv`` and ``lstm`` (the layers, eq. 1-11), ``network`` (the model
and its named configurations), ``fill`` (the :class:`~sgdsm_dask.model.fill.Filler`:
tiling a region into patches, running the model day by day, blending).
Nothing here reads or writes stores or files: that is ``training`` (samples
cut from staged cubes, the loop, checkpoint files) and ``reconstruction``.
"""
