"""The projects the class checks read, rendered once per test process.

Every kind alone, every pattern with each of its entry kinds, and the whole projects of
``conftest.whole_projects()``; ``TS_KINDS`` narrows all three.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from conftest import available_kinds, whole_projects

from trigger_scaffold import load_catalog
from trigger_scaffold._cli import main


def matrix_specs() -> list[tuple[str, list[str]]]:
    """(id, ``new`` arguments) of every project a class check runs on."""
    kinds = available_kinds()
    specs = [(kind, ["--trigger", kind]) for kind in kinds]
    for pattern in load_catalog().patterns:
        if pattern.id == "none" or not pattern.available:
            continue
        specs += [
            (f"{pattern.id}+{kind}", ["--pattern", pattern.id, "--trigger", kind])
            for kind in kinds
            if pattern.accepts(kind)
        ]
    return specs + [(f"whole:{spec}", args) for spec, args in whole_projects()]


_ROOT = Path(tempfile.mkdtemp(prefix="class-checks-"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
_RENDERED: dict[tuple[str, ...], Path] = {}


def rendered(args: list[str]) -> Path:
    """The project ``new --no-input`` makes of ``args``; rendered on first use only."""
    key = tuple(args)
    if key not in _RENDERED:
        dest = _ROOT / f"p{len(_RENDERED)}"
        assert main(["new", str(dest), "--no-input", "--quiet", *args]) == 0, args
        _RENDERED[key] = dest
    return _RENDERED[key]
