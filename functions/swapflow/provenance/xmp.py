"""XMP provenance written into the image container itself, without re-encoding a single pixel.

The packet carries the IPTC digital source type (Iptc4xmpExt:DigitalSourceType), the tool
(xmp:CreatorTool) and swapflow's own job id and provider. It is inserted where readers look for it:
JPEG an APP1 `http://ns.adobe.com/xap/1.0/` segment, PNG an `iTXt` chunk `XML:com.adobe.xmp`, WebP an
`XMP ` chunk (a simple WebP is promoted to the extended VP8X layout). An XMP packet already there (a
provider's) is replaced, so a file never carries two conflicting labels.
"""

from __future__ import annotations

import struct
import zlib
from xml.sax.saxutils import quoteattr

__all__ = ["SWAPFLOW_NS", "embed", "packet"]

SWAPFLOW_NS = "urn:swapflow:ns:provenance:1.0/"
_XMP_JPEG_ID = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_PNG_KEY = b"XML:com.adobe.xmp"


class XmpEmbedError(ValueError):
    """The bytes are not a JPEG, PNG or WebP this module can write into."""


def packet(*, digital_source_type: str, creator_tool: str, job_id: str, provider: str) -> bytes:
    attrs = {
        "Iptc4xmpExt:DigitalSourceType": digital_source_type,
        "xmp:CreatorTool": creator_tool,
        "swapflow:JobId": job_id,
        "swapflow:Provider": provider,
    }
    body = "\n    ".join(f"{name}={quoteattr(value)}" for name, value in attrs.items())
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        f'    xmlns:swapflow="{SWAPFLOW_NS}"\n'
        f"    {body}/>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="r"?>'
    ).encode()


def embed(data: bytes, content_type: str, xmp: bytes, *, width: int, height: int) -> bytes:
    """`data` with `xmp` as its one XMP packet; `width`/`height` are needed to promote a simple WebP."""
    if content_type == "image/jpeg":
        return _jpeg(data, xmp)
    if content_type == "image/png":
        return _png(data, xmp)
    if content_type == "image/webp":
        return _webp(data, xmp, width, height)
    raise XmpEmbedError(f"cannot write XMP into {content_type}")


def _jpeg(data: bytes, xmp: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise XmpEmbedError("not a JPEG")
    payload = _XMP_JPEG_ID + xmp
    if len(payload) + 2 > 0xFFFF:
        raise XmpEmbedError("XMP packet too large for one APP1 segment")
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    out, pos, inserted = bytearray(b"\xff\xd8"), 2, False
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA or not 0xE0 <= marker <= 0xEF:  # scan data or a non-APPn segment: headers end
            break
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        chunk = data[pos : pos + 2 + length]
        if marker == 0xE0 or (marker == 0xE1 and chunk[4:].startswith(b"Exif\x00")):
            out += chunk  # JFIF and Exif stay first, as readers expect
        elif not (marker == 0xE1 and chunk[4:].startswith(_XMP_JPEG_ID)):
            if not inserted:
                out += segment
                inserted = True
            out += chunk
        pos += 2 + length
    if not inserted:
        out += segment
    return bytes(out + data[pos:])


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png(data: bytes, xmp: bytes) -> bytes:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise XmpEmbedError("not a PNG")
    itxt = _png_chunk(b"iTXt", _XMP_PNG_KEY + b"\x00\x00\x00\x00\x00" + xmp)
    out, pos, inserted = bytearray(data[:8]), 8, False
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos : pos + 12 + length]
        pos += 12 + length
        if kind == b"iTXt" and chunk[8:].startswith(_XMP_PNG_KEY + b"\x00"):
            continue
        if kind == b"IDAT" and not inserted:
            out += itxt
            inserted = True
        out += chunk
    return bytes(out + data[pos:])


def _webp(data: bytes, xmp: bytes, width: int, height: int) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise XmpEmbedError("not a WebP")
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    chunks = [(k, b) for k, b in chunks if k != b"XMP "]
    if not chunks or chunks[0][0] != b"VP8X":
        alpha = bool(chunks and chunks[0][0] == b"VP8L" and len(chunks[0][1]) >= 5 and chunks[0][1][4] & 0x10)
        flags = 0x10 if alpha else 0
        vp8x = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", vp8x))
    head = chunks[0][1]
    chunks[0] = (b"VP8X", bytes([head[0] | 0x04]) + head[1:])
    chunks.append((b"XMP ", xmp))
    body = b"".join(k + struct.pack("<I", len(b)) + b + (b"\x00" if len(b) & 1 else b"") for k, b in chunks)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body
