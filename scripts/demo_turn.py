#!/usr/bin/env python3
"""The demo's spoken exchange: a patient's question, spoken by eSpeak NG, sent to hh-relay as a
voice turn of the visit's session with the vitals the kiosk measured; prints what the relay
heard and answered, and saves the spoken reply as it streams.

Usage: demo_turn.py RELAY_URL TOKEN SESSION_ID HEART_RATE SNR OUT_DIR "QUESTION"
"""
import json
import subprocess
import sys
import time
import urllib.request
import uuid

relay, token, session, rate, snr, out, question = sys.argv[1:8]
question_wav = f"{out}/question.wav"
subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", question_wav, question], check=True)
turn = {"id": str(uuid.uuid4()), "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "language": "en",
        "vitals": {"heart_rate_bpm": float(rate), "heart_rate_snr_db": float(snr), "respiration_bpm": None}}
boundary = "hh-demo-" + uuid.uuid4().hex
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"turn\"\r\nContent-Type: application/json\r\n\r\n"
        + json.dumps(turn) + f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"question.wav\"\r\n"
        + "Content-Type: audio/wav\r\n\r\n").encode() + open(question_wav, "rb").read() + f"\r\n--{boundary}--\r\n".encode()
request = urllib.request.Request(f"{relay}/v1/sessions/{session}/turns", data=body, method="POST", headers={
    "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
started = time.monotonic()
answer = json.load(urllib.request.urlopen(request, timeout=30))
print(f'patient (eSpeak NG): "{question}"')
print(f'relay heard:         "{answer["transcript"]}"   ({answer["providers"]["speech_to_text"]}, {answer["timings_ms"]["speech_to_text"]} ms)')
print(f'relay answered:      "{answer["reply"]["text"]}"   ({answer["providers"]["responder"]}; escalation: {answer["escalation"]["raised"]})')
reply = urllib.request.Request(relay + answer["reply"]["audio_url"], headers={"Authorization": f"Bearer {token}"})
with urllib.request.urlopen(reply, timeout=30) as response, open(f"{out}/reply.wav", "wb") as file:
    first = None
    while chunk := response.read(4096):
        first = first or time.monotonic()
        file.write(chunk)
print(f"first reply audio byte {1000 * (first - started):.0f} ms after the question was sent; "
      f"the spoken reply ({answer['providers']['text_to_speech']}) was written to {out}/reply.wav")
