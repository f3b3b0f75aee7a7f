"""Rewrites the values table of charts/review-operator/README.md from values.yaml's `# --` comments.

Run by `make manifests` (`--check` only reports); tests/integration/test_chart.py fails when it is stale.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "charts" / "review-operator"
START, END = "| Value | Default | Description |", "\n## Alerts"


def table(values_text: str) -> str:
    values: Any = yaml.safe_load(values_text)
    stack: list[str] = []
    description: list[str] = []
    rows = ["| Value | Default | Description |", "|---|---|---|"]
    for line in values_text.splitlines():
        if match := re.match(r"^\s*# -- (.*)$", line):
            description = [match.group(1)]
        elif (match := re.match(r"^\s*#\s?(.*)$", line)) and description:
            description.append(match.group(1))
        elif match := re.match(r"^(\s*)([A-Za-z][A-Za-z0-9]*):", line):
            stack = [*stack[: len(match.group(1)) // 2], match.group(2)]
            if description:
                node = values
                for key in stack:
                    node = node[key]
                text = " ".join(description).replace("|", "\\|")
                rows.append(f"| `{'.'.join(stack)}` | `{json.dumps(node)}` | {text} |")
            description = []
        else:
            description = []
    return "\n".join(rows) + "\n"


def render(readme: str, values_text: str) -> str:
    start, end = readme.index(START), readme.index(END)
    return readme[:start] + table(values_text) + readme[end:]


def main(argv: list[str]) -> int:
    """Rewrites the table; with --check only reports (exit 1) whether it is stale."""
    readme = CHART / "README.md"
    current = readme.read_text()
    fresh = render(current, (CHART / "values.yaml").read_text())
    if "--check" in argv:
        if fresh != current:
            print("charts/review-operator/README.md values table is stale: run `make manifests`")
            return 1
        return 0
    readme.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
