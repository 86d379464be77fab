"""Run every installed method on every zoo architecture (xaihub.testing) and write the support matrix into
docs/reference/support-matrix.md, between its support-matrix markers.

    .venv/bin/python scripts/support_matrix.py            # rewrite the page's block
    .venv/bin/python scripts/support_matrix.py --check    # exit 1 when the page's block is not what it would write

Each cell is what ``check_explainer(method, architecture, checks=ON_ARCHITECTURES)`` found, with the cheap
parameters of tests/cheap_params.py: ✓ (explained, keeping the contract), – (unavailable: the method
refused the model upfront, for the numbered reason) or ✗ (broke the contract, for the numbered reason).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reference" / "support-matrix.md"
START = "<!-- support-matrix: start (written by scripts/support_matrix.py; do not edit by hand) -->"
END = "<!-- support-matrix: end -->"
REASON_LENGTH = 150


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the page instead of writing it")
    args = parser.parse_args(argv)
    block = matrix_block()
    text = PAGE.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{PAGE} has no support-matrix markers ({START} ... {END})")
    before, rest = text.split(START, 1)
    updated = f"{before}{START}\n{block}\n{END}{rest.split(END, 1)[1]}"
    if args.check:
        return 0 if updated == text else 1
    PAGE.write_text(updated, encoding="utf-8")
    print(block)
    return 0


def matrix_block() -> str:
    """The markdown of the matrix: one row per installed method, one column per zoo architecture."""
    sys.path.insert(0, str(ROOT / "tests"))
    from xaihub.registry.plugins import list_methods
    from xaihub.testing import ON_ARCHITECTURES, check_explainer, zoo
    from xaihub.testing.checks import installed_frameworks

    from cheap_params import CHEAP

    frameworks = {"callable", *installed_frameworks()}
    architectures = [a for a in zoo.ARCHITECTURES if a.framework in frameworks and a.available()]
    notes: dict[str, int] = {}
    rows = []
    for registered in list_methods():
        method = registered.explainer.name
        cells = []
        for architecture in architectures:
            report = check_explainer(method, architecture, params=CHEAP.get(method), checks=ON_ARCHITECTURES,
                                     raise_on_failure=False)
            if report.failures:
                reason = f"{report.failures[0].check}: {report.failures[0].message}"
                cells.append(f"✗ ({notes.setdefault(_short(reason, method), len(notes) + 1)})")
            elif report.unavailable() is not None:
                cells.append(f"– ({notes.setdefault(_short(report.unavailable(), method), len(notes) + 1)})")
            else:
                cells.append("✓")
            print(f"{method} on {architecture.name}: {cells[-1]}", file=sys.stderr, flush=True)
        rows.append(f"| `{method}` | " + " | ".join(cells) + " |")
    header = "| method | " + " | ".join(a.label for a in architectures) + " |"
    rule = "|---|" + "|".join(":-:" for _ in architectures) + "|"
    columns = [f"`{a.label}`: {a.summary} (`{a.name}`)" for a in architectures]
    reasons = [f"({number}) {reason}" for reason, number in notes.items()]
    return "\n".join([header, rule, *rows, "", "Columns: " + "; ".join(columns) + ".", "",
                      *[f"{line}  " for line in reasons]])


def _short(reason: str, method: str) -> str:
    """A reason without the method's name in front, on one line, cut to :data:`REASON_LENGTH` characters."""
    text = " ".join(reason.split())
    for prefix in (f"{method}: ", f"{method} "):
        text = text.removeprefix(prefix)
    return text if len(text) <= REASON_LENGTH else text[:REASON_LENGTH - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
