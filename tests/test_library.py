"""cstapopup.csta as a library: it imports nothing outside csta/, its public API, the README's
examples against the simulator, and the base install (no extra) in a fresh environment without
Qt: `cstapopup decode`, `monitor --record`, `history`, `sim`, and the message for the app.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import Distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from cstapopup import csta
from cstapopup.csta.switch.server import SwitchServer

ROOT = Path(__file__).resolve().parent.parent
CSTA = ROOT / "cstapopup" / "csta"
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Third-party packages csta/ may import: the codec's only dependency.
CSTA_THIRD_PARTY = {"asn1tools"}
#: What only the extras bring; none of it may be in the base install.
EXTRA_MODULES = ("PySide6", "shiboken6", "qasync", "keyring", "tomli_w", "aiomqtt", "paho")


# csta/ imports nothing outside csta/ ---------------------------------------------------------


def imports_outside_csta(module: str, source: str, is_package: bool) -> list[str]:
    """The imports in `source` (the text of `module`) of anything but csta/, the standard
    library and CSTA_THIRD_PARTY: every import statement, at any depth, and import_module()
    or __import__() with a literal name."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                targets = [".".join(base + ([node.module] if node.module else []))]
            else:
                targets = [node.module or ""]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) == "__import__")):
            targets = [node.args[0].value]
        for target in targets:
            top = target.split(".")[0]
            if top == "cstapopup":
                if not (target == "cstapopup.csta" or target.startswith("cstapopup.csta.")):
                    found.append(target)
            elif top not in sys.stdlib_module_names and top not in CSTA_THIRD_PARTY:
                found.append(target)
    return found


def test_the_import_scan_finds_what_it_must():
    """The scanner itself: each of these reaches outside csta/."""
    sample = ("import PySide6.QtCore\nfrom cstapopup import resources\n"
              "from ... import settings\nfrom ...calls import store\n"
              "def f():\n    import qasync\n    importlib.import_module('cstapopup.ui.app')\n"
              "from . import codec\nfrom ..csta import events\nimport asyncio\n"
              "from asn1tools.codecs import ber\n")
    assert imports_outside_csta("cstapopup.csta.switch.demo", sample, False) == [
        "PySide6.QtCore", "cstapopup", "cstapopup", "cstapopup.calls", "qasync",
        "cstapopup.ui.app"]


def test_csta_imports_nothing_outside_csta():
    modules = sorted(CSTA.rglob("*.py"))
    assert len(modules) > 20
    found = {}
    for path in modules:
        parts = path.relative_to(ROOT).with_suffix("").parts
        is_package = path.name == "__init__.py"
        name = ".".join(parts[:-1] if is_package else parts)
        outside = imports_outside_csta(name, path.read_text(encoding="utf-8"), is_package)
        if outside:
            found[name] = outside
    assert found == {}


# The public API -------------------------------------------------------------------------------


