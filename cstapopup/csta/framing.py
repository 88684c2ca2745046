"""The Siemens CSTA frame: a 3-byte header (0x26, then 0x8000 | length) before each BER APDU.

`FrameReader` reassembles APDUs from a byte stream split or coalesced in any way; `frame()`
writes one.  No I/O here.
"""

from __future__ import annotations

FRAME_MARK = 0x26
HEADER_SIZE = 3
LENGTH_FLAG = 0x8000
#: The largest APDU the length field can carry.
MAX_FRAME_LENGTH = 0x7FFF
#: The default limit on an incoming APDU: HiPath frames are far smaller; this bounds memory.
DEFAULT_MAX_LENGTH = 8192


class FramingError(Exception):
    """The byte stream cannot be read as frames.  The connection must be closed."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        #: Offset of the offending byte in the stream since the reader was created.
        self.offset = offset
        #: Whole frames read in the same call before the error.
        self.frames: list[bytes] = []


class OutOfSyncError(FramingError):
    """A frame header did not start with 0x26: there is no way to resynchronise."""


class FrameTooLargeError(FramingError):
    """A frame announced a length above the reader's limit."""


def frame(apdu: bytes, max_length: int = MAX_FRAME_LENGTH) -> bytes:
    """Put one APDU in a frame."""
    n = len(apdu)
    if n > min(max_length, MAX_FRAME_LENGTH):
        raise ValueError(f"APDU of {n} bytes is larger than the frame limit {max_length}")
    word = LENGTH_FLAG | n
    return bytes((FRAME_MARK, word >> 8, word & 0xFF)) + apdu


class FrameReader:
    """Incremental frame reassembly: feed bytes of any split, take whole APDUs."""

    __slots__ = ("_buffer", "_consumed", "_error", "max_length")

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        self._buffer = bytearray()
        self._consumed = 0  # bytes taken out of the stream so far (for error offsets)
        self.max_length = max_length
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the APDUs they complete, in order.

        Raises a FramingError once the stream is out of sync (and again on every later call).
        The whole frames that came before the bad header are on the error's `frames`.
        """
        if self._error is not None:
            raise self._error
        buf = self._buffer
        buf += data
        frames: list[bytes] = []
        pos = 0
        error: FramingError | None = None
        while len(buf) - pos >= HEADER_SIZE:
            if buf[pos] != FRAME_MARK:
                error = OutOfSyncError(
                    f"frame header expected 0x26 at stream offset {self._consumed + pos}, "
                    f"found 0x{buf[pos]:02x}",
                    self._consumed + pos,
                )
                break
            length = ((buf[pos + 1] << 8) | buf[pos + 2]) & MAX_FRAME_LENGTH
            if length > self.max_length:
                error = FrameTooLargeError(
                    f"frame of {length} bytes at stream offset {self._consumed + pos} "
                    f"exceeds the limit of {self.max_length}",
                    self._consumed + pos,
                )
                break
            end = pos + HEADER_SIZE + length
            if len(buf) < end:
                break
            frames.append(bytes(buf[pos + HEADER_SIZE : end]))
            pos = end
        if pos:
            del buf[:pos]
            self._consumed += pos
        if error is not None:
            error.frames = frames
            self._error = error
            buf.clear()
            raise error
        return frames
