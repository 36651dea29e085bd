"""Real recorded speech from Debian packages, for training and evaluating the voice detector.

Every source is one or more real speakers recorded in a studio (the Asterisk telephone
prompts) or elsewhere (the PocketSphinx and Codec2 test recordings), installed with apt-get
(`scripts/install-deps.sh` names the packages). Each has a role, and a source is used only
in its role:

* "train": training and model selection (`corpus.py --split train`);
* "held-out": sources we chose to keep out of training and model selection entirely, reported
  on their own (`corpus.py --split heldout`);
* "independent": the recordings the project reserves for independent evaluation (issue 17:
  `pocketsphinx-testdata`, `codec2-examples`, `asterisk-core-sounds-en-wav`), never used for
  training or tuning (`corpus.py --split independent`).

The Asterisk core sounds come as G.722 at 16 kHz (decoded with spandsp through ctypes) or as
8 kHz WAV; everything is returned at 16 kHz, trimmed to its active part.
"""
import ctypes
import glob
import os
import sys
import wave
from dataclasses import dataclass

RATE = 16000
SOUNDS = "/usr/share/asterisk/sounds"


@dataclass(frozen=True)
class Source:
    """A set of recordings of real speech: the Debian package, the files, and their role."""
    package: str
    patterns: tuple
    role: str
    description: str


SOURCES = {
    "fr-june": Source("asterisk-core-sounds-fr-g722", (f"{SOUNDS}/fr_CA_f_June/**/*.g722",), "train",
                      "Canadian French, female (June), 16 kHz G.722"),
    "it-carlo": Source("asterisk-core-sounds-it-g722", (f"{SOUNDS}/it_IT_m_Carlo/**/*.g722",), "train",
                       "Italian, male (Carlo), 16 kHz G.722"),
    "it-menardi": Source("asterisk-prompt-it-menardi-wav", (f"{SOUNDS}/it_IT_f_Menardi/**/*.wav",), "train",
                         "Italian, female (Menardi), 8 kHz"),
    "ru-ivr": Source("asterisk-core-sounds-ru-g722", (f"{SOUNDS}/ru_RU_f_IvrvoiceRU/**/*.g722",), "held-out",
                     "Russian, female, 16 kHz G.722"),
    "es-allison": Source("asterisk-core-sounds-es-g722", (f"{SOUNDS}/es_MX_f_Allison/**/*.g722",), "held-out",
                         "Mexican Spanish, female (Allison), 16 kHz G.722"),
    "en-allison": Source("asterisk-core-sounds-en-wav", (f"{SOUNDS}/en_US_f_Allison/**/*.wav",), "independent",
                         "US English, female (Allison), 8 kHz"),
    "pocketsphinx": Source("pocketsphinx-testdata",
                           ("/usr/share/pocketsphinx/test/data/librivox/*.wav",
                            "/usr/share/pocketsphinx/test/data/cards/*.wav",
                            "/usr/share/pocketsphinx/test/data/*.raw"), "independent",
                           "US English read speech (LibriVox) and commands, several speakers, 16 kHz"),
    "codec2": Source("codec2-examples",
                     tuple(f"/usr/share/codec2/wav/{n}.wav" for n in
                           ("hts1a", "hts2a", "morig", "forig", "big_dog", "mmt1", "david4", "wia_16kHz")),
                     "independent", "English, male and female speakers, 8 and 16 kHz"),
}

PACKAGES = sorted({s.package for s in SOURCES.values()})

if __name__ == "__main__" and sys.argv[1:] == ["--packages"]:
    # The Debian packages to install (the Makefile passes them to scripts/install-deps.sh),
    # printed before numpy and scipy are imported: they may not be installed yet.
    print(" ".join(PACKAGES + ["libspandsp2"]))
    sys.exit(0)

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402


def sources(role):
    """The names of the sources with `role`."""
    return [name for name, s in SOURCES.items() if s.role == role]


def files(name):
    """The recordings of source `name`, sorted (stable across machines)."""
    source = SOURCES[name]
    found = sorted({path for pattern in source.patterns for path in glob.glob(pattern, recursive=True)})
    if not found:
        raise SystemExit(f"no recordings for {name}: install the Debian package {source.package} "
                         f"(scripts/install-deps.sh {source.package})")
    return found


def read(path):
    """One recording as float64 at 16 kHz, trimmed to its active part (empty if silent)."""
    if path.endswith(".g722"):
        rate, audio = RATE, _decode_g722(path)
    elif path.endswith(".raw"):  # the PocketSphinx test files: 16 kHz, 16-bit little-endian
        rate, audio = RATE, np.fromfile(path, dtype="<i2").astype(np.float64) / 32768
    else:
        with wave.open(path, "rb") as w:
            rate, channels = w.getframerate(), w.getnchannels()
            audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
            audio = audio.reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        audio = signal.resample_poly(audio, RATE, rate)
    if len(audio) == 0:
        return np.zeros(0)
    audio = audio - audio.mean()
    level = np.abs(audio)
    if level.max() <= 0:
        return np.zeros(0)
    active = np.nonzero(level > level.max() * 0.02)[0]
    return audio[max(0, active[0] - 160): active[-1] + 160]


def utterances(name, minimum_seconds=0.3):
    """Every recording of source `name` long enough to be an utterance, with its file name."""
    out = []
    for path in files(name):
        audio = read(path)
        if len(audio) >= minimum_seconds * RATE:
            out.append((audio, f"{name}:{os.path.basename(path)}"))
    return out


_spandsp = None


def _decode_g722(path):
    global _spandsp
    if _spandsp is None:
        _spandsp = ctypes.CDLL("libspandsp.so.2")
        _spandsp.g722_decode_init.restype = ctypes.c_void_p
        _spandsp.g722_decode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        _spandsp.g722_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        _spandsp.g722_decode_free.argtypes = [ctypes.c_void_p]
    data = open(path, "rb").read()
    state = _spandsp.g722_decode_init(None, 64000, 0)  # 64 kbit/s, 16 kHz output
    out = np.zeros(2 * len(data) + 16, dtype=np.int16)
    count = _spandsp.g722_decode(state, out.ctypes.data, data, len(data))
    _spandsp.g722_decode_free(state)
    return out[:count].astype(np.float64) / 32768


if __name__ == "__main__":
    for name, source in SOURCES.items():
        print(f"{name:14} {source.role:12} {source.package:32} {source.description}")
