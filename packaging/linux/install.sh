#!/bin/sh
# Install cstapopup for the current user (no root needed), or remove it again.
#
#   ./install.sh               app into ~/.local/lib/cstapopup, menu entry, icon,
#                              command ~/.local/bin/cstapopup
#   ./install.sh --autostart   the same, and start cstapopup at every login
#   ./install.sh --uninstall   remove all of it (settings and call history stay in
#                              ~/.config/cstapopup and ~/.local/share/cstapopup)
#
# PREFIX=/opt/cstapopup-root ./install.sh installs elsewhere (default: ~/.local).
# The autostart entry is the same file the app's settings switch writes
# (~/.config/autostart/cstapopup.desktop), so either side can turn it off.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
case "$config_home" in /*) ;; *) config_home=$HOME/.config ;; esac

appdir=$prefix/lib/cstapopup
bindir=$prefix/bin
menu=$prefix/share/applications/cstapopup.desktop
iconsdir=$prefix/share/icons/hicolor
autostart=$config_home/autostart/cstapopup.desktop

autostart_wanted=no
action=install
for arg in "$@"; do
    case "$arg" in
        --autostart) autostart_wanted=yes ;;
        --uninstall) action=uninstall ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
    esac
done

refresh_caches() {
    command -v update-desktop-database >/dev/null 2>&1 \
        && update-desktop-database -q "$prefix/share/applications" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 \
        && gtk-update-icon-cache -q -t "$iconsdir" 2>/dev/null || true
}

if [ "$action" = uninstall ]; then
    rm -rf "$appdir"
    # Only our own links and entries: never a cstapopup that is not ours.
    if [ -L "$bindir/cstapopup" ]; then rm -f "$bindir/cstapopup"; fi
    rm -f "$menu" "$iconsdir/scalable/apps/cstapopup.svg" "$iconsdir/256x256/apps/cstapopup.png"
    if [ -f "$autostart" ] && grep -q "^Exec=.*$appdir/cstapopup" "$autostart"; then
        rm -f "$autostart"
    fi
    refresh_caches
    echo "cstapopup removed from $prefix"
    exit 0
fi

if [ ! -x "$here/cstapopup/cstapopup" ]; then
    echo "install.sh: $here/cstapopup/cstapopup not found; run me from the unpacked archive" >&2
    exit 1
fi

# A running copy keeps its files open; replacing them under it is safe on Linux, but the
# new version only runs after a restart of the app.
mkdir -p "$prefix/lib" "$bindir" "$(dirname "$menu")" "$iconsdir/scalable/apps"
tmp=$(mktemp -d "$prefix/lib/.cstapopup-new.XXXXXX")
cp -a "$here/cstapopup/." "$tmp/"
rm -rf "$appdir"
mv "$tmp" "$appdir"
ln -sfn "$appdir/cstapopup" "$bindir/cstapopup"

# Desktop Entry spec: an argument with spaces or quotes goes in double quotes, with \ " ` $
# escaped; the key file format then doubles each backslash.
exec_quoted=$(printf '%s' "$appdir/cstapopup" | sed -e 's/[\\"`$]/\\&/g' -e 's/\\/\\\\/g')
exec_line="\"$exec_quoted\""
sed_exec=$(printf '%s' "$exec_line" | sed -e 's/[\\&|]/\\&/g')
sed "s|@EXEC@|$sed_exec|" "$here/share/cstapopup.desktop.in" > "$menu"
cp "$here/share/cstapopup.svg" "$iconsdir/scalable/apps/cstapopup.svg"
if [ -f "$here/share/cstapopup-256.png" ]; then
    mkdir -p "$iconsdir/256x256/apps"
    cp "$here/share/cstapopup-256.png" "$iconsdir/256x256/apps/cstapopup.png"
fi
if [ "$autostart_wanted" = yes ]; then
    mkdir -p "$(dirname "$autostart")"
    sed "s|@EXEC@|$sed_exec|" "$here/share/cstapopup-autostart.desktop.in" > "$autostart"
fi
refresh_caches

echo "cstapopup installed in $appdir"
echo "  menu entry: $menu"
[ "$autostart_wanted" = yes ] && echo "  starts at login: $autostart"
case ":$PATH:" in
    *":$bindir:"*) ;;
    *) echo "  note: $bindir is not on your PATH; the menu entry works regardless" ;;
esac
