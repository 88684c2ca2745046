#!/usr/bin/env bash
# Run the frozen one-folder app in a bare Debian root that has only the run-time packages
# README lists, to prove the bundle carries everything else.  Needs root (debootstrap, chroot).
#
#   packaging/check_clean_root.sh [BUNDLE]           default BUNDLE: dist/cstapopup
#   packaging/check_clean_root.sh --minimize [BUNDLE]  also drop each listed package in
#                                                    turn and say which ones are needed
#
# BUNDLE is the one-folder app (copied read-only to /opt/cstapopup) or the release archive
# dist/cstapopup-<version>-linux-<arch>.tar.gz (unpacked by the user, whose run of its
# install.sh puts the app in ~/.local/lib/cstapopup).  Inside the root, as an ordinary user,
# it runs `cstapopup --version`, `decode`, `--bundle-check` (icons, fonts, ASN.1 modules,
# phonenumbers and keyring in the bundle) and `--self-test` on Qt's offscreen platform; then,
# when the host has Xvfb, `--bundle-check` and `--demo --startup-probe` on the xcb platform
# against a real X server (the X11 / XWayland case of a receptionist's PC), with a system
# tray when the host has wmdocker.  Exit status 0 only when all of them pass.
#
# Environment:
#   CLEAN_ROOT_PACKAGES  the packages to install (default: RUNTIME_PACKAGES below)
#   CLEAN_ROOT_CACHE     where the debootstrapped base root is kept between runs
#                        (default /var/tmp/cstapopup-clean-root; delete it to start afresh)
#   CLEAN_ROOT_MIRROR    Debian mirror (default: the one this machine's apt uses)
#   CLEAN_ROOT_SUITE     Debian suite (default: this machine's codename, else bookworm)
#   REQUIRE_SELF_TEST=1  fail when the bundle has no desktop app to self-test yet
set -euo pipefail

# What README tells a bare Debian/Ubuntu machine to install, found by trying (--minimize, and
# CLEAN_ROOT_PACKAGES with fewer):
#   libgl1, libegl1    Qt links libGL and libEGL; PyInstaller leaves them (and libxcb, which
#                      libgl1 brings) to the system, where they must match the graphics
#                      drivers.  Without either, no Qt start at all.
#   fonts-dejavu-core  any font; without one Qt draws every letter as an empty box.
#   fontconfig-config  fontconfig's configuration.  Without it the bundled fontconfig still
#                      finds the fonts (its built-in fallback) but prints "Fontconfig error:
#                      Cannot load default config file" at every start.  It depends on a
#                      font package, so it brings fonts-dejavu-core along.
# Everything else (libxkbcommon, libfontconfig, libfreetype, libdbus, libglib, the xcb-*
# libraries, OpenSSL, SQLite) is inside the bundle.
RUNTIME_PACKAGES="libgl1 libegl1 fontconfig-config fonts-dejavu-core"

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
minimize=no
bundle=""
for arg in "$@"; do
    case "$arg" in
        --minimize) minimize=yes ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | grep '^#' | head -n 31; exit 0 ;;
        -*) echo "check_clean_root: unknown option $arg" >&2; exit 2 ;;
        *) bundle=$arg ;;
    esac
done
bundle=${bundle:-$repo/dist/cstapopup}
bundle=$(cd "$(dirname "$bundle")" && pwd)/$(basename "$bundle")
case "$bundle" in
    *.tar.gz) archive=yes; app=/home/reception/.local/lib/cstapopup/cstapopup ;;
    *) archive=no; app=/opt/cstapopup/cstapopup ;;
esac
packages=${CLEAN_ROOT_PACKAGES:-$RUNTIME_PACKAGES}
cache=${CLEAN_ROOT_CACHE:-/var/tmp/cstapopup-clean-root}

if [ "$(id -u)" != 0 ]; then
    echo "check_clean_root: needs root (debootstrap and chroot)" >&2
    exit 2
fi
if { [ "$archive" = yes ] && [ ! -f "$bundle" ]; } \
        || { [ "$archive" = no ] && [ ! -x "$bundle/cstapopup" ]; }; then
    echo "check_clean_root: no $bundle; build it first: python packaging/build.py" >&2
    exit 2
