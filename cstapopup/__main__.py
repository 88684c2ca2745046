"""Allows `python -m cstapopup`."""

from cstapopup.cli import main

raise SystemExit(main())
