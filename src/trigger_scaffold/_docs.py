"""Documentation derived from the catalog: ``python -m trigger_scaffold._docs README.md``."""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from trigger_scaffold._catalog import Catalog, load_catalog, parse_catalog

_BLOCK = re.compile(r"(<!-- kinds:start -->\n)(.*?)(<!-- kinds:end -->)", re.S)
_ID_USE = re.compile(r"\{\{ ?P ?\}\}([A-Z][a-z0-9]*)")
# Every trigger also gets these from the shared template (template.yaml.jinja, README.md.jinja).
_SHARED_ID_WORDS = ("Function",)


@cache
def _catalog_beside(kinds_dir: Path) -> Catalog:
    """The catalog of the template tree that ``kinds_dir`` belongs to, parsed once."""
    return parse_catalog(yaml.safe_load((kinds_dir.parent / "catalog.yml").read_text()))


def id_words(kinds_dir: Path, kind: str) -> list[str]:
    """First words of the ids a kind appends to its trigger's PascalCase name.

    ``orders`` (sqs) makes ``OrdersQueue`` and ``OrdersDeadLetterQueue``: the words are
    ``Queue`` and ``Dead``. A second trigger ``orders-dead-letter`` would start with
    ``OrdersDead...`` and could clash, which copier.yml and the CLI refuse from these words.
    """
    words = set(_SHARED_ID_WORDS)
    paths = [*(kinds_dir / kind).glob("*.jinja")]
    # The patterns that take the kind as an entry add ids: their overrides of the kind's
    # partials and their per-entry resources.
    catalog = _catalog_beside(kinds_dir)
    for pattern in catalog.patterns:
        if pattern.id != catalog.defaults.pattern and pattern.accepts(kind):
            folder = kinds_dir.parent / "patterns" / pattern.id
            paths += [*folder.glob(f"entry/{kind}/*.jinja"), *folder.glob("entry.yaml.jinja")]
    for path in paths:
        words.update(_ID_USE.findall(path.read_text(encoding="utf-8")))
    return sorted(words)


_SKIP_CALL = re.compile(r"checkov\.skip\(\[([^\]]*)\]\)")


def checkov_skips(kinds_dir: Path, kind: str) -> list[str]:
    """The checkov skips a kind's resources make beyond the function's own, one per resource.

    The generated README lists the skips of a project from these (and the function skips of
    each invocation type) instead of rendering template.yaml a second time.
    """
    text = (kinds_dir / kind / "resources.yaml.jinja").read_text(encoding="utf-8")
    return sorted(
        check.strip().strip("'\"") for call in _SKIP_CALL.findall(text) for check in call.split(",")
    )


def update_catalog_derived(catalog_file: Path) -> bool:
    """Rewrite the ``id_words:`` and ``checkov_skips:`` lines of the catalog from the partials."""
    text = catalog_file.read_text(encoding="utf-8")
    kinds_dir = catalog_file.parent / "kinds"
    new = text
    for field, derive in (("id_words", id_words), ("checkov_skips", checkov_skips)):

        def replace(match: re.Match[str], field: str = field, derive: Any = derive) -> str:
            values = derive(kinds_dir, match.group(1))
            head = match.group(0).split(f"\n    {field}:")[0]
            return f"{head}\n    {field}: [{', '.join(values)}]"

        pattern = re.compile(
            rf"^  ([a-z0-9-]+):\n(?:    (?!{field}:).*\n)*?    {field}: \[.*?\]", re.M
        )
        new = pattern.sub(replace, new)
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

    changed = update_catalog_derived(catalog_path())
    print(f"{catalog_path()}: {'updated' if changed else 'up to date'}")
    load_catalog.cache_clear()
    for arg in sys.argv[1:]:
        changed = update_readme(Path(arg), load_catalog())
        print(f"{arg}: {'updated' if changed else 'up to date'}")
