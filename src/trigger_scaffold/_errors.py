"""Errors that the CLI turns into one line on stderr and an exit code."""

from __future__ import annotations


class TriggerScaffoldError(Exception):
    """A problem the user can fix; its message is one line, shown without a traceback."""

    exit_code = 1


class UsageError(TriggerScaffoldError):
    """The command line (or the missing terminal) does not say enough: exit code 2."""

    exit_code = 2
