"""The real or known-good bytes of the protocol facts, by name, for the tests that use them.

The bytes live in the corpus (tests/corpus/*.json, with their source and expected decode);
this only names some of them.  APDUs without the frame header, except the *_FRAME ones.
"""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"


def h(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def corpus_bytes(name: str) -> bytes:
    """All the bytes of one corpus case (as stored: frame headers included where given)."""
    doc = json.loads((CORPUS / f"{name}.json").read_text(encoding="utf-8"))
    return h(" ".join(doc["hex"]))


AARQ_AMHOST_FRAME = corpus_bytes("aarq-amhost")
ABRT = corpus_bytes("abrt")
AARE_LAYOUT = corpus_bytes("aare-layout")
MONITOR_START_100_FRAME = corpus_bytes("monitor-start-100")
MONITOR_START_RESULT = corpus_bytes("monitor-start-result")
MONITOR_STOP = corpus_bytes("monitor-stop")
MONITOR_STOP_RESULT = corpus_bytes("monitor-stop-result")
SYSTEM_STATUS = corpus_bytes("system-status")
SYSTEM_STATUS_RESULT = corpus_bytes("system-status-result")
MAKE_CALL_FRAME = corpus_bytes("make-call-664-535")
MAKE_CALL_RESULT = corpus_bytes("make-call-result")
DELIVERED = corpus_bytes("delivered-531-548")
CONNECTION_CLEARED = corpus_bytes("connection-cleared-b164")
ERROR_INVALID_MONITOR_OBJECT = corpus_bytes("error-invalid-monitor-object")
# Hookswitch (physical device feature [3] / hookswitch [3]) for 548, off hook, as in §6.
HOOKSWITCH_548_OFF = corpus_bytes("hookswitch-548-off")
#: The Transferred event a HiPath sends (protocol facts §6), and the same in the other forms.
TRANSFERRED_HIPATH = corpus_bytes("transferred-hipath")
TRANSFERRED_OTHER_FORMS = corpus_bytes("transferred-other-forms")
