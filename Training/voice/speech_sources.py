"""Real recorded speech from Debian packages, for training and evaluating the voice detector.

Every source is one or more real speakers recorded in a studio (the Asterisk telephone
prompts), by volunteers (the words and letters of KDE's KTuberling and KLettres, one speaker
or a few per language, in over twenty languages), by voice actors (the Dutch dialogue of the
game Fish Fillets: 1 500 acted lines, an hour once trimmed, the two leads and other parts) or
elsewhere (the PocketSphinx and Codec2 test recordings), installed with apt-get
(`scripts/install-deps.sh` names the packages). Each has a role, and a source is used only
in its role:

* "train": training and model selection (`corpus.py --split train`);
* "held-out": sources we chose to keep out of training and model selection entirely, reported
  on their own (`corpus.py --split heldout`);
* "independent": the recordings the project reserves for independent evaluation (issue 17:
  `pocketsphinx-testdata`, `codec2-examples`, `asterisk-core-sounds-en-wav`), never used for
  training or tuning (`corpus.py --split independent`);
* "acted": acted dialogue of a game kept out of training and model selection entirely, like
  "held-out", in a split of its own (`corpus.py --split acted`): voice actors, expressive and
  conversational, where the held-out split's speakers read telephone prompts;
* "optional": tried in training and not adopted (docs/VOICE.md says what it did); added to the
  train and select splits only when named (`corpus.py --extra-speech NAME`), its package
  installed only when asked for (`--packages optional`).

The Asterisk core sounds come as G.722 at 16 kHz (decoded with spandsp through ctypes) or as
8 kHz WAV, the KDE recordings and the game's as Ogg Vorbis, Opus or WAV (read with the soundfile module from PyPI);
everything is returned at 16 kHz, trimmed to its active part. A source whose recordings sit in
one folder per language (`per_folder`) counts each folder as its own speaker. Volunteers'
recordings often carry their room's hiss a few tens of dB below the word, which the corpus's
truth (within 35 dB of the loudest frame) would call speech: of a source marked
`quiet_floor_checked` (the volunteers', the game's), only the recordings whose quietest frames
lie at least 45 dB below their loudest are used (QUIET_FLOOR_DB). A source marked
`per_character` names its speaker in each file name (`_character`).

Two games keep their dialogue inside their own data files (`container`): Flight of the Amazon
Queen's in one archive, `queen.1c` (a table of 21-byte entries after a 15-byte header: a
12-byte name, a byte, then the entry's offset and size, big-endian; each spoken line an `.SB`
entry holding MP3 at 11 kHz), Drascula's one line a file (`*.ALS`: 8-bit unsigned PCM at
11 kHz after a 32-byte header, the last 64 bytes not sound; `S*.ALS` are sound effects).
Both are band-limited to 5.5 kHz, as a telephone-band prompt is to 4 kHz.
"""
import ctypes
import functools
import glob
import os
import sys
import wave
from dataclasses import dataclass

RATE = 16000
FRAME = 160  # 10 ms
SOUNDS = "/usr/share/asterisk/sounds"
GAMES = "/usr/share/scummvm"


@dataclass(frozen=True)
class Source:
    """A set of recordings of real speech: the Debian package, the files, and their role."""
    package: str
    patterns: tuple
    role: str
    description: str
    per_folder: bool = False
    quiet_floor_checked: bool = False
    per_character: bool = False
    container: str = ""  # "queen" or "drascula": the recordings are read from the games' files


