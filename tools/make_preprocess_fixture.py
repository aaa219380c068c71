#!/usr/bin/env python3
"""Golden fixtures for src/preprocess: timm's eval transform (PIL resize + torchvision crop) on photos.

Regenerate (with the venv from tools/requirements.txt, e.g. made by scripts/fixtures.sh):

    .venv/bin/python tools/make_preprocess_fixture.py

It rewrites tests/fixtures/preprocess/ (committed, ~2.9 MB; tests/preprocess_parity.rs reads it):
    manifest.json         every case below, plus the versions used
    *.png                 the source images (photos from the scikit-image wheel, some downscaled or
                          cropped here, then saved as PNG: the PNG is the case's input)
    transform_*.npy       float32 [1, C, H, W]: timm.data.create_transform(**resolve_data_config(
                          {}, pretrained_cfg=cfg)) applied to Image.open(png).convert(mode), mode
                          'RGB' or, for C = 1, 'L' (as timm's train/validate scripts choose)
    resize_*.png          uint8 RGB: Image.open(png).convert('RGB').resize((w, h), filter), for the
                          resampler alone
    decode_*.png          PNG variants (gray, alpha, palette, 1-bit, 16-bit) and, as decode_*_rgb.png,
                          what PIL's .convert('RGB') makes of each
    *.jpg                 one JPEG case: PIL's libjpeg-turbo and our decoder may differ slightly

PIL's resize is integer arithmetic and ToTensor/Normalize are single f32 operations, so the results
do not depend on the processor: regenerating gives the same bytes for the same pinned versions.
"""
import io
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import PIL
import skimage
import timm
import torch
import torchvision
from PIL import Image
from timm.data import create_transform, resolve_data_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "preprocess")
SKIMAGE_DATA = os.path.join(os.path.dirname(skimage.__file__), "data")

IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
INCEPTION = dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])


def cfg(input_size, interpolation, crop_pct, crop_mode, norm=IMAGENET):
    return dict(input_size=list(input_size), interpolation=interpolation, crop_pct=crop_pct,
                crop_mode=crop_mode, **norm)


def save_png(image, name):
    image.save(os.path.join(OUT, name), format="PNG", optimize=True)
    return name


def sources():
    """The case inputs, as PNG files in OUT; returns {name: file}."""
    files = {}
    # chelsea as shipped (451x300 RGB with an ICC profile, which neither PIL nor we apply).
    shutil.copyfile(os.path.join(SKIMAGE_DATA, "chelsea.png"), os.path.join(OUT, "chelsea.png"))
    files["chelsea"] = "chelsea.png"
    chelsea = Image.open(os.path.join(OUT, "chelsea.png")).convert("RGB")
    coffee = Image.open(os.path.join(SKIMAGE_DATA, "coffee.png")).convert("RGB")
    files["coffee"] = save_png(coffee.resize((360, 240), Image.LANCZOS), "coffee_360x240.png")
    astronaut = Image.open(os.path.join(SKIMAGE_DATA, "astronaut.png")).convert("RGB")
    files["astronaut"] = save_png(astronaut.resize((256, 256), Image.LANCZOS), "astronaut_256.png")
    camera = Image.open(os.path.join(SKIMAGE_DATA, "camera.png"))
    assert camera.mode == "L"
    files["camera"] = save_png(camera.resize((256, 256), Image.LANCZOS), "camera_gray_256.png")
    # A small crop (the cat's face) so that the model's resize is an upscale (63x47 -> 195x146).
    files["chelsea_small"] = save_png(chelsea.crop((140, 40, 203, 87)), "chelsea_crop_63x47.png")
    jpeg = io.BytesIO()
    chelsea.save(jpeg, format="JPEG", quality=90)
    with open(os.path.join(OUT, "chelsea_q90.jpg"), "wb") as f:
        f.write(jpeg.getvalue())
    files["chelsea_jpeg"] = "chelsea_q90.jpg"
    return files


TRANSFORM_CASES = [
    # name, source, pretrained_cfg
    ("chelsea_bicubic_224", "chelsea", cfg((3, 224, 224), "bicubic", 0.875, "center")),
    # Non-square input: timm resizes with ResizeKeepRatio (round half even) instead of Resize(int).
    ("coffee_bilinear_128x160", "coffee", cfg((3, 128, 160), "bilinear", 0.95, "center")),
    ("astronaut_squash_128x160", "astronaut", cfg((3, 128, 160), "bicubic", 0.9, "squash")),
    ("camera_gray_bicubic_112", "camera", cfg((3, 112, 112), "bicubic", 0.875, "center", INCEPTION)),
    # Upscale, and an odd crop margin: (195 - 128) / 2 = 33.5 rounds to 34 (half to even).
    ("chelsea_small_upscale_128", "chelsea_small", cfg((3, 128, 128), "bicubic", 0.875, "center")),
    # Longest side to 128, padded with round(255 * mean).
    ("coffee_border_128", "coffee", cfg((3, 128, 128), "bicubic", 1.0, "border")),
    # crop_pct > 1: the crop is larger than the resized image, torchvision pads with 0.
    ("chelsea_croppct_over_1_96", "chelsea", cfg((3, 96, 96), "bilinear", 1.15, "center")),
    # A 1-channel model: timm's scripts open images with .convert('L') when input_size[0] == 1.
    ("chelsea_luma_1ch_96", "chelsea", cfg((1, 96, 96), "bicubic", 0.875, "center",
                                           dict(mean=[0.45], std=[0.26]))),
    ("chelsea_jpeg_bicubic_96", "chelsea_jpeg", cfg((3, 96, 96), "bicubic", 0.875, "center")),
]

