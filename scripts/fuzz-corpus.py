#!/usr/bin/env python3
"""Writes the seed corpora and the media regression inputs of the fuzz suite (Tests/FuzzTests).

Deterministic (no randomness, no clock): running it again rewrites the same bytes. The JPEGs
are made with libturbojpeg's own compressor (through ctypes), as a camera's MJPEG frames are;
everything else is written byte by byte. Usage: python3 scripts/fuzz-corpus.py [Tests/FuzzTests]
"""
import ctypes
import json
import os
import struct
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "Tests", "FuzzTests")


def write(folder, name, data):
    path = os.path.join(ROOT, folder, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# --- Y4M -------------------------------------------------------------------------------------

def y4m(header, width, height, chroma, frames):
    """`chroma` is (horizontal, vertical) subsampling, or None for mono."""
    luma = width * height
    plane = 0 if chroma is None else ((width + chroma[0] - 1) // chroma[0]) * ((height + chroma[1] - 1) // chroma[1])
    out = (header + "\n").encode()
    for f in range(frames):
        out += b"FRAME\n" + bytes((i * 7 + f * 13) & 0xFF for i in range(luma + 2 * plane))
    return out


write("Corpus/y4m", "420jpeg-16x16-2frames.y4m",
      y4m("YUV4MPEG2 W16 H16 F30:1 Ip A1:1 C420jpeg XCOLORRANGE=LIMITED", 16, 16, (2, 2), 2))
write("Corpus/y4m", "mono-full-8x6-3frames.y4m",
      y4m("YUV4MPEG2 W8 H6 F25:1 Cmono XCOLORRANGE=FULL", 8, 6, None, 3))
write("Corpus/y4m", "444-odd-7x5-1frame.y4m",
      y4m("YUV4MPEG2 W7 H5 F30000:1001 It C444", 7, 5, (1, 1), 1))
write("Corpus/y4m", "422-params-6x4-2frames.y4m",
      y4m("YUV4MPEG2 W6 H4 F15:1 Ib A10:11 C422 XYSCSS=422", 6, 4, (2, 1), 2).replace(b"FRAME\n", b"FRAME Ixyz\n", 1))
write("Corpus/y4m", "header-only-420mpeg2-4x2.y4m",
      y4m("YUV4MPEG2 W4 H2 F60:1 C420mpeg2", 4, 2, (2, 2), 0))

# Refused by the media regression test (Tests/FuzzTests/Regressions/README.md).
write("Regressions/y4m", "frame-rate-1000000-1.y4m",
      y4m("YUV4MPEG2 W32 H32 F1000000:1 Ip A1:1 C420jpeg", 32, 32, (2, 2), 2))
write("Regressions/y4m", "size-99999x99999.y4m",
      b"YUV4MPEG2 W99999 H99999 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(64))


# --- WAV -------------------------------------------------------------------------------------

def chunk(name, payload):
    return name + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) % 2 else b"")


def fmt(tag, channels, rate, bits, align=None, extensible_tag=None):
    align = channels * bits // 8 if align is None else align
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    if extensible_tag is not None:
        body += struct.pack("<HHIH", 22, bits, 0, extensible_tag)
        body += bytes([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71])
    return chunk(b"fmt ", body)


def riff(*chunks, size=None):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) if size is None else size) + body


def tone(count, channels, pack):
    """`count` frames of a slow sawtooth in every channel, packed by `pack(value in -1..1)`."""
    return b"".join(pack(((i * 37 + c * 11) % 200 - 100) / 128) for i in range(count) for c in range(channels))


s16 = lambda v: struct.pack("<h", int(v * 32767))
u8 = lambda v: struct.pack("<B", int(v * 127 + 128))
s24 = lambda v: struct.pack("<i", int(v * 8388607))[:3]
f32 = lambda v: struct.pack("<f", v)
f64 = lambda v: struct.pack("<d", v)

