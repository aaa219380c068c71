"""Writes the bad and awkward image files the e2e test drops onto the page (issue: reliability).

    .venv/bin/python tests/bad_inputs/make_bad_images.py target/bad-images

Each file is small on disk even where the image it declares is huge. `expected.json` says, per file,
whether the page must classify it (`"ok"`, with the decoded size where it matters, and whether it
must show the first frame: an item, not the second frame's flat blue) or refuse it with a message
(`"refused"`).
"""
import io
import json
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, bit_depth=8, colour_type=0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)


def uniform_png(width: int, height: int) -> bytes:
    """A grey PNG streamed row by row, so a 16000×16000 one takes a few hundred kB."""
    deflate = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * width
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    return png_header(width, height) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def item() -> Image.Image:
    """A light shape on a dark background (the default model's look), 60 wide, 30 high."""
    image = Image.new("RGB", (60, 30), (10, 10, 10))
    image.paste((230, 230, 230), (10, 5, 50, 25))
    return image


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    files = {}

    def write(name, data, expected):
        (out / name).write_bytes(data)
        files[name] = expected

    good_png = encoded(item(), "PNG")
    refused = lambda message: {"result": "refused", "message": message}  # noqa: E731
    write("empty.png", b"", refused("the file is empty"))
    write("not-an-image.png", b"these are words, not pixels\n" * 20, refused("not an image the browser can decode"))
    write("truncated.png", good_png[: len(good_png) // 2], refused("not an image the browser can decode"))
    # Declares 100000 × 100000 pixels (10 gigapixels) in a file of a few dozen bytes: refused by its
    # header, before the browser decodes anything.
    write("bomb-header.png", png_header(100_000, 100_000) + png_chunk(b"IEND", b""),
          refused("the image is 100000×100000; at most 50 megapixels are accepted"))
    # A real, complete 16000 × 16000 image: 256 megapixels, over the ceiling.
    write("huge-16000.png", uniform_png(16_000, 16_000),
          refused("the image is 16000×16000; at most 50 megapixels are accepted"))
    write("one-pixel.png", encoded(Image.new("RGB", (1, 1), (200, 200, 200)), "PNG"), {"result": "ok"})
    write("cmyk.jpg", encoded(item().convert("CMYK"), "JPEG", quality=95), {"result": "ok", "size": [60, 30]})
    grey16 = Image.new("I;16", (60, 30), 2000)
    grey16.paste(60000, (10, 5, 50, 25))
    write("grey-16bit.png", encoded(grey16, "PNG"), {"result": "ok", "size": [60, 30]})
    frames = [item(), Image.new("RGB", (60, 30), (0, 0, 255))]
    write("animated.gif", encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0),
          {"result": "ok", "size": [60, 30], "first_frame": True})
    write("animated.webp", encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100,
                                   loop=0, lossless=True), {"result": "ok", "size": [60, 30], "first_frame": True})
    # Stored 60 × 30 with EXIF orientation 6 (rotate 90° clockwise to display): shown 30 × 60.
    exif = Image.Exif()
    exif[0x0112] = 6
    write("exif-rotated.jpg", encoded(item(), "JPEG", quality=95, exif=exif.tobytes()),
          {"result": "ok", "size": [30, 60]})
    transparent = Image.new("RGBA", (60, 30), (0, 0, 0, 0))
    transparent.paste((20, 20, 20, 255), (10, 5, 50, 25))
    write("transparent.png", encoded(transparent, "PNG"), {"result": "ok", "size": [60, 30]})
    (out / "expected.json").write_text(json.dumps(files, indent=1))
    print(f"wrote {len(files)} files to {out}")


if __name__ == "__main__":
    main()
