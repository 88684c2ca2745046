"""PyInstaller run-time hook: on a Wayland desktop, go straight to Qt's xcb platform (XWayland)
unless the user chose a platform.

The bundle carries no Wayland platform plugin (bundle_plan.QT_PLUGINS_KEPT: the call popup
must place itself in a screen corner, which Wayland does not let a client do), so Qt would
look for it first, print "Could not find the Qt platform plugin "wayland"" and then fall back
to xcb.  Only when an X server (XWayland) is there too: otherwise nothing is changed, and
whatever the app or the user chose (e.g. offscreen) applies.
"""

import os
import sys

if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
        and os.environ.get("WAYLAND_DISPLAY") and os.environ.get("DISPLAY")):
    os.environ["QT_QPA_PLATFORM"] = "xcb"
