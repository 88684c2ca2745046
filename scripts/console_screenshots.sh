#!/bin/sh
# The console screenshots of the README, taken from the real app (`cstapopup --demo`) on a real
# X server: Xvfb with the openbox window manager and a trayer system tray, driven with xdotool
# as a receptionist would (tray menu, keys).  It starts each of those itself, on its own display
# (default :57), and stops exactly the processes it started.
#
#   scripts/console_screenshots.sh [DISPLAY] [OUT_DIR]
#
# Needs: Xvfb openbox trayer xdotool xprop xsetroot import (ImageMagick).
set -eu

DISPLAY_NUM=${1:-:57}
OUT=${2:-docs/screenshots}
PYTHON=${PYTHON:-.venv/bin/python}
WORK=$(mktemp -d /tmp/cstapopup-shots.XXXXXX)
. "$(dirname "$0")/xdesktop.sh"  # Xvfb, openbox, trayer; `stop` on exit

mkdir -p "$WORK/config" "$WORK/data" "$WORK/cache"
CSTAPOPUP_CONFIG_DIR="$WORK/config" CSTAPOPUP_DATA_DIR="$WORK/data" \
    CSTAPOPUP_CACHE_DIR="$WORK/cache" "$PYTHON" -m cstapopup --demo --seed 7 \
    >"$WORK/app.log" 2>&1 &
APP=$!
PIDS="$APP $PIDS"
START=$(date +%s)

# The tray icon: the small window cstapopup put into the panel.
tray_icon() {
    for w in $(xdotool search --class cstapopup 2>/dev/null); do
        eval "$(xdotool getwindowgeometry --shell "$w")"
        if [ "$HEIGHT" -le 32 ] && [ "$Y" -ge 760 ]; then echo "$X $Y $WIDTH $HEIGHT"; return; fi
    done
}
ICON=""
for _ in $(seq 50); do ICON=$(tray_icon); [ -n "$ICON" ] && break; sleep 0.2; done
[ -n "$ICON" ] || { echo "no tray icon"; cat "$WORK/app.log"; exit 1; }
set -- $ICON
IX=$(( $1 + $3 / 2 )); IY=$(( $2 + $4 / 2 ))

menu() {   # the tray menu, then a key of it
    xdotool mousemove "$IX" "$IY" click 3
    sleep 0.8
}
shot() {   # the whole screen
    import -window root "$OUT/$1"
}
window_shot() {   # one window, by title (a regular expression)
    WINDOW=$(xdotool search --name "$2" | head -1)
    [ -n "$WINDOW" ] || { echo "no window named $2"; exit 1; }   # import would wait for a click
    import -frame -window "$WINDOW" "$OUT/$1"
}
until_second() {   # wait until $1 seconds after the app started
    while [ $(( $(date +%s) - START )) -lt "$1" ]; do sleep 0.2; done
}

sleep 1.5
menu
xdotool key o              # C&onsole
sleep 1.2
until_second 4             # the demo's welcome call rings at 100 three seconds in
sleep 0.5
xdotool key F3             # answer it
sleep 0.8
xdotool type --delay 120 anna
xdotool key ctrl+Return    # consult Anna first: the caller waits on hold
sleep 5.5                  # Anna's (simulated) phone answers after 4 s
shot console-consulting.png
xdotool key F1
sleep 0.5
window_shot console-help.png "Console \\(demo\\)"
xdotool key F1
xdotool key F6             # complete the transfer
sleep 1.5
window_shot console-transferred.png "Console \\(demo\\)"
menu
xdotool key l              # Co&lleagues
sleep 0.8
shot tray-colleagues.png
xdotool key Escape Escape
sleep 0.3
kill "$APP"
wait "$APP" || true
echo "screenshots in $OUT"
