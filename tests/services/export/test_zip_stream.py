"""ZipStream (src/services/export/zip_stream.py): entries read back by zipfile with their
CRCs checked, a streamed entry deflated in its thread, its failures raised in the caller,
and zip64 offsets past 4 GiB."""

from __future__ import annotations

import errno
import io
import os
import threading
import zipfile
from pathlib import Path

import pytest

from src.services.export.zip_stream import ZipStream


def test_entries_read_back_with_their_checksums(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    chunks = [os.urandom(1000).hex().encode() * (i + 1) for i in range(30)]
    with path.open("wb") as f:
        z = ZipStream(f, 4)
        z.writestr("first.xml", b"<a/>")
        stream = z.open("big/sheet1.xml")
        for chunk in chunks:
            stream.write(chunk)
        stream.close()
        z.writestr("empty", b"")
        z.close()
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None  # every CRC matches
        assert zf.namelist() == ["first.xml", "big/sheet1.xml", "empty"]
        assert zf.read("big/sheet1.xml") == b"".join(chunks)
        assert zf.read("empty") == b"" and zf.read("first.xml") == b"<a/>"
        info = zf.getinfo("big/sheet1.xml")
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.flag_bits & 0x08 == 0


class FailingFile(io.BytesIO):
    """A file whose writes fail with ENOSPC once ``limit`` bytes are written."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.tell() + len(data) > self.limit:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


def test_a_failed_write_in_the_thread_is_raised_in_the_caller() -> None:
    z = ZipStream(FailingFile(5000), 1)
    stream = z.open("sheet.xml")
    with pytest.raises(OSError) as caught:
        for _ in range(200):
            stream.write(os.urandom(2000))
        stream.close()
    assert caught.value.errno == errno.ENOSPC
    z.abandon()
    assert not [t for t in threading.enumerate() if t.name == "zip-deflate"]


def test_abandon_stops_the_thread_without_finishing(tmp_path: Path) -> None:
    with (tmp_path / "x.zip").open("wb") as f:
        z = ZipStream(f, 4)
        stream = z.open("sheet.xml")
        stream.write(b"<row/>" * 1000)
        z.abandon()
        assert not [t for t in threading.enumerate() if t.name == "zip-deflate"]
        with pytest.raises(ValueError, match="closed"):
            z.writestr("more", b"")


def test_one_entry_at_a_time(tmp_path: Path) -> None:
    z = ZipStream(io.BytesIO(), 4)
    stream = z.open("a")
    with pytest.raises(ValueError, match="still open"):
        z.writestr("b", b"")
    with pytest.raises(ValueError, match="still open"):
        z.close()
    stream.close()
    z.close()


def test_offsets_past_4_gib_use_zip64_records(tmp_path: Path) -> None:
    path = tmp_path / "far.zip"
    with path.open("wb") as f:
        f.seek(4 * 2**30 + 100)  # a sparse file: nothing is written before the entries
        z = ZipStream(f, 4)
        z.writestr("a.xml", b"<a/>")
        stream = z.open("b.xml")
        stream.write(b"<b/>" * 100)
        stream.close()
        z.close()
    with zipfile.ZipFile(path) as zf:  # zipfile finds the entries through the zip64 records
        assert zf.read("a.xml") == b"<a/>" and zf.read("b.xml") == b"<b/>" * 100
        assert zf.getinfo("b.xml").header_offset > 2**32
