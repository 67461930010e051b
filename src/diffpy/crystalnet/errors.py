"""Exceptions raised for bad user input.

Every problem with a user's file or argument is reported as a
:class:`CrystalNetInputError`, a subclass of :class:`ValueError` whose message
names the offending file (or argument) and the problem, on one line (line
breaks in a problem, e.g. from another library's message, become spaces).
The command line prints the message without a traceback and exits with
status 2.
"""

import os
import re

__all__ = ["CrystalNetInputError"]


class CrystalNetInputError(ValueError):
    """Bad input: a file, a formula, a wavelength, a lattice, ...

    Parameters
    ----------
    problem : str
        What is wrong, in words a user can act on.
    source : str or os.PathLike, optional
        The file (or argument name) the problem is in.  When given, the
        message reads ``"<source>: <problem>"``.

    Attributes
    ----------
    source : str or None
        The file or argument the problem is in.
    problem : str
        The bare description of the problem.
    """

    def __init__(self, problem, source=None):
        self.problem = _one_line(str(problem))
        self.source = None if source is None else os.fspath(source)
        if self.source is None:
            message = self.problem
        else:
            message = f"{_one_line(self.source)}: {self.problem}"
        super().__init__(message)


def _one_line(text):
    """The text with its line breaks (and the blanks around them) as one
    space: messages from other libraries sometimes span lines, and the
    command line promises one line per error."""
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()
