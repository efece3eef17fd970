"""Status lines for people: colour only on a terminal, silence with --quiet."""

from __future__ import annotations

import os
import sys
from typing import TextIO

_STYLES = {"ok": "32", "step": "36", "warn": "33", "error": "31", "dim": "2"}


class Console:
    """Writes progress to stderr and results to stdout."""

    def __init__(self, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None):
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def _paint(self, text: str, style: str, stream: TextIO) -> str:
        if os.environ.get("NO_COLOR") or not stream.isatty():
            return text
        return f"\033[{_STYLES[style]}m{text}\033[0m"

    def step(self, text: str) -> None:
        """A progress line, e.g. what is being rendered."""
        if not self.quiet:
            print(self._paint("• ", "step", self.err) + text, file=self.err)

    def ok(self, text: str) -> None:
        """The outcome of a command."""
        if not self.quiet:
            print(self._paint("✓ ", "ok", self.err) + text, file=self.err)

    def hint(self, text: str) -> None:
        """A suggestion for what to do next."""
        if not self.quiet:
            print(self._paint(text, "dim", self.err), file=self.err)

    def error(self, text: str) -> None:
        """One line that says what went wrong; shown even with --quiet."""
        one_line = " ".join(text.replace("\r", "\n").split("\n"))
        print(self._paint("trigger-scaffold: error: ", "error", self.err) + one_line, file=self.err)

    def print(self, text: str = "") -> None:
        """Output that is the result of the command (stdout)."""
        print(text, file=self.out)
