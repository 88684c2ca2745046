"""Who may control which devices through the gateway: device lists and the rights file.

The rights file is TOML, one broker user per key, each with the devices (numbers or ranges)
that user's desktop may control; "*" means every device:

    [users]
    alice = ["100", "101"]
    reception = ["100-120"]
    admin = ["*"]

A user not listed may control nothing (watching is a matter of the broker's ACL).  The file
is read again when it changes; a file that no longer reads keeps the rights in force (and
says so in the log).
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: A range may not span more than this many numbers (a typo must not make a million monitors).
MAX_RANGE = 10_000


class RightsError(ValueError):
    """The rights file or a device list cannot be used; the message says why."""


def parse_devices(specs: Iterable[str]) -> list[str]:
    """["100-103,200", "300"] -> ["100", "101", "102", "103", "200", "300"]: numbers and
    ranges (a range keeps the width of its first bound: "0100-0102"), in order, once each."""
    out: list[str] = []
    for spec in specs:
        for part in str(spec).replace(" ", "").split(","):
            if not part:
                continue
            lo, sep, hi = part.partition("-")
            if not sep:
                if not part.isdigit():
                    raise RightsError(f"not a device number: {part!r}")
                out.append(part)
                continue
            if not (lo.isdigit() and hi.isdigit()) or int(hi) < int(lo):
                raise RightsError(f"not a device range: {part!r}")
            if int(hi) - int(lo) >= MAX_RANGE:
                raise RightsError(f"device range too large: {part!r}")
            out.extend(str(n).zfill(len(lo)) for n in range(int(lo), int(hi) + 1))
    if not out:
        raise RightsError("no devices given")
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Rights:
    """The devices each user may control."""

    users: dict[str, frozenset[str]]
    everything: frozenset[str] = frozenset()

    def allows(self, user: str, device: str | None) -> bool:
        if device is None:
            return False
        return user in self.everything or device in self.users.get(user, frozenset())

    @classmethod
    def parse(cls, text: str, source: str = "rights file") -> Rights:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RightsError(f"{source}: {exc}") from None
        table = data.get("users", {})
        if not isinstance(table, dict):
            raise RightsError(f"{source}: [users] must be a table of user = [devices]")
        users: dict[str, frozenset[str]] = {}
        everything: set[str] = set()
        for user, devices in table.items():
            if isinstance(devices, str):
                devices = [devices]
            if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
                raise RightsError(f"{source}: {user} must be a list of device numbers or ranges")
            if "*" in devices:
                everything.add(user)
                devices = [d for d in devices if d != "*"]
            try:
                users[user] = frozenset(parse_devices(devices)) if devices else frozenset()
            except RightsError as exc:
                raise RightsError(f"{source}: {user}: {exc}") from None
        return cls(users, frozenset(everything))


class RightsFile:
    """The rights from a file, read again when its modification time or size changes."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._stamp: tuple[int, int] | None = None
        self._rights = Rights({})
        if self.path is not None:
            self._rights = self._read()  # a bad file at start is the user's to fix: raise

    def _read(self) -> Rights:
        assert self.path is not None
        try:
            st = os.stat(self.path)
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RightsError(f"cannot read the rights file {self.path}: {exc.strerror}") from None
        self._stamp = (st.st_mtime_ns, st.st_size)
        rights = Rights.parse(text, str(self.path))
        log.info("rights: %d users from %s", len(rights.users), self.path)
        return rights

    def current(self) -> Rights:
        if self.path is None:
            return self._rights
        try:
            st = os.stat(self.path)
            if (st.st_mtime_ns, st.st_size) != self._stamp:
                self._rights = self._read()
        except (OSError, RightsError) as exc:
            # Keep the rights in force: a half-written or broken file must not open or close
            # every door at once.  Said once per change of the file.
            stamp = None
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size)
            except OSError:
                pass
            if stamp != self._stamp:
                log.error("rights file not reloaded, the previous rights stay in force: %s", exc)
                self._stamp = stamp
        return self._rights
