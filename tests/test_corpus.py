"""Every case of the byte corpus (tests/corpus/*.json) decodes to its expected normalised form,
through the codec and through `cstapopup decode`; re-encoding a PBX's (or a known client's)
bytes gives the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cstapopup import cli
from cstapopup.commands.decode import describe, split_apdus
from cstapopup.csta import codec, framing

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*.json"))
SOURCES = {"captured", "known-good", "layout", "constructed"}


def load(path: Path) -> tuple[dict, bytes]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return doc, bytes.fromhex("".join(" ".join(doc["hex"]).split()))


def test_the_corpus_is_there():
    assert len(CASES) >= 20
    names = {p.stem for p in CASES}
    assert {"transferred-hipath", "transferred-other-forms", "delivered-531-548"} <= names


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case_decodes_to_its_expected_form(path):
    doc, data = load(path)
    assert doc["source"] in SOURCES and doc["from"] and doc["note"]
    apdus = split_apdus(data)
    assert len(apdus) == len(doc["expected"]), "one expected object per APDU"
    for (offset, apdu), expected in zip(apdus, doc["expected"]):
        if offset >= framing.HEADER_SIZE and data[offset - 3] == framing.FRAME_MARK:
            assert data[offset - 3:offset] == framing.frame(apdu)[:3], "frame header"
        decoded = codec.decode_apdu(apdu)
        assert describe(decoded) == expected
        if doc["source"] != "constructed":
            # A PBX's bytes, or a client's that a PBX takes: our encoder writes them alike.
            assert codec.encode_apdu(decoded) == apdu


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case_through_cstapopup_decode(path, capsys):
    doc, data = load(path)
    assert cli.main(["decode", data.hex(" ")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == doc["expected"]


def test_the_hipath_transferred_is_312_bytes_with_header_26_81_38():
    _, data = load(CORPUS / "transferred-hipath.json")
    assert len(data) == 312 and framing.frame(data)[:3] == bytes.fromhex("268138")
    # its invoke id takes 3 bytes, as in the capture
    assert data[4:9] == bytes.fromhex("0203012f9a")
