"""Errors that reach the user as one clear line."""

from __future__ import annotations

import errno


class SgdsmError(Exception):
    """Base class of errors the command line reports without a traceback."""


class InputError(SgdsmError):
    """A file or store that cannot be used, with the reason.

    Parameters
    ----------
    path
        The file or store at fault (any string; fsspec URLs included).
    problem
        What is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class WriteError(InputError):
    """A file or store that could not be written (disk full, quota, permissions, file-size limit).

    Raised after the partial output was removed or left unmarked, so that
    running the same command again repairs it.
    """

    @classmethod
    def from_os(cls, path: str, exc: OSError) -> WriteError:
        why = exc.strerror or str(exc) or exc.__class__.__name__
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            then = "make the folder writable and run the same command again to resume"
        elif exc.errno == errno.ENOSPC:
            then = "the disk is full; free space and run the same command again to resume"
        elif exc.errno in (errno.EDQUOT, errno.EFBIG, None):
            # None: a library that did not pass the errno on (HDF5); most often a full disk
            then = "free space and run the same command again to resume"
        else:
            then = "run the same command again to resume once that is mended"
        return cls(path, f"cannot be written ({why}); nothing unfinished was kept: {then}")


class ConfigError(SgdsmError):
    """A configuration or command-line request that cannot be honoured."""


def _reduce_input_error(self: InputError) -> tuple:
    # Exceptions cross process boundaries (Dask workers -> client) by pickle,
    # which by default calls cls(*args); InputError takes two arguments.
    return (self.__class__, (self.path, self.problem))


InputError.__reduce__ = _reduce_input_error  # type: ignore[method-assign,assignment]
