"""Build the frozen cstapopup (PyInstaller) and, on Linux, the release archive.

    python packaging/build.py              # one-folder app (the default)
    python packaging/build.py --onefile    # one-file executable
    python packaging/build.py --onedir --onefile

Runs with the Python of the environment that has cstapopup installed (e.g. .venv/bin/python);
installs the pinned PyInstaller into that environment when it is missing.  Each build is
run before it counts, offscreen: `--version`, `decode` (with an empty and a filled ASN.1
cache), `--bundle-check` (icons, fonts, ASN.1, phonenumbers, keyring inside the bundle) and,
once cstapopup/ui/app.py exists, `--self-test` (again with LANG=de_DE.UTF-8: it must load the
German translations, cstapopup's and Qt's, from the bundle); a failure exits non-zero.  Prints the build
times, sizes and start-up times.

Output in dist/:
    cstapopup/                                   the one-folder app
    cstapopup-<version>-linux-x86_64.tar.gz      the one-folder app + menu entry, icon,
                                                 autostart template, install.sh (Linux)
    cstapopup-<version>-linux-x86_64             the one-file executable (Linux)
On Windows the one-folder app is what packaging/windows/cstapopup.iss packs (run there with
Inno Setup's ISCC); on macOS the spec adds dist/cstapopup.app.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PYINSTALLER_VERSION = "6.22.3"
HOOKS_CONTRIB_VERSION = "2026.9"

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "cstapopup.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
APP_NAME = "cstapopup"

#: A SystemStatus invoke and a universalFailure error: one decode through the bundled ASN.1.
SAMPLE_APDUS = ("A1 0C 02 01 01 02 02 00 D3 30 03 0A 01 02",
                "A3 0B 02 01 02 02 01 01 A0 03 0A 01 3E")

PLACEHOLDER_ICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
  <!-- placeholder until resources/icons/app.svg exists -->
  <rect x="3" y="3" width="58" height="58" rx="13" fill="#1d5aa6"/>
  <text x="32" y="42" font-family="sans-serif" font-size="28" font-weight="bold"
        text-anchor="middle" fill="#fff">CP</text>
</svg>
"""


def version() -> str:
    text = (ROOT / "cstapopup" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def platform_tag() -> str:
    system = {"linux": "linux", "win32": "windows", "darwin": "macos"}.get(sys.platform,
                                                                         sys.platform)
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "arm64", "aarch64": "aarch64"}.get(machine, machine)
    return f"{system}-{machine}"


def ensure_pyinstaller() -> None:
    try:
        have = importlib.metadata.version("pyinstaller")
    except importlib.metadata.PackageNotFoundError:
        have = None
    if have == PYINSTALLER_VERSION:
        return
    print(f"installing pyinstaller=={PYINSTALLER_VERSION} (found: {have or 'none'}) "
          f"into {sys.prefix}", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    f"pyinstaller=={PYINSTALLER_VERSION}",
                    f"pyinstaller-hooks-contrib=={HOOKS_CONTRIB_VERSION}"], check=True)


