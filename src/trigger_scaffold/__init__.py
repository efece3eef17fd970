"""Generate ready-to-deploy AWS SAM projects for Lambda functions and their triggers."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from trigger_scaffold._answers import Answers, Trigger
from trigger_scaffold._catalog import Catalog, Pattern, TriggerKind, load_catalog
from trigger_scaffold._errors import TriggerScaffoldError, UsageError

try:
    __version__ = version("trigger-scaffold")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0.0.0"

__all__ = [
    "Answers",
    "Catalog",
    "Pattern",
    "Trigger",
    "TriggerKind",
    "TriggerScaffoldError",
    "UsageError",
    "__version__",
    "load_catalog",
]
