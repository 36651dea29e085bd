#!/bin/sh
# Renders the kiosk's spoken apology (share/apology.wav, 16 kHz mono 16-bit), played when the
# relay does not answer a voice turn. Shipped pre-rendered: the kiosk needs no network and no
# synthesiser to say it. Rerun after changing the text and commit the file.
set -eu
out=${1:-share/apology.wav}
text="Sorry, I cannot answer right now. A nurse will see your question."
espeak-ng -v en-us -s 165 -w "$out.tmp" "$text"
python3 - "$out.tmp" "$out" <<'PY'
import sys, wave, array
src, dst = sys.argv[1], sys.argv[2]
with wave.open(src) as w:
    rate, frames = w.getframerate(), array.array("h", w.readframes(w.getnframes()))
# espeak-ng speaks at 22050 Hz: resample to 16 kHz by linear interpolation.
n = int(len(frames) * 16000 / rate)
out = array.array("h", (int(frames[min(len(frames) - 1, int(i * rate / 16000))]) for i in range(n)))
with wave.open(dst, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(out.tobytes())
PY
rm -f "$out.tmp"