def run_pyinstaller(form: str, distpath: Path, clean: bool) -> float:
    env = dict(os.environ, CSTAPOPUP_BUNDLE=form)
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--workpath", str(WORK / form), "--distpath", str(distpath), str(SPEC)]
    if clean:
        cmd.insert(3, "--clean")
    print(f"== pyinstaller ({form}) ...", flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    return time.perf_counter() - started


def timed_run(cmd: list[str], **kw) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    return time.perf_counter() - started, proc


def smoke_test(exe: Path) -> dict[str, float]:
    """Run the frozen executable as a user would; raise on any failure.  Returns timings."""
    timings: dict[str, float] = {}
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory(prefix="cstapopup-smoke-") as tmp:
        # An empty cache dir: the first start on a new PC, which compiles the ASN.1 spec
        # unless the codec finds the one pre-built into the bundle.
        env["CSTAPOPUP_CACHE_DIR"] = str(Path(tmp) / "cache")
        checks = [
            ("--version", [str(exe), "--version"], lambda out: version() in out),
            ("decode (cold cache)", [str(exe), "decode", *SAMPLE_APDUS],
             lambda out: "invalid_monitor_object" in out),
            ("decode (warm cache)", [str(exe), "decode", *SAMPLE_APDUS],
             lambda out: "invalid_monitor_object" in out),
            ("--bundle-check", [str(exe), "--bundle-check"], lambda out: '"failures": []' in out),
        ]
        for label, cmd, ok in checks:
            seconds, proc = timed_run(cmd, env=env)
            if proc.returncode != 0 or not ok(proc.stdout):
                raise SystemExit(f"smoke test {label} failed (exit {proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
            timings[label] = seconds
    return timings


def self_test(exe: Path) -> float | None:
    """`cstapopup --self-test` offscreen, once the desktop app exists; None before that."""
    if not (ROOT / "cstapopup" / "ui" / "app.py").is_file():
        return None
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    with tempfile.TemporaryDirectory(prefix="cstapopup-selftest-") as tmp:
        # A private home: the self-test must not touch the builder's settings or history.
        env.update(HOME=tmp, XDG_CONFIG_HOME=f"{tmp}/config", XDG_DATA_HOME=f"{tmp}/data",
                   XDG_CACHE_HOME=f"{tmp}/cache", CSTAPOPUP_CACHE_DIR=f"{tmp}/cache/cstapopup",
                   PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
        seconds, proc = timed_run([str(exe), "--self-test"], env=env)
        if proc.returncode != 0:
            raise SystemExit(f"frozen --self-test failed (exit {proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
        # Again under a German locale: the bundle must find its own translation and Qt's.
        for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
            env.pop(name, None)
        env["LANG"] = "de_DE.UTF-8"
        _seconds, german = timed_run([str(exe), "--self-test"], env=env)
        first = german.stdout.splitlines()[0] if german.stdout else ""
        if german.returncode != 0 or not first.startswith("Selbsttest: Sprache: de (") \
                or "cstapopup_de.qm" not in first or "qtbase_de.qm" not in first:
            raise SystemExit(f"frozen --self-test in German failed (exit {german.returncode}):"
                             f"\n{german.stdout}\n{german.stderr}")
        print(f"frozen --self-test in German: {first}")
    return seconds


def glibc_floor(path: Path) -> str | None:
    """The newest GLIBC_x.y symbol version any binary in the bundle needs: the oldest glibc
    (so the oldest distribution) the bundle runs on.  None without objdump."""
    if not sys.platform.startswith("linux") or shutil.which("objdump") is None:
        return None
    files = [path] if path.is_file() else [p for p in path.rglob("*")
                                            if p.is_file() and not p.is_symlink()
                                            and (".so" in p.name or p.name == APP_NAME)]
    newest = (0, 0)
    for f in files:
        out = subprocess.run(["objdump", "-T", str(f)], capture_output=True, text=True).stdout
        for major, minor in re.findall(r"GLIBC_(\d+)\.(\d+)", out):
            newest = max(newest, (int(major), int(minor)))
    return f"{newest[0]}.{newest[1]}" if newest > (0, 0) else None


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB ({n / 1e6:.1f} MB)"


def app_icon_svg() -> str:
    icon = ROOT / "resources" / "icons" / "app.svg"
    return icon.read_text(encoding="utf-8") if icon.is_file() else PLACEHOLDER_ICON


def render_png(svg: Path, png: Path, size: int) -> bool:
    """A PNG of the icon for desktops that want one (Qt's SVG renderer; offscreen)."""
    code = (
        "import sys\n"
        "from PySide6.QtGui import QGuiApplication, QImage, QPainter\n"
        "from PySide6.QtSvg import QSvgRenderer\n"
        "app = QGuiApplication(['render'])\n"
        "size = int(sys.argv[3])\n"
        "image = QImage(size, size, QImage.Format.Format_ARGB32)\n"
        "image.fill(0)\n"
        "painter = QPainter(image)\n"
        "QSvgRenderer(sys.argv[1]).render(painter)\n"
        "painter.end()\n"
        "sys.exit(0 if image.save(sys.argv[2]) else 1)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", code, str(svg), str(png), str(size)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not png.is_file():
        print(f"   rendering {svg.name} failed (exit {proc.returncode}): "
              f"{proc.stderr.strip()[-500:]}")
        return False
    return True


def linux_archive(app_dir: Path) -> Path:
    """dist/cstapopup-<version>-linux-<arch>.tar.gz: the app folder and its desktop files."""
    top = f"{APP_NAME}-{version()}-{platform_tag()}"
    stage_root = WORK / "stage"
    shutil.rmtree(stage_root, ignore_errors=True)
    stage = stage_root / top
    shutil.copytree(app_dir, stage / APP_NAME, symlinks=True)
    share = stage / "share"
    share.mkdir()
    linux = PACKAGING / "linux"
    shutil.copy2(linux / "cstapopup.desktop.in", share)
    shutil.copy2(linux / "cstapopup-autostart.desktop.in", share)
    svg = share / "cstapopup.svg"
    svg.write_text(app_icon_svg(), encoding="utf-8")
    if not render_png(svg, share / "cstapopup-256.png", 256):
        print("   (no PNG icon: rendering the SVG failed; the SVG alone is installed)")
    shutil.copy2(linux / "install.sh", stage / "install.sh")
    (stage / "install.sh").chmod(0o755)
    (stage / "INSTALL.txt").write_text(
        INSTALL_TEXT.format(version=version(), top=top,
                            glibc=glibc_floor(app_dir) or "of the build machine"),
        encoding="utf-8")
    out = DIST / f"{top}.tar.gz"

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(out, "w:gz", compresslevel=9) as tar:
        tar.add(stage, arcname=top, filter=normalise)
    return out


INSTALL_TEXT = """cstapopup {version}: call popup and call history for HiPath / OpenScape PBXs

Install for yourself (no administrator rights needed):

    tar xzf {top}.tar.gz
    cd {top}
    ./install.sh                # or: ./install.sh --autostart  (start at every login)

This puts the app in ~/.local/lib/cstapopup, a menu entry in ~/.local/share/applications,
the icon in ~/.local/share/icons and the command ~/.local/bin/cstapopup.
Remove it with ./install.sh --uninstall (your settings and call history stay).

Without installing: ./cstapopup/cstapopup  (the folder can live anywhere).

It needs a Linux with glibc {glibc} or later (`ldd --version` shows the PC's), and these
Debian/Ubuntu packages (every desktop has them):
    libgl1 libegl1 fontconfig-config fonts-dejavu-core
(elsewhere: the OpenGL and EGL loaders (libglvnd), fontconfig's configuration and a
TrueType font).  Everything else is in the cstapopup folder.  On Wayland desktops the app
runs through XWayland (GNOME and KDE start it by themselves).

Trouble?  ./cstapopup/cstapopup --bundle-check  says what is missing.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onedir", action="store_true", help="build the one-folder app")
    parser.add_argument("--onefile", action="store_true", help="build the one-file executable")
    parser.add_argument("--clean", action="store_true", help="empty PyInstaller's caches first")
    parser.add_argument("--no-smoke", action="store_true",
                        help="skip running the frozen executable after the build")
    args = parser.parse_args(argv)
    forms = [f for f, wanted in (("onedir", args.onedir), ("onefile", args.onefile)) if wanted]
    forms = forms or ["onedir"]

    ensure_pyinstaller()
    DIST.mkdir(exist_ok=True)
    exe_name = APP_NAME + (".exe" if sys.platform == "win32" else "")
    summary: list[str] = []
    for form in forms:
        if form == "onedir":
            seconds = run_pyinstaller(form, DIST, args.clean)
            app_dir = DIST / APP_NAME
            exe = app_dir / exe_name
            summary.append(f"one-folder build: {seconds:.0f} s; {app_dir}: "
                           f"{mib(tree_size(app_dir))}")
            floor = glibc_floor(app_dir)
            if floor:
                summary.append(f"   needs glibc >= {floor} on the target (the build "
                               f"machine's libraries are in the bundle)")
        else:
            out_dir = WORK / "onefile-dist"
            seconds = run_pyinstaller(form, out_dir, args.clean)
            suffix = ".exe" if sys.platform == "win32" else ""
            exe = DIST / f"{APP_NAME}-{version()}-{platform_tag()}{suffix}"
            shutil.move(str(out_dir / exe_name), exe)
            summary.append(f"one-file build: {seconds:.0f} s; {exe}: {mib(tree_size(exe))}")
        if not args.no_smoke:
            for label, t in smoke_test(exe).items():
                summary.append(f"   {form} {label}: {t:.2f} s")
            st = self_test(exe)
            summary.append(f"   {form} --self-test: " + ("not run (no cstapopup/ui/app.py yet)"
                                                         if st is None else f"{st:.2f} s, ok"))
        if form == "onedir" and sys.platform.startswith("linux"):
            archive = linux_archive(DIST / APP_NAME)
            summary.append(f"   archive {archive}: {mib(archive.stat().st_size)}")
    print("\n".join(["== cstapopup " + version() + " " + platform_tag()] + summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
