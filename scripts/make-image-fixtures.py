#!/usr/bin/env python3
"""Regenerate the image-decoding, resizing and dataset-layout test fixtures.

What it makes
  Tests/ImageCodecsTests/Fixtures/decode/   small PNG / JPEG / WebP files (and a few bad
      ones) with the pixels Pillow decodes from each: decode/expected.json lists every file;
      a good file's expected pixels are in NAME.rgb (raw PLANAR uint8: all R bytes row-major,
      then all G, then all B, i.e. C x H x W), computed as
          ImageOps.exif_transpose(Image.open(path)).convert("RGB")
      width/height in the JSON are after EXIF orientation. Bad files are listed with
      "error": true.
  Tests/ImageCodecsTests/Fixtures/resize/   source pictures (CIFAR-10 test images resized
      with Pillow BICUBIC) and the pixels of Pillow's resize for each case in
      resize/expected.json ("shorter" = scale so the shorter side fits, then centre-crop;
      "stretch" = resize to the target, no crop; JPEG sources use Pillow's draft, i.e.
      libjpeg-turbo's scaled DCT, before resizing). The exact definitions are in resize_case().
  Tests/DatasetsTests/Fixtures/layouts/     tiny images arranged as the dataset layouts the
      loader recognises (folders, imagenet, csv, single, csv300); see its README.md.
  Tests/ImageCodecsTests/Fixtures/README.md the library versions the expectations came from.

Why
  mixprep decodes JPEG/PNG/WebP and resizes like Pillow (torchvision's loader), so the Swift
  tests compare its pixels with Pillow's. Pillow is the reference, not a dependency:
  nothing in the product or CI imports it. It is needed ONLY to rerun this script, and
  the generated files are committed.

How to rerun (from the repository root; needs python3 with Pillow and numpy)
      python3 scripts/make-image-fixtures.py
  The script deletes and rewrites the decode/, resize/ and layouts/ folders above and
  rewrites Tests/ImageCodecsTests/Fixtures/README.md; it touches nothing else. It is
  deterministic (fixed seeds, no timestamps; PNGs are written here with zlib + struct):
  rerunning with the same Pillow / libjpeg-turbo / libwebp / zlib gives byte-identical files.
  Another Pillow or codec version may change JPEG/WebP bytes or expected pixels; review the
  diff. Pixel sources: data/cifar10-mini/test_batch.bin (records 0-4; its first records are
  the official CIFAR-10 test_batch.bin's), falling back to /work/shared/cifar10/test_batch.bin.

PNG files are hand-written (Pillow cannot write every PNG depth/colour type, e.g. grey 2/4-bit,
16-bit grey+alpha/RGBA, tRNS at every palette depth, Adam7). Rows cycle through the filter
types None/Sub/Up/Average/Paeth so every unfilter path is exercised; some files split IDAT
into several chunks. 16-bit samples are (hi << 8) | lo with hi = the 8-bit picture and lo a
pattern unrelated to hi, so truncation (v >> 8) and rounding (v * 255 / 65535) disagree in
20-46% of the samples; 0x0000 and 0xFFFF both occur. The YCCK JPEG is also written here
(pure-Python baseline encoder, ycck_jpeg()), as neither Pillow nor vips can write YCCK.

What Pillow does (observed with Pillow 13.0.0 / libjpeg-turbo 3.2.0 / libwebp 1.6.0; the
script re-checks these on every run and prints what it finds; libvips 8.14 with libpng,
the system libjpeg-turbo and libwebp decodes every good file, after its own EXIF
autorotation, to the same pixels, except the 16-bit grey one (Pillow clips, see below),
and reads the CMYK and YCCK JPEGs to the same CMYK values):
  * 16-bit grey opens as mode "I;16" (the full 16-bit values), and convert("RGB") goes
    I;16 -> RGB by CLIPPING, not scaling: min(v, 255). 0x0E8F gives 255 (not 14 or 15);
    only samples below 256 keep their value. So png-grey-16bit's expected pixels are
    nearly all white (34 of 384 pixels are not). Pillow-based loaders such as torchvision's
    give the same result; a decoder that scales 16 -> 8 bits will NOT match it.
  * 16-bit RGB and RGBA open as 8-bit "RGB" / "RGBA" and 16-bit grey+alpha opens as
    "RGBA" (grey copied to R, G and B; not "LA"): every sample keeps its HIGH BYTE
    (truncation v >> 8, never rounding): 0xFF61 -> 255 (rounding would give 254),
    0x00D7 -> 0 (rounding: 1).
  * CMYK JPEG (Pillow's: Adobe APP14 transform 0, inverted "Adobe" CMYK) and YCCK JPEG
    (Adobe transform 2) both open as "CMYK" (Pillow always reads 4-component JPEGs as
    inverted Adobe CMYK); convert("RGB") is R = (255 - C) * (255 - K) / 255 rounded
    (Pillow's MULDIV255; likewise G from M, B from Y), with no ICC profile involved.
    E.g. C,M,Y,K = 222,119,215,84 -> 22,91,27 (not 255 - C - K, which would give 0,52,0).
  * Palette + tRNS opens as "P" with info["transparency"] (bytes, or an int when tRNS has
    one entry); convert("RGB") looks up the palette colours and DROPS the alpha (fully
    transparent entries keep their RGB), warning "Palette images with Transparency
    expressed in bytes should be converted to RGBA images".
  * LA / RGBA / WebP-with-alpha -> RGB also just drops alpha (no premultiply, no matte):
    transparent pixels keep their stored, non-zero RGB (WebP written with exact=True).
  * 1-bit grey opens as "1" (0/255), 2- and 4-bit grey as "L" scaled by 85 / 17.
  * Bad files: Pillow raises on all except bad-png-idat-bad-crc.png (it does not check
    IDAT CRCs and decodes the intact data); libpng reports "IDAT: CRC error".
"""

import io
import json
import math
import os
import shutil
import struct
import sys
import warnings
import zlib

import numpy as np
import PIL
from PIL import Image, ImageOps, features

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CODECS = os.path.join(ROOT, "Tests", "ImageCodecsTests", "Fixtures")
DECODE = os.path.join(CODECS, "decode")
RESIZE = os.path.join(CODECS, "resize")
LAYOUTS = os.path.join(ROOT, "Tests", "DatasetsTests", "Fixtures", "layouts")
CIFAR_CANDIDATES = [
    os.path.join(ROOT, "data", "cifar10-mini", "test_batch.bin"),
    "/work/shared/cifar10/test_batch.bin",
]

W, H = 24, 16  # the base decode picture: 24 wide, 16 high


# ----------------------------------------------------------------------------- helpers

