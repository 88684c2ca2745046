"""The subcommands of `cstapopup`: one module each, with `add_parser(subparsers)` and `run(args)`.

`add_parser` registers the subcommand's options and sets `func=run` on its parser; `run`
returns the process exit code.  Modules are imported only when their command runs, so that
`cstapopup decode` does not pay for Qt.
"""

#: subcommand name -> module under cstapopup.commands
COMMANDS: dict[str, str] = {
    "decode": "decode",
    "monitor": "monitor",
    "sim": "sim",
    "history": "history",
    "gateway": "gateway",
}