fi
if ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
        >/dev/null
fi

# --- the mirror and suite this machine's apt already uses (only the registries are reachable)
host_codename=$( (. /etc/os-release && echo "${VERSION_CODENAME:-}") 2>/dev/null || true)
suite=${CLEAN_ROOT_SUITE:-${host_codename:-bookworm}}
find_mirror() {
    local f uri
    # deb822 .sources files: the URIs of a stanza whose Suites has the plain suite.
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk -v suite="$suite" '
            /^[ \t]*$/ { if (u != "" && s) { print u; exit } u = ""; s = 0; next }
            tolower($1) == "uris:" { u = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) s = 1 }
            END { if (u != "" && s) print u }' "$f" | head -n1)
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    # one-line .list files: deb [options] URI SUITE COMPONENTS
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk -v suite="$suite" '$1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit } }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return; }
    done
    echo "http://deb.debian.org/debian"
}
mirror=${CLEAN_ROOT_MIRROR:-$(find_mirror)}

# --- a base root, made once and copied for each try ------------------------------------
base=$cache/base
if [ ! -f "$base/.cstapopup-base-complete" ]; then
    rm -rf "$base"
    mkdir -p "$cache"
    echo "== debootstrap --variant=minbase $suite $mirror (once; kept in $base)"
    start=$(date +%s)
    debootstrap --variant=minbase "$suite" "$base" "$mirror" > "$cache/debootstrap.log" 2>&1 \
        || { tail -n 20 "$cache/debootstrap.log"; exit 1; }
    echo "   took $(( $(date +%s) - start )) s"
    touch "$base/.cstapopup-base-complete"
fi

