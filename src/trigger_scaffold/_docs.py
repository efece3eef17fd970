"""Documentation derived from the catalog: ``python -m trigger_scaffold._docs README.md``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from trigger_scaffold._catalog import Catalog, load_catalog

_BLOCK = re.compile(r"(<!-- kinds:start -->\n)(.*?)(<!-- kinds:end -->)", re.S)


def kinds_table(catalog: Catalog) -> str:
    """A Markdown table of every trigger kind and pattern with its invocation and status."""
    rows = [
        "| Kind | Source | Invocation | Wiring | Status |",
        "|---|---|---|---|---|",
    ]
    for kind in catalog.triggers:
        status = {"available": "generated", "planned": "planned", "retired": "retired by AWS"}[
            kind.status
        ]
        if kind.closed_to_new_customers:
            status += "; closed to new AWS customers"
        rows.append(
            f"| `{kind.id}` | {kind.label} | {kind.invocation} | {kind.wiring} | {status} |"
        )
    rows += ["", "| Pattern | What it builds | Status |", "|---|---|---|"]
    for pattern in catalog.patterns:
        status = "generated" if pattern.available else "planned"
        rows.append(f"| `{pattern.id}` | {pattern.summary} | {status} |")
    return "\n".join(rows) + "\n"


def update_readme(path: Path, catalog: Catalog) -> bool:
    """Rewrite the generated block of ``path``; return whether it changed."""
    text = path.read_text(encoding="utf-8")
    new = _BLOCK.sub(lambda m: m.group(1) + kinds_table(catalog) + m.group(3), text)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        changed = update_readme(Path(arg), load_catalog())
        print(f"{arg}: {'updated' if changed else 'up to date'}")
