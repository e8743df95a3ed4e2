"""A request-body stream that serves bytes already read ahead, then the rest of the
original stream, so the body can be recorded before the app runs without the app
seeing any less of it."""

from __future__ import annotations

from typing import BinaryIO, Iterator, List, Optional, Tuple


def read_ahead(stream: BinaryIO, want: int) -> Tuple[bytes, Optional[BaseException]]:
    """Reads up to ``want`` bytes (fewer only at the end of the stream). A read that
    fails keeps what came before and returns the error, for the app to meet in turn."""
    chunks: List[bytes] = []
    got = 0
    while got < want:
        try:
            chunk = stream.read(want - got)
        except Exception as e:  # The app gets the same error where it would have.
            return b"".join(chunks), e
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks), None


class ReplayStream:
    """``prefix`` first, then ``original``; at most ``remaining`` more bytes of
    ``original`` when the body's length is known (its Content-Length less the prefix),
    so a read past the body returns b"" rather than waiting on the connection."""

    def __init__(self, prefix: bytes, original: BinaryIO, remaining: Optional[int],
                 error: Optional[BaseException] = None):
        self._prefix = prefix
        self._pos = 0
        self._original = original
        self._remaining = remaining
        self._error = error

    def _rest_of_prefix(self, size: int) -> bytes:
        end = len(self._prefix) if size < 0 else min(len(self._prefix), self._pos + size)
        out = self._prefix[self._pos:end]
        self._pos = end
        return out

    def _allowed(self, size: int) -> int:
        """How many bytes the original may still be asked for (-1: no bound)."""
        if self._remaining is None:
            return size
        return self._remaining if size < 0 else min(size, self._remaining)

    def _from_original(self, read, size: int) -> bytes:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        allowed = self._allowed(size)
        if allowed == 0:
            return b""
        data = read(allowed) if allowed > 0 else read()
        if self._remaining is not None:
            self._remaining -= len(data)
        return data

    def read(self, size: Optional[int] = -1) -> bytes:
        """Reads up to ``size`` bytes (all that is left when negative or None)."""
        size = -1 if size is None else size
        head = self._rest_of_prefix(size)
        if size >= 0 and len(head) == size:
            return head
        more = self._from_original(self._original.read, -1 if size < 0 else size - len(head))
        return head + more

    def readline(self, size: Optional[int] = -1) -> bytes:
        """Reads one line, with its newline, of at most ``size`` bytes when given."""
        size = -1 if size is None else size
        end = self._prefix.find(b"\n", self._pos)
        if end >= 0 and (size < 0 or end + 1 - self._pos <= size):
            return self._rest_of_prefix(end + 1 - self._pos)
        head = self._rest_of_prefix(size)
        if (size >= 0 and len(head) == size) or (head.endswith(b"\n")):
            return head
        more = self._from_original(self._original.readline, -1 if size < 0 else size - len(head))
        return head + more

    def readlines(self, hint: int = -1) -> List[bytes]:
        """Reads lines until ``hint`` bytes have been read (all lines when negative)."""
        lines: List[bytes] = []
        total = 0
        while hint is None or hint < 0 or total < hint:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self) -> None:
        """Closes the original stream when it can be closed."""
        close = getattr(self._original, "close", None)
        if close is not None:
            close()
