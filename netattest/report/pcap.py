"""Classic libpcap files (the format tcpdump, Wireshark and Allure's PCAP attachment type read): Ethernet link
type, microsecond timestamps. Written by hand: the format is a 24-byte header and a 16-byte header per frame."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
SNAPLEN = 65535


def pcap_bytes(frames: Iterable[tuple[float, bytes]]) -> bytes:
    """A pcap file holding ``frames`` ((epoch seconds, Ethernet frame) pairs) in time order."""
    parts = [struct.pack("<IHHiIII", MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)]
    for when, data in sorted(frames, key=lambda f: f[0]):
        seconds = int(when)
        micros = round((when - seconds) * 1_000_000)
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, micros - 1_000_000
        caught = data[:SNAPLEN]
        parts.append(struct.pack("<IIII", seconds, micros, len(caught), len(data)))
        parts.append(caught)
    return b"".join(parts)


def read_pcap(data: bytes) -> list[tuple[float, bytes]]:
    """Frames of a classic little-endian pcap (for checks and tests)."""
    magic, _major, _minor, _zone, _sig, _snap, link = struct.unpack_from("<IHHiIII", data)
    if magic != MAGIC or link != LINKTYPE_ETHERNET:
        raise ValueError("not a little-endian Ethernet pcap file")
    frames, offset = [], 24
    while offset < len(data):
        seconds, micros, caught, _orig = struct.unpack_from("<IIII", data, offset)
        offset += 16
        frames.append((seconds + micros / 1_000_000, data[offset:offset + caught]))
        offset += caught
    return frames


def write_pcap(path: Path, frames: Iterable[tuple[float, bytes]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pcap_bytes(frames))
    return path
