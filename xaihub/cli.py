"""The ``xaihub`` command line."""

from __future__ import annotations

import argparse
import sys

from xaihub.plugins import list_methods, load_failures


def _cmd_list(args: argparse.Namespace) -> int:
    rows = [("method", "plugin", "needs", "status")]
    for registered in list_methods():
        explainer = registered.explainer
        try:
            explainer.check_available()
            status = "available"
        except Exception as exc:
            status = f"unavailable: {exc}"
        rows.append((explainer.name, registered.plugin, explainer.requires.describe(), status))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[3])
    failures = load_failures()
    if failures:
        print("\nplugins that failed to load:")
        for failure in failures:
            print(f"  {failure.plugin}: {failure.error}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xaihub", description="Compare explanations of image classifiers.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list registered methods, their plugins and plugins that failed to load")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"list": _cmd_list}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
