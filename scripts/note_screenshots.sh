#!/bin/sh
# The phone note screenshot of the README, taken from the real app (`cstapopup --demo`) on a
# real X server: Xvfb with the openbox window manager and a trayer system tray, driven with
# xdotool as a receptionist would: the console answers the demo's welcome call (F3), Ctrl+N
# opens the note about it (the popup's "Note…", Alt+N, does the same; F2 would hand the
# keyboard to a popup still ringing, if a demo call rings meanwhile), "tom" + Down + Enter
# chooses the colleague, Alt+C (callback wanted), Alt+T and the text.  Then the shot, and
# Ctrl+Enter saves.  It starts
# each of those itself, on its own display (default :91), and stops exactly the processes it
# started.
#
#   scripts/note_screenshots.sh [DISPLAY] [OUT_DIR] [LANGUAGE]     # LANGUAGE: en (default), de
#
# Needs: Xvfb openbox trayer xdotool xprop xsetroot import (ImageMagick).
set -eu

DISPLAY_NUM=${1:-:91}
OUT=${2:-docs/screenshots}
LANGUAGE=${3:-en}
PYTHON=${PYTHON:-.venv/bin/python}
WORK=$(mktemp -d /tmp/cstapopup-note-shots.XXXXXX)
. "$(dirname "$0")/xdesktop.sh"  # Xvfb, openbox, trayer; `stop` on exit

mkdir -p "$WORK/config" "$WORK/data" "$WORK/cache" "$OUT"
if [ "$LANGUAGE" = de ]; then
    printf '[app]\nlanguage = "de"\n' >"$WORK/config/config.toml"
    TEXT="Möchte das Angebot für die Wartung bis Freitag; bitte zurückrufen."
    CALLBACK=alt+r                       # &Rückruf erwünscht (Alt+C is Abbre&chen)
    CONSOLE=v                            # &Vermittlungsplatz
else
    TEXT="Wants the maintenance offer by Friday; please call back."
    CALLBACK=alt+c                       # &Callback wanted
    CONSOLE=o                            # C&onsole
fi
SHOT=note.png
CSTAPOPUP_CONFIG_DIR="$WORK/config" CSTAPOPUP_DATA_DIR="$WORK/data" \
    CSTAPOPUP_CACHE_DIR="$WORK/cache" "$PYTHON" -m cstapopup --demo --seed "${SEED:-18}" \
    >"$WORK/app.log" 2>&1 &
APP=$!
PIDS="$APP $PIDS"
START=$(date +%s)

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
until_second() {   # wait until $1 seconds after the app started
    while [ $(( $(date +%s) - START )) -lt "$1" ]; do sleep 0.2; done
}
active() {   # wait (up to 5 s) until the active window's title matches $1, else fail
    for _ in $(seq 25); do
        xdotool getactivewindow getwindowname 2>/dev/null | grep -Eq "$1" && return 0
        sleep 0.2
    done
    echo "the active window is not \"$1\" but \"$(xdotool getactivewindow getwindowname)\""
    cat "$WORK/app.log"
    exit 1
}

sleep 1.5
xdotool mousemove "$IX" "$IY" click 3    # the tray menu
sleep 0.8
xdotool key "$CONSOLE"                   # the console
active "Console|Vermittlungsplatz"
until_second 4                           # the demo's welcome call rings at 100
sleep 0.5
xdotool key F3                           # answer it
sleep 1.5
xdotool key ctrl+n                       # a note about the own phone's call
active "^(Phone note|Telefonnotiz)"
sleep 0.5
xdotool type --delay 150 tom
sleep 0.8
xdotool key Down Return                  # Tom Keller (102), his address from the phone book
sleep 0.6
xdotool key "$CALLBACK"                 # callback wanted
sleep 0.4
xdotool key alt+t
xdotool type --delay 40 "$TEXT"
sleep 0.8
# The whole screen: the console, the popup in its corner and the note over them.
import -window root "$WORK/screen.png"
cp "$WORK/screen.png" "$OUT/$SHOT"
xdotool key ctrl+Return                  # save
sleep 1.0
grep -i "error\|traceback" "$WORK/app.log" && { echo "the app complained"; exit 1; }
kill "$APP"
wait "$APP" || true
echo "screenshot in $OUT/$SHOT"