RESIZE_CASES = [
    # name, source, (width, height), filter
    ("chelsea_bicubic_384x256", "chelsea", (384, 256), "bicubic"),
    ("coffee_bilinear_201x134", "coffee", (201, 134), "bilinear"),
    ("chelsea_small_bicubic_up_195x146", "chelsea_small", (195, 146), "bicubic"),
    ("chelsea_small_bilinear_up_200x150", "chelsea_small", (200, 150), "bilinear"),
    ("chelsea_bicubic_extreme_17x5", "chelsea", (17, 5), "bicubic"),
    ("chelsea_bicubic_width_only_90x300", "chelsea", (90, 300), "bicubic"),
    ("chelsea_bilinear_height_only_451x60", "chelsea", (451, 60), "bilinear"),
]

FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_raw_png(path, array, color_type):
    """A 16-bit PNG written by hand (PIL cannot write 16-bit RGB, RGBA or LA)."""
    height, width = array.shape[:2]
    rows = array.astype(">u2").reshape(height, -1).tobytes()
    stride = len(rows) // height
    raw = b"".join(b"\x00" + rows[y * stride:(y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
                + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def decode_cases(files):
    """PNG variants of a 40x30 patch, each with PIL's .convert('RGB') of it."""
    patch = Image.open(os.path.join(OUT, files["chelsea"])).convert("RGB").crop((150, 50, 190, 80))
    rgb = np.asarray(patch)
    gray = np.asarray(patch.convert("L"))
    alpha = (np.arange(40 * 30).reshape(30, 40) * 7 % 256).astype(np.uint8)
    rgb16 = rgb.astype(np.uint16) * 257 + np.arange(40, dtype=np.uint16)[None, :, None]
    variants = {
        "gray8": lambda p: Image.fromarray(gray, "L").save(p),
        "gray_alpha8": lambda p: Image.fromarray(np.dstack([gray, alpha]), "LA").save(p),
        "rgba8": lambda p: Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(p),
        "palette": lambda p: patch.quantize(colors=64).save(p),
        "palette_trns": lambda p: patch.quantize(colors=16).save(p, transparency=3),
        "bilevel": lambda p: patch.convert("1").save(p),
        # Mostly above 255, which PIL's I;16 -> RGB conversion clips.
        "gray16": lambda p: write_raw_png(p, gray.astype(np.uint16) * 3, 0),
        "gray_alpha16": lambda p: write_raw_png(p, np.dstack([gray.astype(np.uint16) * 250, alpha]), 4),
        "rgb16": lambda p: write_raw_png(p, rgb16, 2),
        "rgba16": lambda p: write_raw_png(p, np.dstack([rgb16, alpha.astype(np.uint16) * 99]), 6),
    }
    cases = []
    for name, write in variants.items():
        path = os.path.join(OUT, f"decode_{name}.png")
        write(path)
        opened = Image.open(path)
        expected = save_png(opened.convert("RGB"), f"decode_{name}_rgb.png")
        cases.append(dict(name=name, file=f"decode_{name}.png", pil_mode=opened.mode, expected=expected))
    return cases


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    files = sources()
    manifest = dict(
        versions=dict(timm=timm.__version__, torch=torch.__version__,
                      torchvision=torchvision.__version__, pillow=PIL.__version__),
        transform_cases=[], resize_cases=[], decode_cases=decode_cases(files),
    )
    for name, source, pretrained_cfg in TRANSFORM_CASES:
        config = resolve_data_config({}, pretrained_cfg=pretrained_cfg)
        for key in ("input_size", "interpolation", "crop_pct", "crop_mode", "mean", "std"):
            assert list(np.atleast_1d(config[key])) == list(np.atleast_1d(pretrained_cfg[key])), key
        transform = create_transform(**config)
        mode = "RGB" if pretrained_cfg["input_size"][0] == 3 else "L"
        image = Image.open(os.path.join(OUT, files[source])).convert(mode)
        tensor = transform(image).unsqueeze(0).numpy().astype(np.float32)
        assert tensor.shape == (1,) + tuple(pretrained_cfg["input_size"]), tensor.shape
        expected = f"transform_{name}.npy"
        np.save(os.path.join(OUT, expected), np.ascontiguousarray(tensor))
        manifest["transform_cases"].append(dict(
            name=name, image=files[source], input_img_mode=mode, source_size=list(image.size),
            pretrained_cfg=pretrained_cfg,
            transform=repr(transform), expected=expected))
        print(f"{name}: {image.size} -> {tensor.shape}", file=sys.stderr)
    for name, source, size, filter_name in RESIZE_CASES:
        image = Image.open(os.path.join(OUT, files[source])).convert("RGB")
        expected = save_png(image.resize(size, FILTERS[filter_name]), f"resize_{name}.png")
        manifest["resize_cases"].append(dict(
            name=name, image=files[source], width=size[0], height=size[1], filter=filter_name,
            expected=expected))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1e6:.2f} MB, to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
