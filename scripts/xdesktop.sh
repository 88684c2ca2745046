# A desktop for screenshots, sourced by the screenshot scripts (POSIX sh): Xvfb on
# $DISPLAY_NUM, the openbox window manager and a trayer system tray along the bottom, with its
# 30 px reserved as a panel's.  Needs $WORK (a folder for the logs); the processes it starts
# are added to $PIDS, which the caller's `stop` (below, on EXIT) ends and waits for.
#
# Needs: Xvfb openbox trayer xdotool xprop xsetroot.

PIDS=${PIDS:-}

stop() {
    for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
    for pid in $PIDS; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap stop EXIT INT TERM

export DISPLAY=$DISPLAY_NUM
Xvfb "$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
PIDS="$!"
sleep 1
openbox >"$WORK/openbox.log" 2>&1 &
PIDS="$! $PIDS"
sleep 1
xsetroot -solid '#5b7a93'
trayer --edge bottom --align right --widthtype percent --width 100 --height 30 \
    --tint 0x3c3f41 --transparent true --alpha 0 >"$WORK/trayer.log" 2>&1 &
PIDS="$! $PIDS"
sleep 1
# trayer 1.1.8 announces a dock but no strut here: reserve its 30 px so that the work area
# (and the popups' corner) ends above it, as on a desktop with a panel.
PANEL=$(xdotool search --name '^panel$' | head -1)
xprop -id "$PANEL" -f _NET_WM_STRUT_PARTIAL 32c \
    -set _NET_WM_STRUT_PARTIAL "0, 0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 1279"
xprop -id "$PANEL" -f _NET_WM_STRUT 32c -set _NET_WM_STRUT "0, 0, 0, 30"