SOURCES = {
    "fr-june": Source("asterisk-core-sounds-fr-g722", (f"{SOUNDS}/fr_CA_f_June/**/*.g722",), "train",
                      "Canadian French, female (June), 16 kHz G.722"),
    "it-carlo": Source("asterisk-core-sounds-it-g722", (f"{SOUNDS}/it_IT_m_Carlo/**/*.g722",), "train",
                       "Italian, male (Carlo), 16 kHz G.722"),
    "it-menardi": Source("asterisk-prompt-it-menardi-wav", (f"{SOUNDS}/it_IT_f_Menardi/**/*.wav",), "train",
                         "Italian, female (Menardi), 8 kHz"),
    "ktuberling": Source("ktuberling-data",
                         tuple(f"/usr/share/ktuberling/sounds/*/*.{ext}" for ext in ("ogg", "opus", "wav")), "train",
                         "single words in 23 languages (KTuberling), volunteers, 16-48 kHz",
                         per_folder=True, quiet_floor_checked=True),
    "klettres": Source("klettres-data",
                       tuple(f"/usr/share/klettres/*/{kind}/*.{ext}" for kind in ("alpha", "syllab")
                             for ext in ("ogg", "wav")), "train",
                       "letters and syllables in 20 languages (KLettres), volunteers",
                       per_folder=True, quiet_floor_checked=True),
    "fillets-nl": Source("fillets-ng-data-nl", ("/usr/share/games/fillets-ng/sound/*/nl/*.ogg",), "optional",
                         "Dutch dialogue of the game Fish Fillets (voice actors, two leads and many "
                         "characters, acted and conversational), 22-44 kHz",
                         quiet_floor_checked=True, per_character=True),
    "queen": Source("flight-of-the-amazon-queen", (f"{GAMES}/flight-of-the-amazon-queen/queen.1c",), "optional",
                    "English dialogue of the game Flight of the Amazon Queen (voice actors: the hero, "
                    "Joe, and some fifty other characters; about 6 700 lines), 11 kHz MP3",
                    quiet_floor_checked=True, container="queen"),
    "drascula-en": Source("drascula", (f"{GAMES}/drascula/en/*.ALS",), "acted",
                          "English dialogue of the game Drascula (voice actors: the hero and nine other "
                          "characters; about 770 lines), 11 kHz 8-bit",
                          quiet_floor_checked=True, container="drascula"),
    "drascula-es": Source("drascula-spanish", (f"{GAMES}/drascula/es/*.ALS",), "acted",
                          "Spanish dialogue of the game Drascula (voice actors), 11 kHz 8-bit",
                          quiet_floor_checked=True, container="drascula"),
    "drascula-it": Source("drascula-italian", (f"{GAMES}/drascula/it/*.ALS",), "acted",
                          "Italian dialogue of the game Drascula (voice actors), 11 kHz 8-bit",
                          quiet_floor_checked=True, container="drascula"),
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

if __name__ == "__main__" and sys.argv[1:2] == ["--packages"]:
    # The Debian packages to install for the sources with the roles named (without: every role
    # but "optional"), printed before numpy and scipy are imported: they may not be installed
    # yet. The Makefile passes them to scripts/install-deps.sh.
    roles = set(sys.argv[2:]) or {"train", "held-out", "independent"}
    print(" ".join(sorted({s.package for s in SOURCES.values() if s.role in roles}) + ["libspandsp2"]))
    sys.exit(0)

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402


def sources(role):
    """The names of the sources with `role`."""
    return [name for name, s in SOURCES.items() if s.role == role]


def files(name):
    """The recordings of source `name`, sorted (stable across machines): paths, or for a source
    whose recordings are entries of an archive, "path#entry"."""
    source = SOURCES[name]
    found = sorted({path for pattern in source.patterns for path in glob.glob(pattern, recursive=True)})
    if source.container == "queen":
        found = [f"{path}#{entry}" for path in found for entry in sorted(_queen_table(path)) if entry.endswith(".SB")]
    elif source.container == "drascula":
        found = [path for path in found if not os.path.basename(path).startswith("S")]
    if not found:
        raise SystemExit(f"no recordings for {name}: install the Debian package {source.package} "
                         f"(scripts/install-deps.sh {source.package})")
    return found


@functools.lru_cache(maxsize=None)
def _queen_table(path):
    """The entries of Flight of the Amazon Queen's archive: name → (offset, size)."""
    with open(path, "rb") as f:
        header = f.read(15)
        if header[:4] != b"QTBL":
            raise SystemExit(f"{path}: not the game's archive (no QTBL header)")
        count = int.from_bytes(header[13:15], "big")
        table = f.read(21 * count)
    entries = {}
    for k in range(count):
        entry = table[21 * k: 21 * (k + 1)]
        name = entry[:12].rstrip(b"\0").decode("ascii")
        entries[name] = (int.from_bytes(entry[13:17], "big"), int.from_bytes(entry[17:21], "big"))
    return entries


def _load(path):
    """One recording as float64 at 16 kHz, whole."""
    if "#" in path:  # an entry of Flight of the Amazon Queen's archive: MP3
        import io
        import soundfile
        archive, entry = path.split("#")
        offset, size = _queen_table(archive)[entry]
        with open(archive, "rb") as f:
            f.seek(offset)
            data, rate = soundfile.read(io.BytesIO(f.read(size)), dtype="float64", always_2d=True)
        audio = data.mean(axis=1)
    elif path.endswith(".ALS"):  # Drascula: 8-bit unsigned PCM at 11 025 Hz between a header and a tail
        rate, audio = 11025, (np.fromfile(path, dtype=np.uint8)[32:-64].astype(np.float64) - 128) / 128
    elif path.endswith(".g722"):
        rate, audio = RATE, _decode_g722(path)
    elif path.endswith(".raw"):  # the PocketSphinx test files: 16 kHz, 16-bit little-endian
        rate, audio = RATE, np.fromfile(path, dtype="<i2").astype(np.float64) / 32768
    elif path.endswith((".ogg", ".opus")):
        import soundfile
        data, rate = soundfile.read(path, dtype="float64", always_2d=True)
        audio = data.mean(axis=1)
    else:
        with wave.open(path, "rb") as w:
            rate, channels = w.getframerate(), w.getnchannels()
            audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
            audio = audio.reshape(-1, channels).mean(axis=1)
    if rate != RATE:
        audio = signal.resample_poly(audio, RATE, rate)
    return audio


def _trimmed(audio):
    """`audio` without its DC, cut to its active part (10 ms around it; empty if silent)."""
    if len(audio) == 0:
        return np.zeros(0)
    audio = audio - audio.mean()
    level = np.abs(audio)
    if level.max() <= 0:
        return np.zeros(0)
    active = np.nonzero(level > level.max() * 0.02)[0]
    return audio[max(0, active[0] - 160): active[-1] + 160]


def utterances(name, minimum_seconds=0.3):
    """Every recording of source `name` long enough to be an utterance, as (audio, speaker); the
    speaker is the source, or the source and the language folder for `per_folder`."""
    out = []
    for path in files(name):
        audio = _load(path)
        if SOURCES[name].quiet_floor_checked and quiet_floor_db(audio) > QUIET_FLOOR_DB:
            continue
        audio = _trimmed(audio)
        if len(audio) >= minimum_seconds * RATE:
            speaker = name
            if SOURCES[name].per_folder:
                speaker = f"{name}/{_language_folder(path)}"
            elif SOURCES[name].per_character:
                speaker = f"{name}/{_character(path)}"
            elif SOURCES[name].container == "queen":
                speaker = f"{name}/{_queen_character(path.split('#')[1])}"
            elif SOURCES[name].container == "drascula":
                speaker = f"{name}/{os.path.basename(path).split('.')[0].rstrip('0123456789') or 'hero'}"
            out.append((audio, speaker))
    return out


# How far below its loudest 10 ms a volunteer's recording's quietest must lie (see the top).
QUIET_FLOOR_DB = -45.0


def frame_power(audio):
    """The mean power of each whole 10 ms frame of `audio` (16 kHz)."""
    frames = len(audio) // FRAME
    return (audio[: frames * FRAME].reshape(frames, FRAME) ** 2).mean(axis=1)


def quiet_floor_db(audio):
    """The level of the quietest 5% of a recording's 10 ms frames against its loudest, in dB
    (0 for a recording too short to tell)."""
    if len(audio) // FRAME < 10:
        return 0.0
    power = frame_power(audio) + 1e-20
    return float(10 * np.log10(np.percentile(power, 5) / power.max()))


def _language_folder(path):
    """The language folder of a KDE recording: .../sounds/<lang>/x.ogg or .../<lang>/alpha/x.ogg."""
    parts = path.split(os.sep)
    return parts[-3] if parts[-2] in ("alpha", "syllab") else parts[-2]


def _character(path):
    """Who speaks a Fish Fillets line: its file is <level>-<character>-<line>.ogg ("let-m-oko":
    the small fish); lines named otherwise count as one speaker, "other"."""
    parts = os.path.basename(path).split("-")
    return parts[1] if len(parts) >= 3 else "other"


def _queen_character(entry):
    """Who speaks a line of Flight of the Amazon Queen, as far as its entry's name tells: Joe
    ("J" after the room and line numbers, or a name starting "JOE"), else the room's others.
    (Drascula's lines name theirs by the letters before the number; none: the hero.)"""
    stem = entry.split(".")[0]
    return "joe" if stem.startswith("JOE") or stem[6:7] == "J" else f"room-{stem[:2]}"


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
