"""Test configuration: Qt offscreen, a private cache and data dir, no real keyring."""

import os
import tempfile

# Set before anything imports Qt: without a display Qt would abort the whole run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The app speaks the system's language: the tests read English whatever the machine's locale
# (the German tests install German themselves, and their subprocesses set their own locale).
for _variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)
os.environ["LANG"] = "C.UTF-8"
os.environ.setdefault("CSTAPOPUP_CACHE_DIR", tempfile.mkdtemp(prefix="cstapopup-test-cache-"))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
# Never touch the user's real history or settings from a test.
os.environ.setdefault("CSTAPOPUP_DATA_DIR", tempfile.mkdtemp(prefix="cstapopup-test-data-"))
os.environ.setdefault("CSTAPOPUP_CONFIG_DIR", tempfile.mkdtemp(prefix="cstapopup-test-config-"))

# The library keeps no compiled spec unless told (the CLI tells it to use the cache dir
# above); the in-process tests share that cache with the CLI processes they start.
from cstapopup.csta import codec

codec.configure(cache_dir=os.environ["CSTAPOPUP_CACHE_DIR"])


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _english_again():
    """A test that switched the language (German UI tests) leaves English behind, even when
    it fails half-way."""
    yield
    from cstapopup import i18n

    if i18n.language() != "en" or i18n.translating():
        from cstapopup.ui import language

        language.install("en")
