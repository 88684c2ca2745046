"""The process exit codes of `cstapopup` and its subcommands: one definition each.

A neutral module (it imports nothing), so that the commands and `cstapopup.cli`, which loads
them, both take the codes from here.  README lists them per command.
"""

EXIT_OK = 0
#: decode: some input could not be decoded; monitor: no device could be monitored; gateway:
#: no device could be monitored or an unexpected error (see the log).
EXIT_ERROR = 1
#: Bad options, unusable files (CA, rights, TLS), a missing optional part (aiomqtt, the app).
EXIT_USAGE = 2
#: The PBX refused the login for good (rejected-permanent): no more attempts.
EXIT_REJECTED = 3
#: monitor --once: the connection failed or was lost.
EXIT_CONNECT = 4
#: sim: the port is taken.
EXIT_PORT_IN_USE = 4
#: gateway, monitor --broker: the broker refused the user name / password (or the ACL).
EXIT_BROKER_AUTH = 5
#: gateway: another gateway connected for the same site.
EXIT_TAKEN_OVER = 6
#: Ctrl+C in a command that does not catch it (128 + SIGINT).
EXIT_INTERRUPTED = 130
