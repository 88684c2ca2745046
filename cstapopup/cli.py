"""The one entry point, `cstapopup`, with its subcommands (see cstapopup/commands/).

Without a subcommand it starts the desktop app, which needs the extra `cstapopup[app]` (Qt);
the subcommands decode, monitor, sim and history need only the base install.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path

from cstapopup import APP_NAME, __version__
from cstapopup.commands import COMMANDS
from cstapopup.exitcodes import EXIT_INTERRUPTED, EXIT_USAGE

#: Overrides where the compiled ASN.1 spec is cached (tests, portable installs).
CACHE_DIR_ENV = "CSTAPOPUP_CACHE_DIR"

#: What the desktop app imports beyond the base install: module -> distribution (the extra
#: `app` in pyproject.toml).
APP_MODULES = {
    "PySide6": "PySide6-Essentials",
    "qasync": "qasync",
    "keyring": "keyring",
    "tomli_w": "tomli-w",
}


def _load(name: str):
    return importlib.import_module(f"cstapopup.commands.{COMMANDS[name]}")


def cache_dir() -> Path:
    """This user's cache folder for cstapopup: $CSTAPOPUP_CACHE_DIR, else the platform's."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def configure_codec() -> None:
    """Let the protocol library keep its compiled ASN.1 spec in our cache folder: a later
    start then reads it instead of compiling the modules (a few hundred milliseconds)."""
    from cstapopup.csta import codec

    codec.configure(cache_dir=cache_dir())


def missing_app_modules() -> list[str]:
    """The distributions of the extra `app` that cannot be imported here."""
    return [
        dist for module, dist in APP_MODULES.items() if importlib.util.find_spec(module) is None
    ]


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
        app.add_app_options(
            parser.add_argument_group("options of the desktop app (cstapopup without a command)")
        )
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


def run_app(argv: list[str]) -> int:
    """The desktop app, or a message saying how to install it."""
    missing = missing_app_modules()
    if missing:
        print(
            "cstapopup: the desktop app needs the extra `app`, which is not installed "
            f"(missing: {', '.join(missing)}).\nInstall it with:  pip install 'cstapopup[app]'"
            "\nThe subcommands work without it: cstapopup decode | monitor | sim | history "
            "(see `cstapopup --help`).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        app = importlib.import_module("cstapopup.ui.app")
    except ModuleNotFoundError as exc:
        if exc.name == "cstapopup.ui.app":
            print(
                "cstapopup: the desktop app is not built yet; try `cstapopup --help`",
                file=sys.stderr,
            )
            return EXIT_USAGE
        raise
    return int(app.main(argv) or 0)


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
        configure_codec()
        return run_app(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "debug", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    configure_codec()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