def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def write_json(path, entries):
    """A JSON list, one object per line (readable diffs)."""
    write_bytes(path, ("[\n" + ",\n".join(" " + json.dumps(e) for e in entries) + "\n]\n").encode())


def planar(rgb_image):
    """An RGB PIL image -> planar bytes (C x H x W)."""
    assert rgb_image.mode == "RGB"
    a = np.asarray(rgb_image, dtype=np.uint8)
    return np.ascontiguousarray(a.transpose(2, 0, 1)).tobytes()


def exif_tiff(orientation, big_endian):
    """A minimal TIFF/EXIF block: one IFD0 entry, Orientation (0x0112, SHORT, 1 value)."""
    e = ">" if big_endian else "<"
    return ((b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
            + struct.pack(e + "H", 1)
            + struct.pack(e + "HHI", 0x0112, 3, 1) + struct.pack(e + "HH", orientation, 0)
            + struct.pack(e + "I", 0))


def jpeg_exif(orientation, big_endian):
    """EXIF as Pillow's JPEG/WebP `exif=` wants it (the APP1 payload, with "Exif\\0\\0")."""
    return b"Exif\x00\x00" + exif_tiff(orientation, big_endian)


# ----------------------------------------------------------------------------- pictures

def base_rgb():
    """24x16 RGB: red grows left->right, green top->bottom, blue checker (2x2 cells) in the
    bottom-right 8x8 corner, blue 40 elsewhere, a white 4x2 mark in the top-left corner
    whose first pixel is yellow (255, 255, 0)."""
    y, x = np.mgrid[0:H, 0:W]
    r = np.rint(x * 255.0 / (W - 1))
    g = np.rint(y * 255.0 / (H - 1))
    b = np.full((H, W), 40.0)
    corner = (x >= W - 8) & (y >= H - 8)
    b[corner] = np.where(((x[corner] // 2) + (y[corner] // 2)) % 2 == 0, 255, 0)
    img = np.stack([r, g, b], axis=-1).astype(np.uint8)
    img[0:2, 0:4] = 255
    img[0, 0] = (255, 255, 0)
    return img


def base_grey():
    """24x16 grey: diagonal ramp, checker in the bottom-right 8x8 corner, white 4x2 mark
    top-left with a black first pixel."""
    y, x = np.mgrid[0:H, 0:W]
    g = np.rint(x * 255.0 * 0.6 / (W - 1) + y * 255.0 * 0.4 / (H - 1))
    corner = (x >= W - 8) & (y >= H - 8)
    g[corner] = np.where(((x[corner] // 2) + (y[corner] // 2)) % 2 == 0, 255, 0)
    g = g.astype(np.uint8)
    g[0:2, 0:4] = 255
    g[0, 0] = 0
    return g


def base_alpha():
    """24x16 alpha: 0 (fully transparent) in x 8..11 of the top half, a vertical ramp in
    x 12..15, 255 elsewhere."""
    y, x = np.mgrid[0:H, 0:W]
    a = np.full((H, W), 255.0)
    ramp = (x >= 12) & (x < 16)
    a[ramp] = np.rint(255.0 - y[ramp] * 255.0 / (H - 1))
    a[(x >= 8) & (x < 12) & (y < H // 2)] = 0
    return a.astype(np.uint8)


def widen16(hi, channel=0):
    """8-bit samples -> 16-bit (hi << 8) | lo with lo a pattern unrelated to hi; then
    0xFFFF at the first mark pixel (0,1) and 0x0000 at the bottom-left pixel."""
    y, x = np.mgrid[0:hi.shape[0], 0:hi.shape[1]]
    lo = (x * 73 + y * 151 + channel * 59 + 97) & 0xFF
    v = (hi.astype(np.uint32) << 8) | lo.astype(np.uint32)
    v[0, 1] = 0xFFFF
    v[-1, 0] = 0x0000
    return v.astype(np.uint16)


def base_cmyk():
    """24x16 CMYK as Pillow's "CMYK" mode holds it: C,M,Y = 255 - base R,G,B and K a
    vertical ramp 0..160 on the left half (0 on the right half and on the mark)."""
    rgb = base_rgb().astype(np.int32)
    y, x = np.mgrid[0:H, 0:W]
    k = np.where(x < W // 2, np.rint(y * 160.0 / (H - 1)), 0)
    k[0:2, 0:4] = 0
    return np.dstack([255 - rgb, k]).astype(np.uint8)


def cifar_images():
    for path in CIFAR_CANDIDATES:
        if os.path.exists(path):
            data = open(path, "rb").read(3073 * 5)
            out = []
            for i in range(5):
                rec = np.frombuffer(data[i * 3073 + 1:(i + 1) * 3073], dtype=np.uint8)
                out.append(Image.fromarray(rec.reshape(3, 32, 32).transpose(1, 2, 0).copy(), "RGB"))
            return path, out
    sys.exit("no CIFAR-10 test_batch.bin found in: " + ", ".join(CIFAR_CANDIDATES))


def tiny_rgb(w, h, seed, tint):
    """A tiny picture: a tint, a diagonal ramp and seeded noise (distinct per seed)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    ramp = (x * 255.0 / max(w - 1, 1) + y * 255.0 / max(h - 1, 1)) / 2
    img = np.stack([0.5 * tint[c] + 0.35 * ramp for c in range(3)], axis=-1)
    img += rng.integers(0, 40, size=img.shape)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


# ----------------------------------------------------------------------------- PNG writer

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_chunk(ctype, data):
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def pack_row(samples, depth):
    """One row of samples (1-D ints) -> bytes at the given bit depth (MSB first)."""
    if depth == 16:
        return np.asarray(samples, dtype=">u2").tobytes()
    if depth == 8:
        return np.asarray(samples, dtype=np.uint8).tobytes()
    out = bytearray()
    per = 8 // depth
    for i in range(0, len(samples), per):
        byte = 0
        for j in range(per):
            v = int(samples[i + j]) if i + j < len(samples) else 0
            byte |= v << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp):
    """Filter each row with type (row index % 5): None, Sub, Up, Average, Paeth."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for i, row in enumerate(rows):
        ftype = i % 5
        out.append(ftype)
        for k, xv in enumerate(row):
            a = row[k - bpp] if k >= bpp else 0
            b = prev[k]
            c = prev[k - bpp] if k >= bpp else 0
            pred = (0, a, b, (a + b) // 2, paeth(a, b, c))[ftype]
            out.append((xv - pred) & 0xFF)
        prev = row
    return bytes(out)


def png_bytes(samples, depth, color_type, plte=None, trns=None, interlace=False,
              exif=None, idat_split=None):
    """samples: H x W x C ints (palette indices for colour type 3)."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    h, w, ch = samples.shape
    bpp = max(1, ch * depth // 8)
    raw = bytearray()
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for (x0, y0, dx, dy) in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        rows = [pack_row(sub[r].reshape(-1), depth) for r in range(sub.shape[0])]
        raw += filter_rows(rows, bpp)
    z = zlib.compress(bytes(raw), 9)
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0))
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(np.asarray(plte, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        out += png_chunk(b"tRNS", bytes(trns))
    if exif is not None:
        out += png_chunk(b"eXIf", exif)
    step = idat_split or len(z)
    for i in range(0, len(z), step):
        out += png_chunk(b"IDAT", z[i:i + step])
    out += png_chunk(b"IEND", b"")
    return out


# ----------------------------------------------------------------------------- YCCK JPEG writer

def zigzag_order():
    order = sorted(((u, v) for u in range(8) for v in range(8)),
                   key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 == 0 else p[0]))
    return [u * 8 + v for (u, v) in order]  # u = row, v = column


LUMA_Q = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
          14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
          49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
CHROMA_Q = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
            47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32


def ycck_jpeg(cmyk, quality=95):
    """A baseline JPEG with 4 components, all 1x1, and an Adobe APP14 marker with
    transform 2 (YCCK), written here because libjpeg-turbo only writes YCCK when asked
    via jpeg_set_colorspace, which neither Pillow nor vips exposes. The stored components
    are YCbCr of (C, M, Y) and inverted K, so that libjpeg (YCCK -> CMYK: C' = 255 - R)
    followed by Pillow's Adobe inversion ("CMYK;I") gives back `cmyk` up to JPEG loss.
    Huffman tables: one DC and one AC table of fixed-length codes over the symbols used."""
    h, w, _ = cmyk.shape
    assert h % 8 == 0 and w % 8 == 0
    c = cmyk.astype(np.float64)
    r, g, b = c[:, :, 0], c[:, :, 1], c[:, :, 2]
    yy = 0.299 * r + 0.587 * g + 0.114 * b
    cb = -0.168735892 * r - 0.331264108 * g + 0.5 * b + 128
    cr = 0.5 * r - 0.418687589 * g - 0.081312411 * b + 128
    kk = 255 - c[:, :, 3]
    planes = [np.clip(np.rint(p), 0, 255) for p in (yy, cb, cr, kk)]
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    qt = [[min(255, max(1, (q * scale + 50) // 100)) for q in base] for base in (LUMA_Q, CHROMA_Q)]
    qt = [np.array(t, dtype=np.float64).reshape(8, 8) for t in qt]
    comp_q = [0, 1, 1, 0]
    m = np.array([[(math.sqrt(0.5) if u == 0 else 1.0) / 2 * math.cos((2 * x + 1) * u * math.pi / 16)
                   for x in range(8)] for u in range(8)])
    zz = zigzag_order()

    def category(v):
        return 0 if v == 0 else int(abs(v)).bit_length()

    def bits_of(v, n):
        return v if v >= 0 else v + (1 << n) - 1

    # Pass 1: quantised blocks -> symbol stream.
    stream = []  # (kind, symbol, extra_value, extra_len) kind 0 = DC, 1 = AC
    pred = [0, 0, 0, 0]
    for by in range(0, h, 8):
        for bx in range(0, w, 8):
            for ci in range(4):
                blk = planes[ci][by:by + 8, bx:bx + 8] - 128
                coef = np.einsum("ux,xy,vy->uv", m, blk, m, optimize=False)
                q = np.rint(coef / qt[comp_q[ci]]).astype(int).reshape(-1)
                q = [int(q[i]) for i in zz]
                diff = q[0] - pred[ci]
                pred[ci] = q[0]
                n = category(diff)
                stream.append((0, n, bits_of(diff, n), n))
                run = 0
                last = max([i for i in range(1, 64) if q[i] != 0], default=0)
                for i in range(1, last + 1):
                    if q[i] == 0:
                        run += 1
                        continue
                    while run > 15:
                        stream.append((1, 0xF0, 0, 0))
                        run -= 16
                    n = category(q[i])
                    stream.append((1, (run << 4) | n, bits_of(q[i], n), n))
                    run = 0
                if last < 63:
                    stream.append((1, 0x00, 0, 0))

    def table(kind):
        syms = sorted({s for (k, s, _, _) in stream if k == kind})
        length = 1
        while (1 << length) < len(syms) + 1:  # the all-ones code is not allowed
            length += 1
        counts = [0] * 16
        counts[length - 1] = len(syms)
        codes = {s: (i, length) for i, s in enumerate(syms)}
        return bytes(counts) + bytes(syms), codes

    dc_spec, dc_codes = table(0)
    ac_spec, ac_codes = table(1)

    acc, nacc, scan = 0, 0, bytearray()

    def put(value, n):
        nonlocal acc, nacc
        acc = (acc << n) | value
        nacc += n
        while nacc >= 8:
            byte = (acc >> (nacc - 8)) & 0xFF
            scan.append(byte)
            if byte == 0xFF:
                scan.append(0)
            nacc -= 8
        acc &= (1 << nacc) - 1

    for (kind, sym, extra, n) in stream:
        code, length = (dc_codes if kind == 0 else ac_codes)[sym]
        put(code, length)
        if n:
            put(extra, n)
    if nacc:
        put((1 << (8 - nacc)) - 1, 8 - nacc)

    def seg(marker, payload):
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    out = b"\xff\xd8"
    out += seg(0xFFEE, b"Adobe" + struct.pack(">HHHB", 100, 0, 0, 2))
    out += seg(0xFFDB, b"".join(bytes([i]) + bytes(int(v) for v in t.reshape(-1)[zz]) for i, t in enumerate(qt)))
    out += seg(0xFFC0, struct.pack(">BHHB", 8, h, w, 4)
               + b"".join(bytes([i + 1, 0x11, comp_q[i]]) for i in range(4)))
    out += seg(0xFFC4, b"\x00" + dc_spec + b"\x10" + ac_spec)
    out += seg(0xFFDA, bytes([4]) + b"".join(bytes([i + 1, 0x00]) for i in range(4)) + bytes([0, 63, 0]))
    out += bytes(scan) + b"\xff\xd9"
    return out


# ----------------------------------------------------------------------------- observations

OBS = []  # printed at the end


def check_16bit(name, v16, got8):
    """Which 16 -> 8 rule Pillow used for these samples."""
    v = v16.astype(np.int64)
    rules = {"truncate v>>8": v >> 8, "round v*255/65535": (v * 255 + 32767) // 65535,
             "clip min(v,255)": np.minimum(v, 255)}
    got = got8.astype(np.int64)
    match = [k for k, r in rules.items() if np.array_equal(r, got)]
    differ = int(np.count_nonzero((v >> 8) != (v * 255 + 32767) // 65535))
    OBS.append(f"{name}: Pillow 16->8 = {match or 'none of truncate/round/clip'} "
               f"(truncate and round differ in {differ}/{v.size} samples)")
    return match


def check_cmyk(name, cmyk_opened, rgb):
    c = cmyk_opened.astype(np.int64)
    k = c[:, :, 3:4]
    t = (255 - c[:, :, :3]) * (255 - k) + 128
    mul = (t + (t >> 8)) >> 8
    sub = np.maximum(0, 255 - c[:, :, :3] - k)
    rules = {"R=(255-C)*(255-K)/255 (MULDIV255, rounded)": mul, "R=255-min(255,C+K)": sub}
    match = [r for r, v in rules.items() if np.array_equal(v, rgb.astype(np.int64))]
    OBS.append(f"{name}: CMYK->RGB = {match or 'neither formula'}")


# ----------------------------------------------------------------------------- decode fixtures

def make_decode():
    entries = []
    rgb8, grey8, alpha8 = base_rgb(), base_grey(), base_alpha()

    def add(fname, source, checks=None):
        path = os.path.join(DECODE, fname)
        im = Image.open(path)
        mode, fmt, stored = im.mode, im.format, im.size
        orientation = im.getexif().get(0x0112)
        if checks:
            checks(im)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = ImageOps.exif_transpose(im).convert("RGB")
        for w in caught:
            OBS.append(f"{fname}: Pillow warns on convert('RGB'): {w.message}")
        stem = os.path.splitext(fname)[0]
        expected = stem + ".rgb"
        assert not any(e.get("expected") == expected for e in entries), expected
        write_bytes(os.path.join(DECODE, expected), planar(out))
        e = {"file": fname, "width": out.size[0], "height": out.size[1], "expected": expected,
             "source": source, "pillow_mode": mode, "pillow_format": fmt,
             "stored_size": list(stored)}
        if orientation is not None:
            e["exif_orientation"] = orientation
        if "transparency" in im.info:
            e["pillow_transparency"] = True
        entries.append(e)
        return out

    def add_bad(fname, data, why):
        write_bytes(os.path.join(DECODE, fname), data)
        try:
            with Image.open(os.path.join(DECODE, fname)) as im:
                im.load()
                pillow = f"Pillow decodes it ({im.mode} {im.size[0]}x{im.size[1]})"
        except Exception as err:  # noqa: BLE001 - recording what Pillow does
            pillow = f"Pillow raises {type(err).__name__}: {err}"
        entries.append({"file": fname, "error": True, "why": why, "pillow": pillow})
        OBS.append(f"{fname}: {pillow}")

    png_note = "hand-written PNG (zlib+struct), row filters cycle None/Sub/Up/Average/Paeth"

    def put_png(fname, *args, **kw):
        write_bytes(os.path.join(DECODE, fname), png_bytes(*args, **kw))

    # --- PNG grey
    for depth in (1, 2, 4):
        levels = (1 << depth) - 1
        q = np.rint(grey8.astype(np.float64) * levels / 255).astype(np.uint8)
        fname = f"png-grey-{depth}bit.png"
        put_png(fname, q, depth, 0)

        def chk(im, q=q, depth=depth, levels=levels):
            a = np.asarray(im).astype(np.int64)
            if depth == 1:
                assert im.mode == "1" and np.array_equal(a, q.astype(bool)), fname
            else:
                assert im.mode == "L" and np.array_equal(a, q * (255 // levels)), fname
        add(fname, f"{png_note}; colour type 0, bit depth {depth}; sample = round(grey8 * {levels} / 255)", chk)
    put_png("png-grey-8bit.png", grey8, 8, 0)
    add("png-grey-8bit.png", f"{png_note}; colour type 0, bit depth 8",
        lambda im: np.testing.assert_array_equal(np.asarray(im), grey8))
    g16 = widen16(grey8)
    put_png("png-grey-16bit.png", g16, 16, 0)

    def chk_g16(im):
        assert im.mode == "I;16", im.mode
        np.testing.assert_array_equal(np.asarray(im), g16)
    out = add("png-grey-16bit.png", f"{png_note}; colour type 0, bit depth 16, sample = grey8 << 8 | pattern; "
              "Pillow opens as I;16 and convert('RGB') CLIPS to min(v, 255)", chk_g16)
    check_16bit("png-grey-16bit.png (I;16 -> RGB)", g16, np.asarray(out)[:, :, 0])
    # mixprep does not copy that clipping (it would whiten most 16-bit grey photos): it keeps
    # the high byte, as Pillow itself does for 16-bit RGB. Its expected pixels are written too.
    high = (g16 >> 8).astype(np.uint8)
    write_bytes(os.path.join(DECODE, "png-grey-16bit.highbyte.rgb"), planar(Image.fromarray(high).convert("RGB")))
    entries[-1]["mixprep_expected"] = "png-grey-16bit.highbyte.rgb"
    entries[-1]["mixprep_rule"] = "high byte (v >> 8), as Pillow reads 16-bit RGB; Pillow clips 16-bit grey to min(v, 255)"

    # --- PNG grey + alpha
    put_png("png-greyalpha-8bit.png", np.dstack([grey8, alpha8]), 8, 4)
    add("png-greyalpha-8bit.png", f"{png_note}; colour type 4, bit depth 8; convert drops alpha")
    ga16 = np.dstack([widen16(grey8, 0), widen16(alpha8, 1)])
    put_png("png-greyalpha-16bit.png", ga16, 16, 4)
    holder = {}
    add("png-greyalpha-16bit.png", f"{png_note}; colour type 4, bit depth 16; Pillow opens it as RGBA "
        "(grey copied to R, G, B; high byte kept), not LA", lambda im: holder.update(mode=im.mode, a=np.asarray(im)))
    assert holder["mode"] == "RGBA", holder["mode"]
    check_16bit("png-greyalpha-16bit.png (opened RGBA, grey)", ga16[:, :, 0], holder["a"][:, :, 0])
    check_16bit("png-greyalpha-16bit.png (opened RGBA, alpha)", ga16[:, :, 1], holder["a"][:, :, 3])

    # --- PNG RGB / RGBA
    put_png("png-rgb-8bit.png", rgb8, 8, 2)
    add("png-rgb-8bit.png", f"{png_note}; colour type 2, bit depth 8",
        lambda im: np.testing.assert_array_equal(np.asarray(im), rgb8))
    rgb16 = np.dstack([widen16(rgb8[:, :, c], c) for c in range(3)])
    put_png("png-rgb-16bit.png", rgb16, 16, 2, idat_split=300)
    out = add("png-rgb-16bit.png", f"{png_note}; colour type 2, bit depth 16, IDAT split in 300-byte chunks; "
              "Pillow opens as RGB (keeps high byte)")
    check_16bit("png-rgb-16bit.png (opened RGB)", rgb16, np.asarray(out))
    rgba8 = np.dstack([rgb8, alpha8])
    put_png("png-rgba-8bit.png", rgba8, 8, 6)
    add("png-rgba-8bit.png", f"{png_note}; colour type 6, bit depth 8; convert drops alpha")
    rgba16 = np.dstack([rgb16, widen16(alpha8, 3)])
    put_png("png-rgba-16bit.png", rgba16, 16, 6)
    holder = {}
    add("png-rgba-16bit.png", f"{png_note}; colour type 6, bit depth 16; Pillow opens as RGBA (keeps high byte)",
        lambda im: holder.update(a=np.asarray(im)))
    check_16bit("png-rgba-16bit.png (opened RGBA)", rgba16, holder["a"])

    # --- PNG palette, with and without tRNS
    y, x = np.mgrid[0:H, 0:W]
    for depth, n in ((1, 2), (2, 4), (4, 16), (8, 180)):
        idx = ((7 * x + 13 * y + (x * y) % 5) % n).astype(np.uint8)
        idx[0:2, 0:4] = n - 1
        rng = np.random.default_rng(1000 + depth)
        plte = rng.integers(0, 256, size=(n, 3), dtype=np.uint8)
        plte[n - 1] = (255, 255, 255)
        alphas = {1: [0], 2: [0, 128], 4: [0, 64, 128, 192, 255, 0],
                  8: [0] + [int(a) for a in rng.integers(0, 256, size=49)]}[depth]
        for with_trns in (False, True):
            fname = f"png-palette-{depth}bit{'-trns' if with_trns else ''}.png"
            put_png(fname, idx, depth, 3, plte=plte, trns=alphas if with_trns else None)

            def chk(im, idx=idx, plte=plte):
                assert im.mode == "P", im.mode
                np.testing.assert_array_equal(np.asarray(im), idx)
            desc = f"{png_note}; colour type 3, bit depth {depth}, PLTE of {n} entries"
            if with_trns:
                desc += (f", tRNS of {len(alphas)} entries (entry 0 alpha 0); "
                         "convert('RGB') takes palette RGB and drops alpha")
            out = add(fname, desc, chk)
            if with_trns:
                want = plte[idx]
                same = np.array_equal(np.asarray(out), want)
                OBS.append(f"{fname}: P+tRNS -> RGB {'equals plain palette lookup (alpha dropped)' if same else 'DIFFERS from palette lookup'}")

    # --- PNG Adam7, eXIf
    put_png("png-rgb-8bit-adam7.png", rgb8, 8, 2, interlace=True, idat_split=200)
    add("png-rgb-8bit-adam7.png", f"{png_note} (per pass); colour type 2, bit depth 8, Adam7 interlaced, "
        "IDAT split in 200-byte chunks",
        lambda im: np.testing.assert_array_equal(np.asarray(im), rgb8))
    put_png("png-rgb-8bit-exif6.png", rgb8, 8, 2, exif=exif_tiff(6, True))
    add("png-rgb-8bit-exif6.png", f"{png_note}; colour type 2, bit depth 8, eXIf chunk (big-endian TIFF) "
        "before IDAT with Orientation 6: expected is rotated 90 degrees clockwise, 16x24",
        lambda im: (im.getexif().get(0x0112) == 6) or sys.exit("eXIf not read"))

    # --- JPEG
    base = Image.fromarray(rgb8, "RGB")

    def put_jpeg(fname, img, **kw):
        buf = io.BytesIO()
        img.save(buf, "JPEG", **kw)
        write_bytes(os.path.join(DECODE, fname), buf.getvalue())
        return buf.getvalue()

    baseline = put_jpeg("jpeg-baseline-420-q90.jpg", base, quality=90, subsampling=2)
    add("jpeg-baseline-420-q90.jpg", "Pillow save JPEG quality=90 subsampling=4:2:0 (baseline, standard Huffman tables)")
    put_jpeg("jpeg-444-q95.jpg", base, quality=95, subsampling=0)
    add("jpeg-444-q95.jpg", "Pillow save JPEG quality=95 subsampling=4:4:4")
    put_jpeg("jpeg-progressive-420-q90.jpg", base, quality=90, subsampling=2, progressive=True)
    add("jpeg-progressive-420-q90.jpg", "Pillow save JPEG quality=90 subsampling=4:2:0 progressive=True")
    put_jpeg("jpeg-grey-q90.jpg", Image.fromarray(grey8, "L"), quality=90)
    add("jpeg-grey-q90.jpg", "Pillow save of an L image, JPEG quality=90 (1 component)")
    cmyk = base_cmyk()
    put_jpeg("jpeg-cmyk-adobe.jpg", Image.fromarray(cmyk, "CMYK"), quality=95)
    holder = {}
    out = add("jpeg-cmyk-adobe.jpg", "Pillow save of a CMYK image, JPEG quality=95: 4 components, Adobe APP14 "
              "transform 0, inverted (Adobe) CMYK; Pillow opens as CMYK and converts with its own formula, no ICC",
              lambda im: holder.update(a=np.asarray(im)))
    check_cmyk("jpeg-cmyk-adobe.jpg", holder["a"], np.asarray(out))
    err = np.abs(holder["a"].astype(int) - cmyk.astype(int)).max()
    OBS.append(f"jpeg-cmyk-adobe.jpg: decoded CMYK within {err} of the CMYK written (JPEG loss)")
    write_bytes(os.path.join(DECODE, "jpeg-ycck-adobe.jpg"), ycck_jpeg(cmyk))
    holder = {}
    out = add("jpeg-ycck-adobe.jpg", "written by this script (no tool here writes YCCK): baseline, 4 components "
              "1x1, Adobe APP14 transform 2 (YCCK), Y/Cb/Cr from (C,M,Y) and inverted K, quality-95 IJG "
              "tables, fixed-length Huffman codes; libjpeg converts YCCK->CMYK, Pillow opens as CMYK",
              lambda im: holder.update(a=np.asarray(im), adobe=im.info.get("adobe_transform")))
    assert holder["adobe"] == 2, holder["adobe"]
    check_cmyk("jpeg-ycck-adobe.jpg", holder["a"], np.asarray(out))
    err = np.abs(holder["a"].astype(int) - cmyk.astype(int)).max()
    OBS.append(f"jpeg-ycck-adobe.jpg: decoded CMYK within {err} of the CMYK written (JPEG loss)")
    assert err <= 16, err  # q95 chroma quantisation of the sharp 2x2 checker; at q100 it is <= 2
    for o in range(1, 9):
        fname = f"jpeg-exif-orientation-{o}.jpg"
        put_jpeg(fname, base, quality=90, subsampling=2, exif=jpeg_exif(o, big_endian=(o % 2 == 0)))
        add(fname, f"the baseline 4:2:0 q90 picture with an APP1 EXIF ({'big' if o % 2 == 0 else 'little'}-endian "
            f"TIFF) holding only Orientation {o}; expected = exif_transpose",
            lambda im, o=o: (im.getexif().get(0x0112) == o) or sys.exit(f"orientation {o} not read"))
    write_bytes(os.path.join(DECODE, "PHOTO.JPEG"), baseline)
    add("PHOTO.JPEG", "byte copy of jpeg-baseline-420-q90.jpg under an upper-case .JPEG name")

    # --- WebP
    def put_webp(fname, img, **kw):
        buf = io.BytesIO()
        img.save(buf, "WEBP", **kw)
        write_bytes(os.path.join(DECODE, fname), buf.getvalue())

    put_webp("webp-lossy.webp", base, quality=80, method=4)
    add("webp-lossy.webp", "Pillow save WEBP quality=80 method=4 (lossy VP8)")
    put_webp("webp-lossless.webp", base, lossless=True, quality=100, method=4)
    add("webp-lossless.webp", "Pillow save WEBP lossless=True (VP8L)",
        lambda im: np.testing.assert_array_equal(np.asarray(im.convert("RGB")), rgb8))
    rgba_img = Image.fromarray(rgba8, "RGBA")
    put_webp("webp-lossless-alpha.webp", rgba_img, lossless=True, quality=100, method=4, exact=True)
    holder = {}
    out = add("webp-lossless-alpha.webp", "Pillow save of an RGBA image, WEBP lossless=True exact=True (RGB kept "
              "under alpha 0); opens as RGBA; convert('RGB') drops alpha",
              lambda im: holder.update(mode=im.mode, a=np.asarray(im)))
    t = alpha8 == 0
    kept = np.array_equal(np.asarray(out)[t], rgb8[t])
    OBS.append(f"webp-lossless-alpha.webp: opened {holder['mode']}, alpha preserved="
               f"{np.array_equal(holder['a'][:, :, 3], alpha8)}; RGB under alpha 0 "
               f"{'kept as written (non-zero), no premultiply' if kept else 'CHANGED'}")
    put_webp("webp-lossless-exif8.webp", base, lossless=True, quality=100, method=4,
             exif=jpeg_exif(8, big_endian=False))
    add("webp-lossless-exif8.webp", "Pillow save WEBP lossless=True with an EXIF chunk (Orientation 8): "
        "expected is rotated 90 degrees counter-clockwise, 16x24",
        lambda im: (im.getexif().get(0x0112) == 8) or sys.exit("webp orientation not read"))

    # --- bad files
    add_bad("bad-jpeg-truncated-half.jpg", baseline[:len(baseline) // 2],
            "jpeg-baseline-420-q90.jpg cut to its first half (no EOI, scan data missing)")
    good = png_bytes(rgb8, 8, 2)
    z = zlib.compress(bytes(filter_rows([pack_row(rgb8[r].reshape(-1), 8) for r in range(H)], 3)), 9)
    head = good[:8 + 25]  # signature + IHDR
    add_bad("bad-png-idat-truncated.png", head + png_chunk(b"IDAT", z[:len(z) // 2]) + png_chunk(b"IEND", b""),
            "well-formed chunks (lengths and CRCs right) but IDAT holds only the first half of the zlib stream")
    idat_at = good.index(b"IDAT") - 4
    add_bad("bad-png-file-cut-in-idat.png", good[:idat_at + 8 + (len(good) - idat_at - 8 - 12) // 2],
            "the file ends in the middle of the IDAT chunk's data (no CRC, no IEND)")
    bad_crc = bytearray(good)
    crc_at = idat_at + 8 + struct.unpack(">I", good[idat_at:idat_at + 4])[0]
    bad_crc[crc_at] ^= 0xFF
    add_bad("bad-png-idat-bad-crc.png", bytes(bad_crc),
            "png-rgb-8bit picture with the IDAT CRC's first byte flipped; data intact (libpng rejects a bad "
            "critical-chunk CRC; Pillow does not check IDAT CRCs)")
    add_bad("not-an-image.jpg", b"This is a text file with a .jpg name, not a JPEG.\n", "plain text")
    add_bad("empty.png", b"", "zero bytes")

    write_json(os.path.join(DECODE, "expected.json"), entries)
    return entries


# ----------------------------------------------------------------------------- resize fixtures

FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS}


def shorter_size(w, h, th, tw):
    s = max(th / h, tw / w)
    return max(tw, math.floor(w * s + 0.5)), max(th, math.floor(h * s + 0.5))


def resize_case(src, size, mode, resample):
    """The definition the Swift side implements (ImageCodecs' SizePolicy).

    decode: Image.open(src); for a JPEG, first draft("RGB", req) where req is twice the
    resize target computed in the ORIENTED full-size frame ((nw, nh) for "shorter",
    (tw, th) for "stretch"), swapped for EXIF orientations 5-8 (draft works in the stored
    frame); Pillow then decodes at 1/s, s the largest of 8, 4, 2, 1 with
    s <= min(stored_w // req_w, stored_h // req_h). Then exif_transpose, convert("RGB"),
    w, h = size (after any draft).
    "shorter": s = max(th / h, tw / w); nw = max(tw, floor(w*s + 0.5)),
    nh = max(th, floor(h*s + 0.5)); resize((nw, nh), FILTER); crop from
    ((nw - tw) // 2, (nh - th) // 2), tw x th.  "stretch": resize((tw, th), FILTER).
    FILTER: Image.BICUBIC / BILINEAR / LANCZOS, reducing_gap None (the default).
    """
    th, tw = size
    path = os.path.join(RESIZE, src)
    probe = Image.open(path)
    orientation = probe.getexif().get(0x0112, 1)
    ow, oh = ImageOps.exif_transpose(probe).size
    im = Image.open(path)
    draft, scale = None, 1
    if im.format == "JPEG":
        tw0, th0 = shorter_size(ow, oh, th, tw) if mode == "shorter" else (tw, th)
        req = (2 * tw0, 2 * th0)
        if orientation in (5, 6, 7, 8):
            req = (req[1], req[0])
        stored = im.size
        im.draft("RGB", req)
        scale = im.decoderconfig[0] if im.decoderconfig else 1
        expect_s = next(s for s in (8, 4, 2, 1) if s <= min(stored[0] // req[0], stored[1] // req[1]))
        assert scale == expect_s, (src, scale, expect_s)
        if scale > 1:
            draft = list(im.size)
    im = ImageOps.exif_transpose(im).convert("RGB")
    w, h = im.size
    if mode == "shorter":
        nw, nh = shorter_size(w, h, th, tw)
        resized = im.resize((nw, nh), FILTERS[resample])
        left, top = (nw - tw) // 2, (nh - th) // 2
        out = resized.crop((left, top, left + tw, top + th))
        extra = {"resized": [nw, nh], "crop": [left, top, left + tw, top + th]}
    else:
        out = im.resize((tw, th), FILTERS[resample])
        extra = {"resized": [tw, th], "crop": None}
    assert out.size == (tw, th)
    return out, draft, scale, orientation, (ow, oh), (w, h), extra


def make_resize():
    cifar_path, cif = cifar_images()
    bic = Image.BICUBIC

    def put(fname, img, **kw):
        buf = io.BytesIO()
        img.save(buf, **kw)
        write_bytes(os.path.join(RESIZE, fname), buf.getvalue())

    sources = {
        "src-80x60.png": "CIFAR-10 test record 0 upscaled to 80x60 with Pillow BICUBIC, PNG",
        "src-37x53.png": "CIFAR-10 test record 1 resized to 37x53 with Pillow BICUBIC, PNG",
        "src-16x12.png": "CIFAR-10 test record 2 resized to 16x12 with Pillow BICUBIC, PNG",
        "src-256x192.jpg": "CIFAR-10 test record 3 upscaled to 256x192 with Pillow BICUBIC, JPEG q90 4:2:0",
        "src-192x256-exif6.jpg": "CIFAR-10 test record 4 upscaled to 192x256 (W x H) with Pillow BICUBIC, stored "
                                 "rotated 90 degrees counter-clockwise (256x192) with EXIF Orientation 6, JPEG q90 4:2:0",
    }
    put("src-80x60.png", cif[0].resize((80, 60), bic), format="PNG")
    put("src-37x53.png", cif[1].resize((37, 53), bic), format="PNG")
    put("src-16x12.png", cif[2].resize((16, 12), bic), format="PNG")
    put("src-256x192.jpg", cif[3].resize((256, 192), bic), format="JPEG", quality=90, subsampling=2)
    put("src-192x256-exif6.jpg", cif[4].resize((192, 256), bic).transpose(Image.Transpose.ROTATE_90),
        format="JPEG", quality=90, subsampling=2, exif=jpeg_exif(6, big_endian=False))

    cases = [
        ("src-80x60.png", [32, 32], "shorter", "bicubic"),
        ("src-80x60.png", [32, 32], "shorter", "bilinear"),
        ("src-80x60.png", [32, 32], "shorter", "lanczos"),
        ("src-80x60.png", [24, 40], "stretch", "bicubic"),
        ("src-37x53.png", [32, 32], "shorter", "bicubic"),
        ("src-37x53.png", [16, 24], "shorter", "bicubic"),
        ("src-37x53.png", [32, 32], "shorter", "lanczos"),
        ("src-16x12.png", [32, 32], "shorter", "bicubic"),
        ("src-16x12.png", [20, 30], "stretch", "bilinear"),
        ("src-256x192.jpg", [32, 32], "shorter", "bicubic"),
        ("src-256x192.jpg", [64, 64], "shorter", "bicubic"),
        ("src-256x192.jpg", [16, 16], "stretch", "bicubic"),
        ("src-192x256-exif6.jpg", [32, 32], "shorter", "bicubic"),
        ("src-192x256-exif6.jpg", [16, 24], "stretch", "bicubic"),
    ]
    entries = []
    for src, size, mode, resample in cases:
        out, draft, scale, orientation, osize, dsize, extra = resize_case(src, size, mode, resample)
        name = f"{os.path.splitext(src)[0]}-{mode}-{size[0]}x{size[1]}-{resample}.rgb"
        write_bytes(os.path.join(RESIZE, name), planar(out))
        e = {"file": src, "size": size, "resize": mode, "resample": resample, "expected": name,
             "width": out.size[0], "height": out.size[1], "draft": draft, "draft_scale": scale,
             "exif_orientation": orientation, "oriented_size": list(osize), "decoded_size": list(dsize)}
        e.update(extra)
        entries.append(e)
        OBS.append(f"resize {src} {mode} {size} {resample}: draft scale 1/{scale} -> {draft}, "
                   f"decoded {dsize[0]}x{dsize[1]}, resized {extra['resized']}")
    write_json(os.path.join(RESIZE, "expected.json"), entries)
    write_json(os.path.join(RESIZE, "sources.json"),
               [{"file": k, "source": v} for k, v in sources.items()]
               + [{"cifar_file": os.path.relpath(cifar_path, ROOT) if cifar_path.startswith(ROOT) else cifar_path}])
    return entries


# ----------------------------------------------------------------------------- layout fixtures

def save_tiny(rel, w, h, seed, tint):
    img = tiny_rgb(w, h, seed, tint)
    ext = os.path.splitext(rel)[1].lower()
    buf = io.BytesIO()
    if ext in (".jpg", ".jpeg"):
        img.save(buf, "JPEG", quality=90)
    elif ext == ".png":
        img.save(buf, "PNG")
    elif ext == ".webp":
        img.save(buf, "WEBP", quality=80, method=4)
    else:
        raise ValueError(rel)
    write_bytes(os.path.join(LAYOUTS, rel), buf.getvalue())


TINTS = {"cat": (230, 120, 40), "dog": (40, 90, 230), "bird": (60, 200, 90), "plane, small": (200, 200, 210),
         "apple": (220, 30, 40), "banana": (240, 220, 50), "cherry": (140, 0, 40)}
SIZES = [(8, 6), (10, 8), (12, 10), (9, 7), (11, 9), (8, 8)]


def make_layouts():
    seed = [0]

    def tiny(rel, tint):
        seed[0] += 1
        w, h = SIZES[seed[0] % len(SIZES)]
        save_tiny(rel, w, h, seed[0], TINTS.get(tint, (128, 128, 128)))

    # folders/
    for f in ["cat_001.jpg", "cat_002.PNG", "cat_003.webp"]:
        tiny(f"folders/train/cat/{f}", "cat")
    for f in ["dog_001.JPEG", "dog_002.png", "dog_003.jpg", "more/dog_004.png"]:
        tiny(f"folders/train/dog/{f}", "dog")
    write_bytes(os.path.join(LAYOUTS, "folders/train/cat/.DS_Store"),
                b"\x00\x00\x00\x01Bud1" + bytes(range(0, 256, 7)) + b"\x00" * 16)
    write_bytes(os.path.join(LAYOUTS, "folders/train/cat/notes.txt"),
                b"Not an image: a loader must skip files whose extension is not .jpg/.jpeg/.png/.webp.\n")
    for f in ["cat_101.jpg", "cat_102.png"]:
        tiny(f"folders/test/cat/{f}", "cat")
    for f in ["dog_101.webp", "dog_102.JPEG"]:
        tiny(f"folders/test/dog/{f}", "dog")

    # imagenet/
    for syn, ids in (("n01440764", [10026, 10027, 10029]), ("n01443537", [10007, 10014])):
        for i in ids:
            tiny(f"imagenet/train/{syn}/{syn}_{i}.JPEG", "cat" if syn.endswith("4") else "dog")
    for syn, ids in (("n01440764", [293]), ("n01443537", [236, 2338])):
        for i in ids:
            tiny(f"imagenet/val/{syn}/ILSVRC2012_val_{i:08d}.JPEG", "cat" if syn.endswith("4") else "dog")

    # csv/
    labels = ["bird", "plane, small", "cat"]

    def csv_field(s):
        return '"' + s.replace('"', '""') + '"' if any(ch in s for ch in ',"\r\n') else s

    for split, per in (("train", 2), ("val", 1)):
        lines = ["path,label\n"]
        n = 0
        for k in range(per):
            for lab in labels:
                n += 1
                ext = [".png", ".jpg", ".webp"][n % 3]
                rel = f"images/{split}_{n:02d}{ext}"
                tiny(f"csv/{rel}", lab)
                lines.append(f"{rel},{csv_field(lab)}\n")
        if split == "train":
            lines[2] = lines[2].replace("\n", "\r\n")  # exactly one CRLF line (the second data row)
        write_bytes(os.path.join(LAYOUTS, f"csv/{split}.csv"), "".join(lines).encode())

    # single/
    for cls in ("apple", "banana", "cherry"):
        for i in range(1, 6):
            ext = [".jpg", ".png", ".JPEG", ".webp", ".PNG"][i - 1]
            tiny(f"single/{cls}/{cls}_{i}{ext}", cls)

    # csv300/
    for i in range(4):
        tiny(f"csv300/images/img{i}.png", None)
    for split in ("train", "test"):
        rows = ["path,label\n"] + [f"images/img{(i + (split == 'test')) % 4}.png,class{i:03d}\n" for i in range(300)]
        write_bytes(os.path.join(LAYOUTS, f"csv300/{split}.csv"), "".join(rows).encode())

    readme = """# Dataset layout fixtures

Tiny images (8x6 to 12x10 pixels, sizes mixed on purpose) arranged as the layouts the
dataset loader recognises. Generated by `scripts/make-image-fixtures.py` (Pillow; needed
only to regenerate). Counts:

- `folders/` - `train/` and `test/`, one folder per class.
  - `train/cat/`: 3 images (`.jpg`, `.PNG`, `.webp`) plus `.DS_Store` (junk bytes) and
    `notes.txt`, which are not images.
  - `train/dog/`: 3 images (`.JPEG`, `.png`, `.jpg`) plus `more/dog_004.png` in a nested
    folder (4 if nested folders count).
  - `test/cat/`: 2 (`.jpg`, `.png`); `test/dog/`: 2 (`.webp`, `.JPEG`).
  - Classes: cat, dog. Train 6 images (7 with the nested one), test 4.
- `imagenet/` - ImageNet-style synset folders, all `.JPEG`.
  - `train/n01440764/`: 3 (`n01440764_10026.JPEG`, ...); `train/n01443537/`: 2.
  - `val/n01440764/`: 1; `val/n01443537/`: 2 (`ILSVRC2012_val_00000236.JPEG`, ...).
  - Train 5, val 3, 2 classes.
- `csv/` - `train.csv` (6 rows) and `val.csv` (3 rows), header `path,label`, paths relative
  to the CSV's folder (`images/...`, mixed `.png`/`.jpg`/`.webp`). Labels `bird`,
  `"plane, small"` (quoted, contains a comma) and `cat`, two train rows and one val row
  each. The second data row of `train.csv` ends in CRLF, every other line in LF.
- `single/` - no split folders: `apple/`, `banana/`, `cherry/`, 5 images each (15 in all;
  `.jpg`, `.png`, `.JPEG`, `.webp`, `.PNG`).
- `csv300/` - `train.csv` and `test.csv`, 300 rows each, one per class `class000` ...
  `class299` in that order; every row points at one of 4 PNGs in `images/`
  (`img{i % 4}.png` in train, `img{(i + 1) % 4}.png` in test).
"""
    write_bytes(os.path.join(LAYOUTS, "README.md"), readme.encode())


# ----------------------------------------------------------------------------- main

def main():
    versions = (f"Pillow {PIL.__version__}, libjpeg-turbo {features.version('libjpeg_turbo')}, "
                f"libwebp {features.version('webp')}, zlib (PNG writer) {zlib.ZLIB_RUNTIME_VERSION}, "
                f"numpy {np.__version__}")
    print("using " + versions)
    for d in (DECODE, RESIZE, LAYOUTS):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    dec = make_decode()
    res = make_resize()
    make_layouts()
    readme = f"""# Image codec fixtures

Generated by `scripts/make-image-fixtures.py` with {versions}.
Pillow is only the fixture maker; see the script's docstring for what each file is,
how expected pixels are computed (`ImageOps.exif_transpose(Image.open(f)).convert("RGB")`,
saved as planar C x H x W uint8 `.rgb`) and what Pillow does with 16-bit, CMYK, palette
and alpha input. JPEG expectations assume libjpeg-turbo's defaults (JDCT_ISLOW, fancy
upsampling); WebP ones libwebp's default decoder.

- `decode/expected.json`: {sum(1 for e in dec if not e.get('error'))} good files, {sum(1 for e in dec if e.get('error'))} bad ones (`"error": true`).
- `resize/expected.json`: {len(res)} resize cases over the `src-*` pictures (`resize/sources.json`).
"""
    write_bytes(os.path.join(CODECS, "README.md"), readme.encode())
    print("\nobservations:")
    for line in OBS:
        print("  " + line)
    total = 0
    for d in (CODECS, LAYOUTS):
        for base, _, files in os.walk(d):
            total += sum(os.path.getsize(os.path.join(base, f)) for f in files)
    print(f"\nwrote {len(dec)} decode entries, {len(res)} resize cases; fixtures total {total} bytes")


if __name__ == "__main__":
    main()
