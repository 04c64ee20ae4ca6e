"""Errors the CLI turns into one line on stderr and a non-zero exit code."""


class UnfreezeError(Exception):
    """Bad input or configuration: shown to the user as one line (exit code 1)."""

    exit_code = 1


class UnknownNameError(UnfreezeError):
    """An unknown selector, backend, estimator or task name (exit code 2)."""

    exit_code = 2


class DuplicateNameError(UnfreezeError):
    """Two plugins registered the same name."""
