"""Store access: Zarr templates and region writes (the only place that imports zarr)."""
