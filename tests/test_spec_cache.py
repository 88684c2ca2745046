"""The compiled ASN.1 spec on disk (cstapopup/csta/speccache.py, codec.load_spec): written only
where configured, read only from places nobody else can write, checked before unpickling."""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import stat
from pathlib import Path

import pytest

from cstapopup.csta import codec, speccache

pytestmark = pytest.mark.skipif(os.name != "posix", reason="owners and modes are POSIX's")

APDU = bytes.fromhex("A10C020101020200D330030A0102")


class Marker:
    """Unpickling this touches a file: proof that a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


@pytest.fixture
def compiles(monkeypatch) -> list[str]:
    """Counts real compilations."""
    calls: list[str] = []
    real = codec.compile_spec

    def counted(tag_form: str = "hipath"):
        calls.append(tag_form)
        return real(tag_form)

    monkeypatch.setattr(codec, "compile_spec", counted)
    return calls


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setattr(codec, "_cache_dir", folder)
    return folder


def spec_file(folder: Path) -> Path:
    (path,) = folder.glob("asn1-spec-*.spec")
    return path


def planted(folder: Path, payload: bytes) -> Path:
    """A file with the right name, header and checksum around `payload`."""
    key = codec._spec_file_key("hipath")
    path = folder / speccache.file_name("asn1-spec", key)
    path.write_bytes(b"".join((speccache.MAGIC, key.encode(), b"\n",
                               __import__("hashlib").sha256(payload).hexdigest().encode(),
                               b"\n", payload)))
    return path


def test_without_configuration_nothing_is_written(tmp_path, monkeypatch, compiles):
    monkeypatch.setattr(codec, "_cache_dir", None)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CSTAPOPUP_CACHE_DIR", str(tmp_path / "env"))
    before = sorted(p.name for p in codec.asn1_dir().iterdir())
    assert "DecodeOrderedDeliveredEvent" in codec.load_spec()._types
    assert compiles == ["hipath"]
    assert list(tmp_path.iterdir()) == []
    assert sorted(p.name for p in codec.asn1_dir().iterdir()) == before


def test_a_configured_cache_is_private_and_used(cache, compiles):
    codec.load_spec()
    path = spec_file(cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert codec.load_spec()._types.keys() == codec.spec()._types.keys()
    assert compiles == ["hipath"]                 # the second load read the file


def test_a_folder_of_ours_that_others_could_write_is_not_read_and_made_private(
        cache, compiles, caplog):
    codec.load_spec()
    cache.chmod(0o777)
    with caplog.at_level(logging.WARNING, "cstapopup.csta.codec"):
        codec.load_spec()
    assert compiles == ["hipath", "hipath"]
    assert "open to others (mode 777)" in caplog.text
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700    # narrowed when written again
    codec.load_spec()
    assert len(compiles) == 2


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_a_file_others_can_write_is_not_read(cache, compiles, caplog, mode):
    codec.load_spec()
    spec_file(cache).chmod(mode)
    with caplog.at_level(logging.WARNING, "cstapopup.csta.codec"):
        codec.load_spec()
    assert len(compiles) == 2
    assert "writable by others" in caplog.text


def test_a_pickle_in_an_untrusted_place_is_never_loaded(cache, tmp_path, compiles, caplog):
    """The point of the checks: a valid-looking file with a payload that runs code."""
    cache.mkdir(mode=0o700)
    marker = tmp_path / "ran"
    for mode in (0o777, 0o770, 0o755):     # a shared folder, a group's, readable by all
        cache.chmod(mode)
        planted(cache, pickle.dumps(Marker(marker)))
        codec.load_spec()
        assert not marker.exists()
    # Not owned by this user (as if another user made it): refused as well.
    cache.chmod(0o700)
    planted(cache, pickle.dumps(Marker(marker)))
    real_getuid = os.getuid
    try:
        os.getuid = lambda: real_getuid() + 4242
        assert codec.load_spec() is not None
    finally:
        os.getuid = real_getuid
    assert not marker.exists()
    assert "belongs to user id" in caplog.text
    # The same file where only we can write it is loaded (the checks are what stopped it).
    planted(cache, pickle.dumps(Marker(marker))).chmod(0o600)
    codec.load_spec()
    assert marker.exists()


def test_a_symbolic_link_is_not_followed(cache, tmp_path, compiles, caplog):
    codec.load_spec()
    path = spec_file(cache)
    elsewhere = tmp_path / "elsewhere.spec"
    shutil.move(path, elsewhere)
    path.symlink_to(elsewhere)
    with caplog.at_level(logging.WARNING, "cstapopup.csta.codec"):
        codec.load_spec()
    assert len(compiles) == 2
    assert str(path) in caplog.text
    # The cache folder itself as a link: refused too.
    real = tmp_path / "real-cache"
    shutil.move(cache, real)
    cache.symlink_to(real)
    caplog.clear()
    with caplog.at_level(logging.WARNING, "cstapopup.csta.codec"):
        codec.load_spec()
    assert len(compiles) == 3
    assert "not a folder" in caplog.text


@pytest.mark.parametrize("damage", ["flip", "truncate", "other key", "not ours"])
def test_a_damaged_or_foreign_file_is_compiled_again_and_replaced(cache, compiles, caplog,
                                                                   damage):
    codec.load_spec()
    path = spec_file(cache)
    data = path.read_bytes()
    if damage == "flip":
        data = data[:-100] + bytes([data[-100] ^ 0x01]) + data[-99:]
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "other key":
        header, rest = data[len(speccache.MAGIC):].split(b"\n", 1)
        data = speccache.MAGIC + b"0" * len(header) + b"\n" + rest
    else:
        data = b"\x80\x04 a pickle without our header"
    path.write_bytes(data)
    with caplog.at_level(logging.WARNING, "cstapopup.csta.codec"):
        codec.load_spec()
    assert len(compiles) == 2
    assert "ignoring the ASN.1 spec cache" in caplog.text
    codec.load_spec()
    assert len(compiles) == 2                   # the file was written anew


def test_files_of_other_versions_are_removed_and_the_other_tag_form_kept(cache, compiles):
    cache.mkdir(mode=0o700)
    old = [cache / "asn1-spec-0123456789abcdef01234567.pickle",
           cache / "asn1-spec-00000000000000000000000a.spec"]
    for path in old:
        path.write_bytes(b"old")
    keep = cache / "notes.txt"
    keep.write_text("not ours")
    codec.load_spec(tag_form="alternate")
    codec.load_spec()
    names = sorted(p.name for p in cache.iterdir())
    assert len(names) == 3 and "notes.txt" in names
    assert sum(n.startswith("asn1-spec-alternate-") for n in names) == 1
    assert not any(p.exists() for p in old)


def test_the_spec_shipped_beside_the_modules_is_used_when_nobody_else_can_write_it(
        tmp_path, monkeypatch, compiles):
    """What packaging/cstapopup.spec ships: save_spec() beside the .asn files."""
    shipped = tmp_path / "bundle" / "asn1"
    shipped.mkdir(parents=True)
    for name in codec.ASN1_FILES:
        shutil.copy2(codec.asn1_dir() / name, shipped / name)
    monkeypatch.setattr(codec, "asn1_dir", lambda: shipped)
    monkeypatch.setattr(codec, "_cache_dir", None)
    saved = codec.save_spec(tmp_path / "build")
    saved.chmod(0o644)
    shutil.copy2(saved, shipped / saved.name)
    shipped.chmod(0o755)
    compiles.clear()
    assert type(codec.load_spec().decode("ROSEapdu", APDU)) is tuple
    assert compiles == []
    shipped.chmod(0o775)                         # a group may write the install: not used
    codec.load_spec()
    assert compiles == ["hipath"]


def test_save_spec_and_load_spec_agree_on_the_key(tmp_path, monkeypatch, compiles):
    """The name and header packaging writes are the ones load_spec looks for."""
    folder = tmp_path / "c"
    saved = codec.save_spec(folder)
    monkeypatch.setattr(codec, "_cache_dir", folder)
    compiles.clear()
    codec.load_spec()
    assert compiles == [] and spec_file(folder) == saved
