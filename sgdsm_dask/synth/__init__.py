"""A synthetic LPRM + IMERG archive with known truth (``sgdsm synth``)."""

from .archive import SynthRequest, write_archive

__all__ = ["SynthRequest", "write_archive"]