write("Corpus/wav", "s16-mono-16k.wav", riff(fmt(1, 1, 16000, 16), chunk(b"data", tone(160, 1, s16))))
write("Corpus/wav", "u8-stereo-8k-list.wav",
      riff(fmt(1, 2, 8000, 8), chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00hh-fz\x00"), chunk(b"data", tone(81, 2, u8))))
write("Corpus/wav", "s24-3ch-48k-extensible.wav",
      riff(fmt(0xFFFE, 3, 48000, 24, extensible_tag=1), chunk(b"fact", struct.pack("<I", 64)), chunk(b"data", tone(64, 3, s24))))
write("Corpus/wav", "f32-mono-44k1.wav", riff(fmt(3, 1, 44100, 32), chunk(b"data", tone(100, 1, f32))))
# A recorder that could not seek back: sizes 0xFFFFFFFF, the data runs to the end of the file.
write("Corpus/wav", "f64-stereo-22k05-unsized.wav",
      riff(fmt(3, 2, 22050, 64), b"data" + struct.pack("<I", 0xFFFFFFFF) + tone(40, 2, f64), size=0xFFFFFFFF))

write("Regressions/wav", "sample-rate-1hz.wav", riff(fmt(1, 1, 1, 16), chunk(b"data", tone(4, 1, s16))))
write("Regressions/wav", "zero-channels.wav", riff(fmt(1, 0, 16000, 16, align=2), chunk(b"data", tone(16, 1, s16))))


# --- MJPEG frames (libturbojpeg, as the camera's frames) ------------------------------------------

TJPF_RGB, TJPF_GRAY = 0, 6
TJSAMP_444, TJSAMP_422, TJSAMP_420, TJSAMP_GRAY = 0, 1, 2, 3
TJFLAG_PROGRESSIVE = 16384

tj = ctypes.CDLL("libturbojpeg.so.0")
tj.tjInitCompress.restype = ctypes.c_void_p
tj.tjDestroy.argtypes = [ctypes.c_void_p]
tj.tjFree.argtypes = [ctypes.c_void_p]
tj.tjCompress2.argtypes = [
    ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
    ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_ulong), ctypes.c_int, ctypes.c_int, ctypes.c_int,
]


def jpeg(width, height, subsampling, quality, flags=0):
    """A picture of gradients with a skin-toned patch, as JPEG bytes."""
    grey = subsampling == TJSAMP_GRAY
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            patch = width // 4 <= x < 3 * width // 4 and height // 4 <= y < 3 * height // 4
            rgb = (224, 172, 150) if patch else (x * 255 // width, y * 255 // height, 128)
            pixels += bytes([rgb[1]]) if grey else bytes(rgb)
    handle = tj.tjInitCompress()
    output, size = ctypes.c_void_p(), ctypes.c_ulong(0)
    status = tj.tjCompress2(handle, bytes(pixels), width, width * (1 if grey else 3), height, TJPF_GRAY if grey else TJPF_RGB,
                            ctypes.byref(output), ctypes.byref(size), subsampling, quality, flags)
    assert status == 0, "tjCompress2 failed"
    data = ctypes.string_at(output, size.value)
    tj.tjFree(output)
    tj.tjDestroy(handle)
    return data


# The decoder is told the frame size, as the camera's negotiated format tells it: -WxH in the name.
write("Corpus/mjpeg", "422-q85-32x24.jpg", jpeg(32, 24, TJSAMP_422, 85))
write("Corpus/mjpeg", "420-q50-33x17.jpg", jpeg(33, 17, TJSAMP_420, 50))
write("Corpus/mjpeg", "444-q95-16x16.jpg", jpeg(16, 16, TJSAMP_444, 95))
write("Corpus/mjpeg", "grey-q75-24x8.jpg", jpeg(24, 8, TJSAMP_GRAY, 75))
write("Corpus/mjpeg", "progressive-420-q80-40x16.jpg", jpeg(40, 16, TJSAMP_420, 80, TJFLAG_PROGRESSIVE))


# --- Session documents (POST /v1/sessions), as WireJSON writes them: sorted keys --------------------

def timestamp(seconds):
    import datetime
    moment = datetime.datetime(2027, 1, 15, 9, 30, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def session(index, seconds, samples, turns, full):
    heart = []
    for t in range(samples):
        sample = {"t": float(t + 5)}
        if t % 4 != 3:
            sample["bpm"] = 60 + (t * 7) % 40 + 0.5
            sample["snr_db"] = round(2 + (t % 9) * 0.75, 2)
            if full and t % 2 == 0:
                sample["respiration_bpm"] = 12 + t % 6
        heart.append(sample)
    rates = [s["bpm"] for s in heart if "bpm" in s]
    summary = {"seconds_with_estimate": len(rates)}
    if rates:
        ordered = sorted(rates)
        summary["heart_rate_median_bpm"] = ordered[len(ordered) // 2]
        summary["heart_rate_min_bpm"] = ordered[0]
        summary["heart_rate_max_bpm"] = ordered[-1]
        summary["snr_median_db"] = 4.5
    if full:
        summary["respiration_median_bpm"] = 14
        summary["variability"] = {"rmssd_ms": 38.25, "sdnn_ms": 51.5}
    metadata = {"software_version": "0.4.0", "pulse_method": "pos"}
    if full:
        metadata["camera"] = "MJPG 640x480 @30"
    document = {
        "schema_version": 1,
        "id": "6f1c2e4a-0b7d-4c3e-9a51-%012x" % (0x3C0FFEE00000 + index),
        "started_at": timestamp(0),
        "ended_at": timestamp(seconds),
        "end_reason": ["absence", "maximum_length", "shutdown"][index % 3],
        "heart_rate": heart,
        "summary": summary,
        "voice_turns": [
            {"id": "0d3e5f71-8a2b-4c6d-b0e1-%012x" % (0x7E5700 + 16 * index + k), "start_s": 3.0 + 4 * k, "end_s": 5.25 + 4 * k}
            for k in range(turns)
        ],
        "metadata": metadata,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


write("Corpus/session", "minimal.json", session(0, 8, 0, 0, False))
write("Corpus/session", "typical.json", session(1, 40, 20, 2, True))
write("Corpus/session", "long.json", session(2, 150, 120, 9, True))


# --- Control socket request lines (one JSON object a line) -------------------------------------------

write("Corpus/control", "status.jsonl", b'{"version":1,"command":"status"}\n')
write("Corpus/control", "sessions-limit.jsonl", b'{"command":"sessions","limit":20,"version":1}\n')
write("Corpus/control", "flush-spaced.jsonl", b'{ "version" : 1, "command" : "flush" }\n')
write("Corpus/control", "two-lines.jsonl", b'{"version":1,"command":"status"}\n{"version":1,"command":"sessions","limit":1000}\n')


# --- Voice turns (multipart/form-data, boundary "fuzzb": a turn part and a WAV) --------------------

def turn_body(turn, audio, boundary=b"fuzzb"):
    parts = [(b"turn", b"application/json", json.dumps(turn, separators=(",", ":")).encode()), (b"audio", b"audio/wav", audio)]
    body = b""
    for name, kind, data in parts:
        body += b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + name + b"\"\r\nContent-Type: " + kind + b"\r\n\r\n" + data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


loud = lambda v: struct.pack("<h", int(v * 30000))
write("Corpus/turn", "question-16k.multipart", turn_body(
    {"id": "2b1e6f3a-8c4d-4e5f-9a0b-1c2d3e4f5a6b", "started_at": "2026-12-02T10:00:00Z", "language": "en",
     "vitals": {"heart_rate_bpm": 72.4, "heart_rate_snr_db": 8.1, "respiration_bpm": None}},
    riff(fmt(1, 1, 16000, 16), chunk(b"data", tone(400, 1, loud)))))
write("Corpus/turn", "stereo-44k1-no-vitals.multipart", turn_body(
    {"id": "7c9e2d1a-0b3f-4a6e-8d5c-4b3a2f1e0d9c", "started_at": "2026-12-02T10:00:05.250Z"},
    riff(fmt(1, 2, 44100, 16), chunk(b"data", tone(300, 2, loud)))))
