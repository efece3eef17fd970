"""Documentation derived from the catalog: ``python -m trigger_scaffold._docs README.md``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from trigger_scaffold._catalog import Catalog, load_catalog

_BLOCK = re.compile(r"(<!-- kinds:start -->\n)(.*?)(<!-- kinds:end -->)", re.S)
_ID_USE = re.compile(r"\{\{ ?P ?\}\}([A-Z][a-z0-9]*)")
# Every trigger also gets these from the shared template (template.yaml.jinja, README.md.jinja).
_SHARED_ID_WORDS = ("Function",)


def id_words(kinds_dir: Path, kind: str) -> list[str]:
    """First words of the ids a kind appends to its trigger's PascalCase name.

    ``orders`` (sqs) makes ``OrdersQueue`` and ``OrdersDeadLetterQueue``: the words are
    ``Queue`` and ``Dead``. A second trigger ``orders-dead-letter`` would start with
    ``OrdersDead...`` and could clash, which copier.yml and the CLI refuse from these words.
    """
    words = set(_SHARED_ID_WORDS)
    for path in (kinds_dir / kind).glob("*.jinja"):
        words.update(_ID_USE.findall(path.read_text(encoding="utf-8")))
    return sorted(words)


def update_catalog_id_words(catalog_file: Path) -> bool:
    """Rewrite every ``id_words:`` line of the catalog from the kinds' partials."""
    text = catalog_file.read_text(encoding="utf-8")
    kinds_dir = catalog_file.parent / "kinds"

    def replace(match: re.Match[str]) -> str:
        words = id_words(kinds_dir, match.group(1))
        head = match.group(0).split("\n    id_words:")[0]
        return f"{head}\n    id_words: [{', '.join(words)}]"

    pattern = re.compile(
        r"^  ([a-z0-9-]+):\n(?:    (?!id_words:).*\n)*?    id_words: \[.*?\]", re.M
    )
    new = pattern.sub(replace, text)
    if new != text:
        catalog_file.write_text(new, encoding="utf-8")
    return new != text


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
    from trigger_scaffold._catalog import catalog_path

    changed = update_catalog_id_words(catalog_path())
    print(f"{catalog_path()}: {'updated' if changed else 'up to date'}")
    load_catalog.cache_clear()
    for arg in sys.argv[1:]:
        changed = update_readme(Path(arg), load_catalog())
        print(f"{arg}: {'updated' if changed else 'up to date'}")
