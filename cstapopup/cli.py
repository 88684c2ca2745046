"""The one entry point, `cstapopup`, with its subcommands (see cstapopup/commands/)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from cstapopup import __version__
from cstapopup.commands import COMMANDS

#: Exit codes shared by the commands.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _load(name: str):
    return importlib.import_module(f"cstapopup.commands.{COMMANDS[name]}")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    app = _app_module()
    parser = argparse.ArgumentParser(
        prog="cstapopup",
        description="Call popup and call history for Siemens HiPath / OpenScape PBXs (CSTA). "
                    "Without a command: the desktop app (its options below).",
        epilog=app.EXIT_CODES if app is not None else None,
    )
    parser.add_argument("--version", action="version", version=f"cstapopup {__version__}")
    if app is not None:
        # Listed for --help only: `cstapopup --demo ...` goes to the app's own parser (main).
        app.add_app_options(parser.add_argument_group(
            "options of the desktop app (cstapopup without a command)"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only the chosen command's module is imported (keeps `decode` and `monitor` free of Qt);
    # for --help, all are listed.
    wanted = [a for a in argv if a in COMMANDS][:1] or list(COMMANDS)
    for name in COMMANDS:
        if name in wanted:
            try:
                _load(name).add_parser(sub)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.startswith("cstapopup.commands."):
                    continue  # a command not built yet
                raise
        else:
            sub.add_parser(name, help=argparse.SUPPRESS)
    return parser


def _app_module():
    """cstapopup.ui.app (its options and exit codes; it imports Qt only when the app runs),
    None in an installation without the app."""
    try:
        return importlib.import_module("cstapopup.ui.app")
    except ModuleNotFoundError as exc:
        if exc.name == "cstapopup.ui.app":
            return None
        raise


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        # No subcommand: the desktop app (it takes its own options, e.g. --demo).
        try:
            app = importlib.import_module("cstapopup.ui.app")
        except ModuleNotFoundError as exc:
            if exc.name == "cstapopup.ui.app":
                print("cstapopup: the desktop app is not built yet; try `cstapopup --help`",
                      file=sys.stderr)
                return EXIT_USAGE
            raise
        return app.main(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "debug", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
