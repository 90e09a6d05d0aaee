"""The ``sgdsm`` subcommands, one module each.

Every module has ``HELP`` (its line in ``sgdsm --help``), ``add_arguments(parser)``
and ``run(args) -> int``: it turns the options into a request or a
configuration, calls the library and prints what the library returns.
Shared option groups and value types are in :mod:`._common`; the parser
is assembled and errors become exit codes in :mod:`sgdsm_dask.cli`.
"""

#: The subcommands in the order ``sgdsm --help`` lists them.
NAMES = (
    "synth",
    "stage",
    "train",
    "fit",
    "reconstruct",
    "export",
    "validate",
    "run",
    "evaluate",
    "cluster",
    "series",
    "download",
    "verify",
    "demo",
)
