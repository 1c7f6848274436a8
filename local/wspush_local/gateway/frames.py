"""What API Gateway checks on every frame a client sends, before a message is assembled.

API Gateway accepts frames of up to 32 KB, and messages (a text frame and its
continuation frames) of up to 128 KB; a larger frame or message closes the connection
with 1009. It refuses binary frames and closes with 1003. aiohttp only sees whole
messages, so ``FrameGuard`` sits between the connection and aiohttp's frame parser: it
reads each frame's header as the bytes arrive, passes allowed frames on untouched, and
drops a refused frame (and every data frame after it) while still passing control
frames, so the close handshake completes normally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSCloseCode, web

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
_DATA_OPCODES = (OP_CONTINUATION, OP_TEXT, OP_BINARY)

# Called once, with the close code and reason, when the client breaks a limit.
Refuse = Callable[[int, str], None]


@dataclass(frozen=True)
class FrameLimits:
    max_frame_bytes: int = 32 * 1024
    max_message_bytes: int = 128 * 1024


def _header_length(header: bytes | bytearray) -> int:
    """The full header length, known from its first two bytes."""
    length_flag = header[1] & 0x7F
    extended = 2 if length_flag == 126 else 8 if length_flag == 127 else 0
    mask = 4 if header[1] & 0x80 else 0
    return 2 + extended + mask


def _payload_length(header: bytes | bytearray) -> int:
    length_flag = header[1] & 0x7F
    if length_flag == 126:
        return int.from_bytes(header[2:4], "big")
    if length_flag == 127:
        return int.from_bytes(header[2:10], "big")
    return length_flag


class FrameGuard:
    """A parser in front of aiohttp's WebSocket reader (same ``feed_data``/``feed_eof``)."""

    def __init__(self, parser: Any, limits: FrameLimits, refuse: Refuse) -> None:
        self._parser = parser
        self._limits = limits
        self._refuse = refuse
        self._header = bytearray()
        self._payload_left = 0  # bytes of the current frame's payload still to come
        self._passing = True  # whether the current frame goes on to the parser
        self._message_bytes = 0
        self.refused = False

    def feed_eof(self) -> None:
        self._parser.feed_eof()

    def feed_data(self, data: bytes | bytearray | memoryview) -> tuple[bool, bytes]:
        data = bytes(data)
        passed = bytearray()
        position = 0
        while position < len(data):
            if self._payload_left:
                taken = min(self._payload_left, len(data) - position)
                if self._passing:
                    passed += data[position : position + taken]
                position += taken
                self._payload_left -= taken
                continue
            position = self._read_header(data, position, passed)
        if not passed:
            return False, b""
        result: tuple[bool, bytes] = self._parser.feed_data(bytes(passed))
        return result

    def _read_header(self, data: bytes, position: int, passed: bytearray) -> int:
        """Collect the header's bytes (it may arrive in pieces); decide on the frame."""
        needed = 2 if len(self._header) < 2 else _header_length(self._header)
        taken = min(needed - len(self._header), len(data) - position)
        self._header += data[position : position + taken]
        position += taken
        if len(self._header) < 2:
            return position
        if len(self._header) < _header_length(self._header):
            return position
        header = bytes(self._header)
        self._header.clear()
        self._payload_left = _payload_length(header)
        self._passing = self._allowed(header[0] & 0x0F, self._payload_left)
        if header[0] & 0x80 and header[0] & 0x0F in _DATA_OPCODES:
            self._message_bytes = 0  # FIN: the next data frame starts a new message
        if self._passing:
            passed += header
        return position

    def _allowed(self, opcode: int, length: int) -> bool:
        if opcode not in _DATA_OPCODES:
            return True  # control frames: close, ping, pong
        if self.refused:
            return False
        if opcode == OP_BINARY:
            return self._refusal(WSCloseCode.UNSUPPORTED_DATA, "Binary frames are not supported")
        if length > self._limits.max_frame_bytes:
            return self._refusal(
                WSCloseCode.MESSAGE_TOO_BIG,
                f"Frame of {length} bytes exceeds {self._limits.max_frame_bytes}",
            )
        self._message_bytes = length + (self._message_bytes if opcode == OP_CONTINUATION else 0)
        if self._message_bytes > self._limits.max_message_bytes:
            return self._refusal(
                WSCloseCode.MESSAGE_TOO_BIG,
                f"Message exceeds {self._limits.max_message_bytes} bytes",
            )
        return True

    def _refusal(self, code: int, reason: str) -> bool:
        self.refused = True
        self._refuse(code, reason)
        return False


class GuardedWebSocketResponse(web.WebSocketResponse):
    """aiohttp's server socket with a ``FrameGuard`` in front of its frame parser."""

    def __init__(self, limits: FrameLimits, refuse: Refuse, **kwargs: Any) -> None:
        # aiohttp's own message limit stays as a backstop above the guard's. No
        # permessage-deflate: the limits apply to the bytes a client sends, as the quotas
        # state them, and API Gateway documents no WebSocket extension.
        super().__init__(max_msg_size=limits.max_message_bytes * 2, compress=False, **kwargs)
        self._frame_limits = limits
        self._refuse_frames = refuse

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        super()._post_start(request, protocol, writer)
        # aiohttp offers no public hook between the connection and its frame parser;
        # tests/unit/test_gateway_parity.py fails if this attribute ever moves.
        handler = request.protocol
        handler._payload_parser = FrameGuard(
            handler._payload_parser, self._frame_limits, self._refuse_frames
        )
