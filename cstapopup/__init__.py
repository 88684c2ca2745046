"""cstapopup: call popup and call history for Siemens HiPath / OpenScape PBXs (CSTA Phase III)."""

__version__ = "0.1.0"