root=""
xvfb_pid=""
tray_pid=""
remove_root() {
    if [ -n "$root" ]; then
        umount "$root/proc" 2>/dev/null || true
        # Delete only a root with nothing mounted inside it.
        if findmnt -rn -o TARGET | grep -q "^$root/"; then
            echo "check_clean_root: $root still has mounts; left in place" >&2
        else
            rm -rf "$root"
        fi
        root=""
    fi
}
cleanup() {
    remove_root
    if [ -n "$tray_pid" ]; then kill "$tray_pid" 2>/dev/null || true; fi
    if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

# Copy the base, install $1 (a package list), put the bundle in /opt/cstapopup.
make_root() {
    remove_root
    root=$(mktemp -d "$cache/root.XXXXXX")
    cp -a "$base/." "$root/"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    mount -t proc proc "$root/proc"
    chroot "$root" apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    if ! chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends $1 > "$root/apt.log" 2>&1; then
        cat "$root/apt.log"
        return 1
    fi
    chroot "$root" useradd --create-home --shell /bin/sh reception
    if [ "$archive" = yes ]; then
        cp "$bundle" "$root/home/reception/cstapopup.tar.gz"
        chroot "$root" chown reception:reception /home/reception/cstapopup.tar.gz
        # What INSTALL.txt tells the user to do.
        in_root sh -c 'cd && tar xzf cstapopup.tar.gz && cd cstapopup-*/ && ./install.sh' \
            || return 1
    else
        cp -a "$bundle" "$root/opt/cstapopup"
        chown -R root:root "$root/opt/cstapopup"
        chmod -R go-w,a+rX "$root/opt/cstapopup"
    fi
}

# Run the app inside the root as the user, with a clean environment.
in_root() {
    chroot --userspec=reception:reception "$root" /usr/bin/env -i \
        PATH=/usr/bin:/bin HOME=/home/reception USER=reception LANG=C.UTF-8 \
        XDG_RUNTIME_DIR=/tmp PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring "$@"
}

# All checks against the current root; prints one line per check, returns non-zero on failure.
run_checks() {
    local failed=0 out t0 rc
    # result LABEL EXPECTED-TEXT: judge the last run (exit code 0 and the text in its output)
    result() {
        local label=$1 expect=$2 secs
        secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
        if [ "$rc" = 0 ] && grep -q -- "$expect" <<<"$out"; then
            printf '   ok    %-30s %6s s\n' "$label" "$secs"
        else
            echo "   FAIL  $label (exit $rc)"
            sed 's/^/         | /' <<<"$out" | tail -n 25
            failed=1
        fi
    }
    run() {   # run COMMAND...: in the root, output and exit code kept for result()
        t0=$EPOCHREALTIME
        set +e
        out=$(in_root "$@" 2>&1)
        rc=$?
        set -e
    }
    check() {   # check LABEL EXPECTED-TEXT COMMAND...
        local label=$1 expect=$2
        shift 2
        run "$@"
        result "$label" "$expect"
    }
    if [ "$archive" = yes ]; then
        check "install.sh: menu entry" "^Exec=\"$app\"" \
            cat /home/reception/.local/share/applications/cstapopup.desktop
        check "install.sh: bin/cstapopup" "cstapopup " \
            /home/reception/.local/bin/cstapopup --version
    fi
    check "--version" "cstapopup " "$app" --version
    check "decode" "invalid_monitor_object" env QT_QPA_PLATFORM=offscreen \
        "$app" decode "A3 0B 02 01 02 02 01 01 A0 03 0A 01 3E"
    check "--bundle-check (offscreen)" '"failures": \[\]' env QT_QPA_PLATFORM=offscreen \
        "$app" --bundle-check
    run env QT_QPA_PLATFORM=offscreen "$app" --self-test
    if [ "$rc" = 2 ] && grep -q "not built yet" <<<"$out" \
            && [ "${REQUIRE_SELF_TEST:-0}" != 1 ]; then
        echo "   skip  --self-test (offscreen): the bundle has no desktop app yet"
    else
        result "--self-test (offscreen)" "self-test: "
    fi
    if [ -n "$xvfb_pid" ]; then
        # The X server's abstract socket is shared with the chroot (same network namespace).
        check "--bundle-check (xcb, Xvfb)" '"qt_platform": "xcb"' \
            env QT_QPA_PLATFORM=xcb DISPLAY=":$display" "$app" --bundle-check
        # The app itself on X11, up to its tray icon (an XEmbed tray runs on the host's side
        # of the display when wmdocker is installed) or, without a tray, its window.
        local shown="startup-probe: "
        [ -n "$tray_pid" ] && shown="startup-probe: tray shown"
        check "--demo --startup-probe (xcb)" "$shown" \
            env QT_QPA_PLATFORM=xcb DISPLAY=":$display" "$app" --demo --startup-probe
    else
        echo "   skip  xcb platform: no Xvfb on this machine"
    fi
    return $failed
}

display=""
if command -v Xvfb >/dev/null; then
    for n in $(seq 90 120); do
        if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then display=$n; break; fi
    done
    if [ -n "$display" ]; then
        Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
        xvfb_pid=$!
        for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
        if command -v wmdocker >/dev/null; then
            DISPLAY=":$display" wmdocker >/dev/null 2>&1 &
            tray_pid=$!
            sleep 0.5
        fi
    fi
fi

echo "== bundle $bundle ($(du -sh "$bundle" | cut -f1)), Debian $suite from $mirror"
echo "== packages: $packages"
make_root "$packages"
status=0
run_checks || status=1

if [ "$minimize" = yes ]; then
    echo "== which of them are needed (each left out in turn)"
    needed=""
    for pkg in $packages; do
        rest=$(tr ' ' '\n' <<<"$packages" | grep -vx -- "$pkg" | tr '\n' ' ')
        echo "-- without $pkg"
        if ! make_root "$rest"; then
            echo "   => could not install the others"
            needed="$needed $pkg?"
        elif chroot "$root" dpkg -s "$pkg" >/dev/null 2>&1; then
            echo "   => $pkg comes in anyway, as a dependency of the others"
        elif run_checks; then
            echo "   => $pkg is not needed"
        else
            echo "   => $pkg is needed"
            needed="$needed $pkg"
        fi
    done
    echo "== needed:${needed:- none}"
fi

if [ "$status" = 0 ]; then
    echo "== clean root: all checks passed with: $packages"
else
    echo "== clean root: FAILED with: $packages"
fi
exit $status
