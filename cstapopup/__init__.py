"""cstapopup: call popup and call history for Siemens HiPath / OpenScape PBXs (CSTA Phase III)."""

__version__ = "0.1.0"
#: The name of the app's folders, files and entries (config, cache, keyring, login item).
APP_NAME = "cstapopup"
