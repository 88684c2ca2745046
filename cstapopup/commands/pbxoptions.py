"""The options naming the PBX and its login, shared by `monitor` and `gateway`, with their
environment variables and the HiPath factory defaults (cstapopup.csta.defaults)."""

from __future__ import annotations

import argparse
import getpass
import os

from cstapopup.csta.defaults import (
    DEFAULT_PASSWORD,
    DEFAULT_PORT,
    DEFAULT_USER,
    OPENSCAPE_BUSINESS_PORT,
)

#: The PBX's address when neither --host nor $CSTAPOPUP_HOST says: a local `cstapopup sim`.
DEFAULT_HOST = "127.0.0.1"
PASSWORD_ENV = "CSTAPOPUP_PASSWORD"


def add_pbx_options(p: argparse.ArgumentParser) -> None:
    """--host --port --user --password --ask-password --tls --ca-file (defaults from the
    environment, else the factory defaults)."""
    env = os.environ
    p.add_argument(
        "--host",
        default=env.get("CSTAPOPUP_HOST", DEFAULT_HOST),
        help=f"PBX address (default $CSTAPOPUP_HOST, else {DEFAULT_HOST}: a local `cstapopup sim`)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(env.get("CSTAPOPUP_PORT", DEFAULT_PORT)),
        help=f"CSTA port (HiPath 3000: {DEFAULT_PORT}; OpenScape Business: "
        f"{OPENSCAPE_BUSINESS_PORT}; default $CSTAPOPUP_PORT, else {DEFAULT_PORT})",
    )
    p.add_argument(
        "--user",
        default=env.get("CSTAPOPUP_USER", DEFAULT_USER),
        help=f"CSTA user name (default $CSTAPOPUP_USER, else {DEFAULT_USER})",
    )
    p.add_argument(
        "--password",
        default=None,
        help=f"PBX password (default ${PASSWORD_ENV}, else {DEFAULT_PASSWORD}); "
        "prefer --ask-password or the variable: an option shows in the process list",
    )
    p.add_argument(
        "--ask-password", action="store_true", help="prompt for the PBX password (not echoed)"
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="encrypt the PBX link with TLS; the PBX's certificate is verified "
        "against the system's certificates or --ca-file",
    )
    p.add_argument(
        "--ca-file",
        metavar="PEM",
        default=env.get("CSTAPOPUP_CA_FILE") or None,
        help="PEM file of the authority that signed the PBX's certificate "
        "(implies --tls; default $CSTAPOPUP_CA_FILE)",
    )


def pbx_password(args: argparse.Namespace) -> str:
    """The password the options ask for: prompted, given, from the environment, or the
    factory default."""
    if args.ask_password:
        return getpass.getpass(f"Password for {args.user}@{args.host}: ")
    if args.password is not None:
        return args.password
    return os.environ.get(PASSWORD_ENV, DEFAULT_PASSWORD)
