"""Store and file access: Zarr templates, region writes and reads (``zarr_store``), whole files written
atomically (``files``), and the one rule for where a store may be written (``outputs.claim``: absent, empty,
or ours for this request).
"""
