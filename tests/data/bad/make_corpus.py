"""Generate the bad-input corpus: small files under files/ and manifest.json (what each must be answered with),
and the bad requests (`requests()`: broken multipart, wrong content types, oversize and malformed JSON, unicode
and 10 kB SKUs/titles, SSRF URLs in many encodings), built at test time because some are megabytes.

    python -m tests.data.bad.make_corpus      # rewrites files/ and manifest.json deterministically

Every entry is a request the API must refuse with a 4xx and an error code, queueing nothing; entries under
"valid_oddities" are unusual but legitimate photos (16-bit, CMYK, palette, alpha, EXIF-rotated) that must be
accepted. tests/faults/test_bad_input.py sends them all to a real API over a real Redis and database."""

from __future__ import annotations

import base64
import io
import json
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
INVALID = ["invalid_image"]
TOO_LARGE = ["image_too_large"]
REFUSED_URL = ["forbidden_url", "fetch_failed"]


def photo(size: tuple[int, int] = (96, 64), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    base = np.stack([x * 255 // size[0], y * 255 // size[1], (x + y) % 256], axis=-1)
    noise = rng.integers(-12, 13, size=base.shape)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_bomb(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its SOF0 frame header claiming another size."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


def strip_segments(jpeg: bytes, marker: bytes) -> bytes:
    out, at = bytearray(jpeg[:2]), 2
    while at < len(jpeg) - 1 and jpeg[at] == 0xFF and jpeg[at + 1] != 0xDA:
        length = struct.unpack(">H", jpeg[at + 2 : at + 4])[0]
        if jpeg[at : at + 2] != marker:
            out += jpeg[at : at + 2 + length]
        at += 2 + length
    return bytes(out + jpeg[at:])


def webp_canvas_bomb(width: int, height: int) -> bytes:
    vp8x = bytes([0x10, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def image_files() -> dict[str, tuple[bytes, list[str]]]:
    """name -> (bytes, accepted error codes), every one a refusal."""
    jpeg, png, webp = encode(photo(), "JPEG", quality=85), encode(photo(), "PNG"), encode(photo(), "WEBP")
    files: dict[str, tuple[bytes, list[str]]] = {}
    scan = jpeg.index(b"\xff\xda")
    for percent in range(5, 100, 5):  # 19 truncations of the scan data
        files[f"jpeg_truncated_{percent:02d}.jpg"] = (jpeg[: scan + (len(jpeg) - scan) * percent // 100], INVALID)
    for cut in (1, 2, 3, 10, 20, 50, 100, 150):  # inside the headers
        files[f"jpeg_header_cut_{cut:03d}.jpg"] = (jpeg[:cut], INVALID)
    files["jpeg_no_soi.jpg"] = (b"\0\0" + jpeg[2:], INVALID)
    files["jpeg_zero_height.jpg"] = (jpeg_with_size(jpeg, 96, 0), INVALID)
    files["jpeg_zero_width.jpg"] = (jpeg_with_size(jpeg, 0, 64), INVALID)
    sof = jpeg.index(b"\xff\xc0")
    files["jpeg_sof_no_components.jpg"] = (jpeg[: sof + 9] + b"\0" + jpeg[sof + 10 :], INVALID)
    files["jpeg_no_quant_tables.jpg"] = (strip_segments(jpeg, b"\xff\xdb"), INVALID)
    files["jpeg_no_scan.jpg"] = (jpeg[:scan], INVALID)
    files["jpeg_bomb_20000x20000.jpg"] = (jpeg_with_size(jpeg, 20000, 20000), TOO_LARGE)
    files["jpeg_bomb_65000x65000.jpg"] = (jpeg_with_size(jpeg, 65000, 65000), TOO_LARGE)
    files["jpeg_too_thin_96x1.jpg"] = (encode(photo((96, 1)), "JPEG"), INVALID)
    ihdr_end = 8 + 8 + 13 + 4
    for percent in range(10, 100, 10):  # 9 truncations
        files[f"png_truncated_{percent:02d}.png"] = (png[: len(png) * percent // 100], INVALID)
    files["png_no_iend.png"] = (png[:-12], INVALID)
    files["png_bad_ihdr_crc.png"] = (png[: ihdr_end - 1] + bytes([png[ihdr_end - 1] ^ 0xFF]) + png[ihdr_end:], INVALID)
    idat = png.index(b"IDAT")
    for offset in (8, 40, 120):  # IDAT bytes flipped: the chunk CRC no longer matches
        at = idat + offset
        files[f"png_corrupt_idat_{offset:03d}.png"] = (png[:at] + bytes([png[at] ^ 0x5A]) + png[at + 1 :], INVALID)
    files["png_bad_signature.png"] = (b"\x89PNX" + png[4:], INVALID)
    files["png_bomb_20000x20000.png"] = (png_header_bomb(20000, 20000), TOO_LARGE)
    files["png_bomb_100000x1.png"] = (png_header_bomb(100000, 1000), TOO_LARGE)
    files["png_1x1.png"] = (encode(photo((1, 1)), "PNG"), INVALID)
    files["png_8x8.png"] = (encode(photo((8, 8)), "PNG"), INVALID)
    for percent in range(10, 100, 10):  # 9 truncations
        files[f"webp_truncated_{percent:02d}.webp"] = (webp[: len(webp) * percent // 100], INVALID)
    files["webp_bad_riff.webp"] = (b"RIFX" + webp[4:], INVALID)
    files["webp_bad_fourcc.webp"] = (webp[:8] + b"WEBQ" + webp[12:], INVALID)
    files["webp_riff_length_lies.webp"] = (webp[:4] + struct.pack("<I", len(webp) * 4) + webp[8:], INVALID)
    files["webp_vp8_zeroed.webp"] = (webp[:20] + b"\0" * (len(webp) - 20), INVALID)
    files["webp_bomb_16383x16383.webp"] = (webp_canvas_bomb(16383, 16383), TOO_LARGE)
    files["webp_1x1.webp"] = (encode(photo((1, 1)), "WEBP"), INVALID)
    frames = [photo(seed=s) for s in range(3)]
    files["webp_animated.webp"] = (encode(frames[0], "WEBP", save_all=True, append_images=frames[1:]), INVALID)
    files["gif_static.gif"] = (encode(photo().convert("P"), "GIF"), INVALID)
    files["gif_animated.gif"] = (encode(frames[0].convert("P"), "GIF", save_all=True,
                                        append_images=[f.convert("P") for f in frames[1:]]), INVALID)
    files["bmp.bmp"] = (encode(photo(), "BMP"), INVALID)
    files["tiff.tiff"] = (encode(photo(), "TIFF"), INVALID)
    files["ico.ico"] = (encode(photo((32, 32)), "ICO"), INVALID)
    files["jpeg_1x1.jpg"] = (encode(photo((1, 1)), "JPEG"), INVALID)
    files["zero_bytes.jpg"] = (b"", INVALID)
    files["one_byte.jpg"] = (b"\xff", INVALID)
    files["text.txt"] = (b"this is not an image\n", INVALID)
    files["html.html"] = (b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>", INVALID)
    files["json.json"] = (b'{"image_url": "http://127.0.0.1/"}', INVALID)
    files["svg.svg"] = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                        b'<image href="file:///etc/passwd"/></svg>', INVALID)
    files["svg_xxe.svg"] = (b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                            b"<svg>&x;</svg>", INVALID)
    files["pdf.pdf"] = (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", INVALID)
    files["zip.zip"] = (b"PK\x03\x04" + b"\0" * 60, INVALID)
    files["elf.bin"] = (b"\x7fELF" + b"\0" * 60, INVALID)
    files["utf16_text.txt"] = ("not an image ✓".encode("utf-16"), INVALID)
    rng = np.random.default_rng(7)
    for seed in range(12):
        files[f"random_{seed:02d}.bin"] = (rng.integers(0, 256, 64 + seed * 97, dtype=np.uint8).tobytes(), INVALID)
    files["jpeg_magic_then_random.jpg"] = (b"\xff\xd8\xff\xe0" + rng.integers(0, 256, 500, dtype=np.uint8).tobytes(),
                                           INVALID)
    files["png_magic_then_random.png"] = (b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 500, dtype=np.uint8).tobytes(),
                                          INVALID)
    return files


def valid_oddities() -> dict[str, bytes]:
    base = photo((80, 120), seed=3)
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    sixteen = Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    return {
        "ok_png_16bit_gray.png": encode(sixteen, "PNG"),
        "ok_png_palette.png": encode(base.convert("P"), "PNG"),
        "ok_png_alpha.png": encode(rgba, "PNG"),
        "ok_jpeg_cmyk.jpg": encode(base.convert("CMYK"), "JPEG"),
        "ok_jpeg_grayscale.jpg": encode(base.convert("L"), "JPEG"),
        "ok_jpeg_exif_rotated.jpg": encode(base, "JPEG", exif=exif),
        "ok_webp_alpha.webp": encode(rgba, "WEBP"),
        "ok_jpeg_progressive.jpg": encode(base, "JPEG", progressive=True),
    }


def request(name: str, *, body: bytes | str, content_type: str | None, codes: list[str], status: int | list[int],
            path: str = "/v1/jobs", chunked: bool = False) -> dict[str, Any]:
    raw = body.encode() if isinstance(body, str) else body
    return {"name": name, "path": path, "content_type": content_type, "chunked": chunked,
            "body_b64": base64.b64encode(raw).decode(), "status": status, "codes": codes}


def ssrf_urls() -> list[str]:
    hosts = [
        "127.0.0.1", "127.1", "0x7f000001", "0x7f.0.0.1", "017700000001", "0177.0.0.1", "2130706433", "localhost",
        "LOCALHOST", "0", "0.0.0.0", "10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1", "100.64.0.1",
        "169.254.169.254", "169.254.170.2", "100.100.100.200", "224.0.0.1", "255.255.255.255", "198.18.0.1",
        "192.0.0.8", "240.0.0.1", "[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:a9fe:a9fe]",
        "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[64:ff9b::a9fe:a9fe]", "[64:ff9b:1::a00:1]", "[2002:7f00:1::1]",
        "[2002:a9fe:a9fe::]", "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "[fec0::1]", "[fc00::1]", "[fd00:ec2::254]",
        "[fe80::1]", "[ff02::1]", "127.0.0.1.nip.io.invalid", "%31%32%37.0.0.1", "127.0.0.1%2f", "[::1]:6379",
        "127.0.0.1:5432", "xn--nxasmq6b.invalid",
    ]
    urls = [f"http://{host}/a.jpg" for host in hosts]
    urls += ["https://127.0.0.1/a.jpg", "file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL", "ftp://10.0.0.1/a",
             "dict://127.0.0.1:6379/info", "data:image/jpeg;base64,/9j/", "javascript:alert(1)", "//127.0.0.1/a.jpg",
             "http://user:pw@example.com/a.jpg", "http://127.0.0.1@169.254.169.254/", "http:///a.jpg",
             "http://[::1/a.jpg", "http://999.999.999.999/a.jpg", "http://example.com:99999/a.jpg", "  http://127.0.0.1/"]
    return urls


def requests() -> list[dict[str, Any]]:
    jpeg = encode(photo(), "JPEG")
    out: list[dict[str, Any]] = []
    for index, url in enumerate(ssrf_urls()):
        out.append(request(f"ssrf_image_url_{index:02d}", body=json.dumps({"image_url": url}),
                           content_type="application/json", status=422, codes=[*REFUSED_URL, "invalid_request"]))
        out.append(request(f"ssrf_callback_{index:02d}", body=_multipart(jpeg, callback_url=url),
                           content_type=f"multipart/form-data; boundary={BOUNDARY}", status=422,
                           codes=[*REFUSED_URL, "invalid_request"]))
    json_type = "application/json"
    for content_type in ("text/plain", "application/xml", "image/jpeg", "application/x-www-form-urlencoded", None,
                         "application/octet-stream", "text/html; charset=utf-8"):
        out.append(request(f"wrong_type_{content_type}", body=jpeg if content_type == "image/jpeg" else
                           json.dumps({"image_url": "https://example.com/a.jpg"}), content_type=content_type,
                           status=415, codes=["unsupported_media_type"]))
    big = json.dumps({"image_url": "https://example.com/a.jpg", "title": "x" * (2 * 1024 * 1024)})
    out.append(request("oversize_json", body=big, content_type=json_type, status=413, codes=["body_too_large"]))
    out.append(request("oversize_json_chunked", body=big, content_type=json_type, status=413,
                       codes=["body_too_large"], chunked=True))
    out.append(request("oversize_batch_json", body=big, content_type=json_type, status=413, codes=["body_too_large"],
                       path="/v1/jobs:batch"))
    out.append(request("oversize_upload_chunked", body=_multipart(b"\xff\xd8" + b"\0" * (3 * 1024 * 1024)),
                       content_type=f"multipart/form-data; boundary={BOUNDARY}", status=413,
                       codes=["body_too_large", "image_too_large"], chunked=True))
    batch = {"jobs": [{"image_url": "https://example.com/a.jpg"}] * 101}
    out.append(request("batch_101", body=json.dumps(batch), content_type=json_type, status=422,
                       codes=["invalid_request"], path="/v1/jobs:batch"))
    for name, body in {
        "json_not_json": "{not json", "json_array": "[]", "json_null": "null", "json_string": '"x"',
        "json_nested": "[" * 5000 + "]" * 5000, "json_no_url": "{}", "json_url_number": '{"image_url": 7}',
        "json_unknown_field": '{"image_url": "https://example.com/a.jpg", "x": 1}',
        "json_bad_options": '{"image_url": "https://example.com/a.jpg", "options": {"max_hashtags": 999}}',
        "json_invalid_utf8": b'{"image_url": "\xff\xfe"}', "json_empty": "",
    }.items():
        out.append(request(name, body=body, content_type=json_type, status=422, codes=["invalid_request"]))
    for name, text in {
        "sku_10kb": "S" * 10_240, "title_10kb": "T" * 10_240, "sku_unicode_129": "é" * 129,
        "sku_nul": "SKU\x00-1", "title_nul": "A\x00B", "sku_control": "SKU\x1b[31m", "title_bell": "x\x07",
        "sku_emoji_10kb": "👗" * 2600,
    }.items():
        field = "title" if name.startswith("title") else "sku"
        out.append(request(f"upload_{name}", body=_multipart(jpeg, **{field: text}),
                           content_type=f"multipart/form-data; boundary={BOUNDARY}", status=422,
                           codes=["invalid_request"]))
        out.append(request(f"json_{name}", body=json.dumps({"image_url": "https://example.com/a.jpg", field: text}),
                           content_type=json_type, status=422, codes=["invalid_request"]))
    multipart = f"multipart/form-data; boundary={BOUNDARY}"
    for name, (body, content_type) in {
        "multipart_no_boundary": (_multipart(jpeg), "multipart/form-data"),
        "multipart_wrong_boundary": (_multipart(jpeg), "multipart/form-data; boundary=other"),
        "multipart_truncated": (_multipart(jpeg)[:200], multipart),
        "multipart_no_closing": (_multipart(jpeg).rsplit(b"--", 2)[0], multipart),
        "multipart_empty": (b"", multipart),
        "multipart_garbage": (b"\0" * 1000, multipart),
        "multipart_no_image_field": (_multipart(jpeg, field="photo"), multipart),
        "multipart_image_as_text": (_text_part("image", "not a file"), multipart),
        "multipart_two_images": (_multipart(jpeg, extra_file=True), multipart),
        "multipart_bad_options": (_multipart(jpeg, options="{nope"), multipart),
        "multipart_unknown_option": (_multipart(jpeg, options='{"colour": "red"}'), multipart),
        "multipart_header_garbage": (f"--{BOUNDARY}\r\nContent-Disposition\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
                                     multipart),
    }.items():
        out.append(request(name, body=body, content_type=content_type, status=[400, 422],
                           codes=["invalid_request", "bad_request", "invalid_image"]))
    return out


BOUNDARY = "p2pBoundary7MA4YWxk"


def _multipart(image: bytes, *, field: str = "image", extra_file: bool = False, **fields: str) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="p.jpg"\r\n'
             "Content-Type: image/jpeg\r\n\r\n".encode() + image + b"\r\n"]
    if extra_file:
        parts.append(parts[0].replace(b'name="image"', b'name="image2"'))
    for name, value in fields.items():
        parts.append(_text_part(name, value, closing=False))
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _text_part(name: str, value: str, *, closing: bool = True) -> bytes:
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    return part + (f"--{BOUNDARY}--\r\n".encode() if closing else b"")


def main() -> None:
    shutil.rmtree(FILES, ignore_errors=True)
    FILES.mkdir(parents=True)
    uploads = []
    for name, (data, codes) in sorted(image_files().items()):
        (FILES / name).write_bytes(data)
        status = 413 if codes == TOO_LARGE else 422
        uploads.append({"file": name, "status": status, "codes": codes})
    oddities = []
    for name, data in sorted(valid_oddities().items()):
        (FILES / name).write_bytes(data)
        oddities.append({"file": name, "status": 202})
    manifest = {"uploads": uploads, "valid_oddities": oddities}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    built = len(requests())
    print(f"{len(uploads)} bad files, {built} bad requests ({len(uploads) + built} refusals), "
          f"{len(oddities)} valid oddities")


if __name__ == "__main__":
    main()
