"""phonenumbers, without the databases cstapopup never reads (see bundle_plan.EXCLUDES).

Replaces the community hook, which names every submodule: the region metadata modules are
imported lazily by name and must be listed, but naming the excluded geocoder, carrier and
time-zone data too only fills the build log with "hidden import not found" warnings.
"""

import sys
from pathlib import Path

from PyInstaller.utils.hooks import collect_submodules

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bundle_plan import EXCLUDES  # noqa: E402

_excluded = tuple(name for name in EXCLUDES if name.startswith("phonenumbers."))

hiddenimports = collect_submodules(
    "phonenumbers",
    filter=lambda name: not any(name == x or name.startswith(x + ".") for x in _excluded),
)