def test_the_public_api_is_complete_and_documented():
    assert len(set(csta.__all__)) == len(csta.__all__)
    for name in ("CstaClient", "ClientOptions", "CstaClientError", "ConnectError",
                 "AssociationRejectedError", "LinkStateChanged", "MonitorEvent",
                 "MonitorSnapshot", "DeliveredEvent", "TransferredEvent", "DeviceId",
                 "ConnectionId", "decode_apdu", "encode_apdu", "configure_codec"):
        assert name in csta.__all__
    undocumented = []
    for name in csta.__all__:
        obj = getattr(csta, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            doc = inspect.getdoc(obj) or ""
            # A dataclass without a docstring gets its signature as one.
            if not doc.strip() or doc.startswith(f"{obj.__name__}("):
                undocumented.append(name)
    for name, member in inspect.getmembers(csta.CstaClient):
        public = not name.startswith("_") and (inspect.isfunction(member)
                                               or isinstance(member, property))
        if public and not (member.__doc__ or "").strip():
            undocumented.append(f"CstaClient.{name}")
    assert undocumented == []
    # Every event class the codec knows is public.
    assert {cls.__name__ for cls in csta.EVENT_CLASSES.values()} <= set(csta.__all__)
    assert (ROOT / "cstapopup" / "py.typed").is_file()


# The examples, against the simulator ----------------------------------------------------------


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def docstring_example(doc: str) -> str:
    """The indented block after the first "::" of a docstring."""
    block = doc.split("::\n", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return "\n".join(lines).strip() + "\n"


MONITOR_EXAMPLE = python_blocks(README)[0]
PERL_EXAMPLE = python_blocks(README)[1]


def test_the_examples_are_the_ones_meant():
    assert "async for item in client.events()" in MONITOR_EXAMPLE
    assert len(MONITOR_EXAMPLE.strip().splitlines()) <= 12
    assert "my_cleared_cb" in PERL_EXAMPLE
    # The library's docstring shows the README's example (with another comment).
    def strip(code: str) -> list[str]:
        return [re.sub(r"\s*#.*", "", line) for line in code.strip().splitlines()]

    assert strip(docstring_example(csta.__doc__)) == strip(MONITOR_EXAMPLE)


def at_port(code: str, port: int) -> str:
    """The example's code with the simulator's port for its 127.0.0.1:7001."""
    assert code.count('"127.0.0.1", 7001') == 1
    return code.replace('"127.0.0.1", 7001', f'"127.0.0.1", {port}')


async def read_lines(stream: asyncio.StreamReader, until: str, timeout: float = 30) -> list[str]:
    """Lines from `stream` up to the first that contains `until`."""
    lines: list[str] = []

    async def collect() -> None:
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError(f"output ended before {until!r}: {lines}")
            lines.append(raw.decode().rstrip("\n"))
            if until in lines[-1]:
                return

    await asyncio.wait_for(collect(), timeout)
    return lines


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
    await asyncio.wait_for(proc.wait(), 10)


@pytest.mark.parametrize("python", ["this", "bare"])
async def test_the_readme_monitor_example_works_as_written(python, request):
    """The README's ten lines print the events of a call at 100, with the simulator in place
    of the PBX (the same bytes a HiPath sends), run by this environment and by the base
    install without Qt."""
    exe = sys.executable if python == "this" else str(request.getfixturevalue("bare").python)
    server = SwitchServer(port=0, devices="100-102", scenario="incoming-answered", speed=10)
    await server.start()
    proc = await asyncio.create_subprocess_exec(
        exe, "-c", at_port(MONITOR_EXAMPLE, server.port), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=Path(exe).parent)   # not the checkout's cstapopup
    try:
        lines = await read_lines(proc.stdout, " connection_cleared ")
    finally:
        await stop(proc)
        await server.stop()
    events = [line.split(" ", 2) for line in lines]
    assert [(device, name) for device, name, _ in events] == [
        ("100", "delivered"), ("100", "established"), ("100", "connection_cleared")]
    first = ast.literal_eval(events[0][2])   # the printed dict
    assert first["calling_device"] == "00891234567" and first["alerting_device"] == "100"


async def test_the_readme_perl_example_works_as_written():
    server = SwitchServer(port=0, devices="100-102", scenario="incoming-answered", speed=10)
    await server.start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", at_port(PERL_EXAMPLE, server.port), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        await stop(proc)
        await server.stop()
    assert proc.returncode == 0, err.decode()
    assert out.decode().startswith("CONNECTION CLEARED at 100 {")


# The base install, without the extras ----------------------------------------------------------


class Bare:
    """A fresh virtual environment with the project's wheel and only its base dependencies."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.python = root / "bin" / "python"
        self.cstapopup = root / "bin" / "cstapopup"

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.cstapopup), *args], capture_output=True, text=True,
                              check=False, timeout=120, cwd=self.root, **kwargs)


def required(dist: Distribution) -> Iterator[str]:
    """The distributions `dist` needs here, without its extras."""
    for text in dist.requires or ():
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            yield req.name


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Bare:
    """Build the wheel from a copy of the sources, install it with no dependencies into a new
    venv, and give that venv the base dependencies (and theirs) the wheel declares, linked
    from this environment: nothing of the extras is importable there."""
    work = tmp_path_factory.mktemp("bare-install")
    src = work / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "cstapopup", src / "cstapopup", ignore=ignore)
    shutil.copytree(ROOT / "resources", src / "resources", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(work / "wheel"), str(src)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (work / "wheel").glob("cstapopup-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    bare = Bare(venv)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(bare.python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True,
                   timeout=300)
    site = Path(subprocess.run(
        [str(bare.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    installed = Distribution.at(next(site.glob("cstapopup-*.dist-info")))
    todo, seen = list(required(installed)), set()
    while todo:
        name = todo.pop()
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        dist = Distribution.from_name(name)
        todo += required(dist)
        tops = {Path(f).parts[0] for f in dist.files or () if not str(f).startswith("..")}
        for top in tops - {"bin", "__pycache__"}:
            source = Path(dist.locate_file(top))
            if not (site / top).exists():
                (site / top).symlink_to(source)
    assert {"asn1tools", "platformdirs", "phonenumbers"} <= seen
    assert not seen & {m.lower() for m in ("PySide6-Essentials", "qasync", "keyring", "tomli-w")}
    return bare


def test_the_base_install_has_the_library_and_none_of_the_extras(bare):
    code = (
        "import importlib.util, json, sys\n"
        "import cstapopup.csta, cstapopup.cli, cstapopup.commands.monitor\n"
        "import cstapopup.commands.sim, cstapopup.commands.history, cstapopup.commands.decode\n"
        "from importlib.resources import files\n"
        f"extras = {EXTRA_MODULES!r}\n"
        "print(json.dumps({'found': [m for m in extras if importlib.util.find_spec(m)],\n"
        "                  'loaded': [m for m in sys.modules if m.split('.')[0] in extras],\n"
        "                  'typed': files('cstapopup').joinpath('py.typed').is_file(),\n"
        "                  'asn1': sorted(p.name for p in files('cstapopup.csta.asn1').iterdir()\n"
        "                                 if p.name.endswith('.asn')),\n"
        "                  'file': cstapopup.csta.__file__}))\n")
    proc = subprocess.run([str(bare.python), "-c", code], capture_output=True, text=True,
                          check=False, timeout=120, cwd=bare.root)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["found"] == [] and report["loaded"] == []
    assert report["typed"] is True
    assert report["asn1"] == ["acse.asn", "csta.asn", "rose.asn"]
    assert report["file"].startswith(str(bare.root))    # the installed copy, not the checkout


def test_the_wheel_carries_the_compiled_translations(bare):
    """The desktop app loads resources/translations/cstapopup_de.qm from the installed
    package; the wheel has it (and not the .ts sources)."""
    code = ("from importlib.resources import files\n"
            "folder = files('cstapopup.resources').joinpath('translations')\n"
            "print(sorted(p.name for p in folder.iterdir()))\n")
    proc = subprocess.run([str(bare.python), "-c", code], capture_output=True, text=True,
                          check=False, timeout=120, cwd=bare.root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['cstapopup_de.qm']"


def test_the_base_install_decodes_the_readme_example(bare):
    """`cstapopup decode` prints what README says it prints."""
    example = re.search(r"```sh\n\$ cstapopup decode (.*?)\n(.*?)```", README, re.DOTALL)
    args = re.findall(r'"([^"]+)"', example.group(1))
    proc = bare.run("decode", *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == example.group(2).strip().splitlines()


@pytest.mark.parametrize("command", ["monitor", "sim", "history", "decode"])
def test_the_base_install_has_the_commands(bare, command):
    proc = bare.run(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: cstapopup {command}")


@pytest.mark.parametrize("args", [[], ["--demo"], ["--self-test"]])
def test_the_base_install_says_how_to_get_the_desktop_app(bare, args):
    proc = bare.run(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "pip install 'cstapopup[app]'" in proc.stderr
    assert "PySide6-Essentials" in proc.stderr and "Traceback" not in proc.stderr


async def test_the_base_install_monitors_records_and_lists_a_call(bare, tmp_path):
    """`monitor --record` and `history` of the base install, against the simulator."""
    db = tmp_path / "history.sqlite3"
    server = SwitchServer(port=0, devices="100-102", scenario="incoming-answered", speed=10)
    await server.start()
    proc = await asyncio.create_subprocess_exec(
        str(bare.cstapopup), "monitor", "--port", str(server.port), "-d", "100", "--json",
        "--db", str(db), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        lines = await read_lines(proc.stdout, '"connection_cleared"')
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 20)
    finally:
        await stop(proc)
        await server.stop()
    assert proc.returncode == 0, (await proc.stderr.read()).decode()
    assert [json.loads(line)["event"] for line in lines] == [
        "delivered", "established", "connection_cleared"]
    listed = bare.run("history", "--db", str(db), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    (call,) = json.loads(listed.stdout)
    assert (call["remote_number"], call["outcome"]) == ("00891234567", "answered"), call


def test_the_cli_configures_the_codec_cache_only_for_itself(bare, tmp_path):
    """The commands keep the compiled spec in $CSTAPOPUP_CACHE_DIR (private); the library
    alone writes nothing."""
    cache = tmp_path / "cache"
    env = dict(os.environ, CSTAPOPUP_CACHE_DIR=str(cache), HOME=str(tmp_path / "home"),
               XDG_CACHE_HOME=str(tmp_path / "xdg"))
    proc = bare.run("decode", "A1 0C 02 01 01 02 02 00 D3 30 03 0A 01 02", env=env)
    assert proc.returncode == 0, proc.stderr
    assert [p.suffix for p in cache.iterdir()] == [".spec"]
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    code = ("from cstapopup.csta import decode_apdu\n"
            "print(type(decode_apdu(bytes.fromhex('A10C020101020200D330030A0102'))).__name__)")
    library = subprocess.run(
        [str(bare.python), "-c", code], capture_output=True, text=True, check=False,
        env=dict(env, CSTAPOPUP_CACHE_DIR=str(tmp_path / "x")), timeout=120, cwd=tmp_path)
    assert library.stdout.strip() == "Invoke", library.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "xdg").exists()
    assert not (tmp_path / "home").exists()
