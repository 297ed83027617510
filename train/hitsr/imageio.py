"""Minimal image I/O without PIL: PNG read via ImageMagick/ffmpeg -> PPM, PNG write via zlib."""
import os
import struct
import subprocess
import zlib

import numpy as np


def _parse_ppm(b: bytes) -> np.ndarray:
    # P6 / P5 with optional comments
    fields = []
    i = 0
    while len(fields) < 4:
        while b[i:i + 1].isspace():
            i += 1
        if b[i:i + 1] == b"#":
            while b[i:i + 1] not in (b"\n", b""):
                i += 1
            continue
        j = i
        while not b[j:j + 1].isspace():
            j += 1
        fields.append(b[i:j])
        i = j
    i += 1
    magic, w, h, mx = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    assert mx == 255, "only 8-bit images"
    c = 3 if magic == b"P6" else 1
    a = np.frombuffer(b, dtype=np.uint8, count=w * h * c, offset=i).reshape(h, w, c)
    if c == 1:
        a = np.repeat(a, 3, axis=2)
    return a.copy()


def read_image(path: str) -> np.ndarray:
    """Returns HxWx3 uint8 RGB."""
    try:
        out = subprocess.run(["convert", path, "-strip", "-depth", "8", "ppm:-"], check=True,
                             capture_output=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "image2pipe", "-vcodec", "ppm",
                              "-pix_fmt", "rgb24", "-"], check=True, capture_output=True).stdout
    return _parse_ppm(out)


def write_png(path: str, img: np.ndarray) -> None:
    """img: HxWx3 (or HxW) uint8."""
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
