#!/usr/bin/env python3
"""Local fakes of the relay's cloud voice providers, for the tests: each speaks its service's
documented wire format and checks what the service would check.

  Amazon Bedrock     POST /model/{id}/converse-stream    SigV4 (bedrock), AWS event stream back
                     POST /model/{id}/converse           SigV4 (bedrock), JSON back (service "summary")
  Bedrock agents     POST /knowledgebases/{id}/retrieve  SigV4 (bedrock), JSON
  Amazon Polly       POST /v1/speech                     SigV4 (polly), 16 kHz PCM streamed
  Amazon Transcribe  GET  /stream-transcription-websocket  presigned SigV4 (transcribe),
                     WebSocket of AWS event-stream AudioEvent frames in, TranscriptEvent out
  Deepgram           POST /v1/listen                     Authorization: Token <key>, WAV in, JSON out
  Cartesia           POST /tts/bytes                     X-API-Key + Cartesia-Version, PCM streamed

Signatures are recomputed with botocore (the reference implementation) from the request as it
arrived, with the credentials the fake was given; event-stream frames are read with botocore's
own decoder, which checks both CRCs. A request that fails a check gets the service's error.

Behaviour is set per service through the control API:
  POST /_fake/behaviour  {"service": "bedrock", "mode": "ok|slow|throttle|fail|cut|diagnose|exception|hang",
                          "delay_ms": 0, "text": "..."}
  GET  /_fake/calls      {"bedrock": {"accepted": n, "rejected": n, "last": {...}}, ...}

Usage: voice-fakes.py PORT ACCESS_KEY SECRET_KEY API_KEY
"""
import asyncio
import binascii
import datetime
import json
import re
import struct
import sys
from unittest import mock
from urllib.parse import parse_qsl, urlencode

import botocore.auth
from aiohttp import WSMsgType, web
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

PORT, ACCESS_KEY, SECRET_KEY, API_KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
CREDENTIALS = Credentials(ACCESS_KEY, SECRET_KEY)
REGION = "us-east-1"
SERVICES = ["bedrock", "summary", "retrieve", "polly", "transcribe", "deepgram", "cartesia"]
behaviour = {name: {"mode": "ok", "delay_ms": 0, "text": None} for name in SERVICES}
calls = {name: {"accepted": 0, "rejected": 0, "last": None} for name in SERVICES}


# --- SigV4, recomputed by botocore -------------------------------------------------------------

def signed_request(request, body):
    """An AWSRequest of the headers the client signed, as it arrived."""
    authorization = request.headers.get("Authorization", "")
    match = re.search(r"SignedHeaders=([^,]+)", authorization)
    if not match or not authorization.startswith("AWS4-HMAC-SHA256 Credential=" + ACCESS_KEY + "/"):
        return None
    url = "http://%s%s" % (request.host, request.raw_path)
    aws = AWSRequest(method=request.method, url=url, data=body)
    for name in match.group(1).split(";"):
        if name != "host":
            aws.headers[name] = request.headers.get(name, "")
    return aws


def check_header_signature(request, body, service):
    aws = signed_request(request, body)
    stamp = request.headers.get("X-Amz-Date", "")
    if aws is None or not stamp:
        return "missing or foreign Authorization"
    when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    if abs((datetime.datetime.utcnow() - when).total_seconds()) > 300:
        return "request time too skewed"
    signer = botocore.auth.SigV4Auth(CREDENTIALS, service, REGION)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(aws)
    expected = aws.headers["Authorization"]
    if expected != request.headers["Authorization"]:
        return "The request signature we calculated does not match the signature you provided"
    return None


def check_presigned(request, service):
    params = dict(parse_qsl(request.query_string, keep_blank_values=True))
    stamp = params.get("X-Amz-Date", "")
    if not stamp or not params.get("X-Amz-Credential", "").startswith(ACCESS_KEY + "/"):
        return "missing or foreign X-Amz-Credential"
    when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    if (datetime.datetime.utcnow() - when).total_seconds() > int(params.get("X-Amz-Expires", "0")):
        return "the presigned URL has expired"
    plain = [(k, v) for k, v in parse_qsl(request.query_string, keep_blank_values=True) if not k.startswith("X-Amz-")]
    aws = AWSRequest(method="GET", url="http://%s%s?%s" % (request.host, request.path, urlencode(plain)))
    signer = botocore.auth.SigV4QueryAuth(CREDENTIALS, service, REGION, expires=int(params["X-Amz-Expires"]))
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(aws)
    expected = dict(parse_qsl(aws.url.split("?", 1)[1]))["X-Amz-Signature"]
    if expected != params.get("X-Amz-Signature"):
        return "The request signature we calculated does not match the signature you provided"
    return None


def signed_or_refused(request, body, service, counter):
    """None when the request's SigV4 signature is right (counted as accepted), else the 403."""
    problem = check_header_signature(request, body, service)
    if problem:
        calls[counter]["rejected"] += 1
        return aws_error(403, "InvalidSignatureException", problem)
    calls[counter]["accepted"] += 1
    return None


def aws_error(status, kind, message):
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": kind + ":http://internal.amazon.com/"})


# --- AWS event stream ---------------------------------------------------------------------------

def event_message(headers, payload):
    encoded = b""
    for name, value in headers.items():
        raw = value.encode()
        encoded += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message) & 0xFFFFFFFF)


def event(event_type, body):
    return event_message({":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}, json.dumps(body).encode())


# --- Services -------------------------------------------------------------------------------------

async def delayed(service):
    delay = behaviour[service]["delay_ms"] / 1000
    if behaviour[service]["mode"] == "slow" and delay:
        await asyncio.sleep(delay)


def refusal(service):
    mode = behaviour[service]["mode"]
    if mode == "throttle":
        return aws_error(429, "ThrottlingException", "Rate exceeded")
    if mode == "fail":
        return aws_error(500, "InternalServerException", "the fake was told to fail")
    return None


async def converse_stream(request):
    body = await request.read()
    refused = signed_or_refused(request, body, "bedrock", "bedrock")
    if refused:
        return refused
    document = json.loads(body)
    calls["bedrock"]["last"] = {"model": request.match_info["model"], "request": document}
    if not document.get("messages") or document["messages"][-1]["role"] != "user":
        return aws_error(400, "ValidationException", "messages must end with a user message")
    await delayed("bedrock")
    refused = refusal("bedrock")
    if refused:
        return refused
    mode = behaviour["bedrock"]["mode"]
    system = " ".join(part["text"] for part in document.get("system", []))
    rate = re.search(r"Heart rate: about (\d+) beats", system)
    text = behaviour["bedrock"]["text"] or (
        "Your heart rate was about %s beats per minute. A clinician will look at it with you." % rate.group(1) if rate
        else "I don't have a heart-rate reading yet. Please keep still in front of the camera.")
    if mode == "diagnose":
        text = "Your heart rate is high. It sounds like you have atrial fibrillation, so take 75 mg of aspirin."
    response = web.StreamResponse(headers={"Content-Type": "application/vnd.amazon.eventstream"})
    await response.prepare(request)
    await response.write(event("messageStart", {"role": "assistant", "p": "abc"}))
    words = text.split(" ")
    for index, word in enumerate(words):
        if mode == "cut" and index == len(words) // 2:
            request.transport.close()  # the connection drops mid-stream
            return response
        if mode == "exception" and index == len(words) // 2:
            await response.write(event_message(
                {":exception-type": "throttlingException", ":content-type": "application/json", ":message-type": "exception"},
                json.dumps({"message": "Too many tokens"}).encode()))
            return response
        await response.write(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word + ("" if index == len(words) - 1 else " ")}}))
        await asyncio.sleep(0.01)
    await response.write(event("contentBlockStop", {"contentBlockIndex": 0}))
    await response.write(event("messageStop", {"stopReason": "end_turn"}))
    await response.write(event("metadata", {"usage": {"inputTokens": 100, "outputTokens": len(words)}, "metrics": {"latencyMs": 100}}))
    await response.write_eof()
    return response


async def converse(request):
    """Bedrock Converse: the whole answer as JSON, with usage. Summaries use it."""
    body = await request.read()
    refused = signed_or_refused(request, body, "bedrock", "summary")
    if refused:
        return refused
    document = json.loads(body)
    calls["summary"]["last"] = {"model": request.match_info["model"], "request": document}
    messages = document.get("messages") or []
    if not messages or messages[-1]["role"] != "user" or not messages[-1]["content"][0].get("text"):
        return aws_error(400, "ValidationException", "messages must end with a user message with text")
    mode = behaviour["summary"]["mode"]
    if mode == "hang":
        await asyncio.sleep(3600)
    await delayed("summary")
    refused = refusal("summary")
    if refused:
        return refused
    facts = messages[-1]["content"][0]["text"]
    rate = re.search(r"Heart rate: median (\d+) beats per minute, a (\w+) reading", facts)
    text = behaviour["summary"]["text"] or (
        "The patient's heart rate was measured at a median of %s beats per minute (a %s reading). They asked about their heart rate and were told the reading." % rate.groups()
        if rate else "No heart rate was measured; the kiosk withheld every reading.")
    if mode == "diagnose":
        text = "The readings are consistent with atrial fibrillation; the patient should take aspirin 75 mg daily."
    return web.json_response({
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": len(facts.split()) * 2, "outputTokens": len(text.split()), "totalTokens": len(facts.split()) * 2 + len(text.split())},
        "metrics": {"latencyMs": behaviour["summary"]["delay_ms"]},
    })


async def retrieve(request):
    body = await request.read()
    refused = signed_or_refused(request, body, "bedrock", "retrieve")
    if refused:
        return refused
    calls["retrieve"]["last"] = {"knowledge_base": request.match_info["kb"], "request": json.loads(body)}
    return web.json_response({"retrievalResults": [
        {"content": {"text": "Flu vaccines are available on Tuesdays without an appointment."}, "score": 0.8},
    ]})


def tone(seconds):
    import math
    count = int(16000 * seconds)
    return b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 220 * i / 16000))) for i in range(count))


async def stream_pcm(request, service, text):
    await delayed(service)
    refused = refusal(service)
    if refused:
        return refused
    audio = tone(min(3.0, 0.06 * len(text)))
    response = web.StreamResponse(headers={"Content-Type": "audio/pcm" if service == "polly" else "application/octet-stream"})
    await response.prepare(request)
    step = 3201  # odd on purpose: samples split across chunks
    for start in range(0, len(audio), step):
        if behaviour[service]["mode"] == "cut" and start > len(audio) // 2:
            request.transport.close()
            return response
        await response.write(audio[start:start + step])
        await asyncio.sleep(0.005)
    await response.write_eof()
    return response


async def polly(request):
    body = await request.read()
    refused = signed_or_refused(request, body, "polly", "polly")
    if refused:
        return refused
    document = json.loads(body)
    calls["polly"]["last"] = document
    if document.get("OutputFormat") != "pcm" or document.get("SampleRate") != "16000" or not document.get("Text"):
        return aws_error(400, "ValidationException", "OutputFormat pcm, SampleRate 16000 and Text are required")
    return await stream_pcm(request, "polly", document["Text"])


async def cartesia(request):
    if request.headers.get("X-API-Key") != API_KEY or not request.headers.get("Cartesia-Version"):
        calls["cartesia"]["rejected"] += 1
        return web.json_response({"error": "Invalid API key"}, status=401)
    document = await request.json()
    calls["cartesia"]["accepted"] += 1
    calls["cartesia"]["last"] = document
    output = document.get("output_format", {})
    if output != {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000} or not document.get("transcript"):
        return web.json_response({"error": "unsupported output_format"}, status=400)
    return await stream_pcm(request, "cartesia", document["transcript"])


async def deepgram(request):
    if request.headers.get("Authorization") != "Token " + API_KEY:
        calls["deepgram"]["rejected"] += 1
        return web.json_response({"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."}, status=401)
    body = await request.read()
    calls["deepgram"]["accepted"] += 1
    calls["deepgram"]["last"] = {"query": dict(request.query), "bytes": len(body)}
    if body[:4] != b"RIFF" or body[8:12] != b"WAVE":
        return web.json_response({"err_code": "Bad Request", "err_msg": "corrupt or unsupported data"}, status=400)
    await delayed("deepgram")
    mode = behaviour["deepgram"]["mode"]
    if mode == "throttle":
        return web.json_response({"err_code": "TOO_MANY_REQUESTS", "err_msg": "Too many requests"}, status=429)
    if mode == "fail":
        return web.json_response({"err_code": "INTERNAL", "err_msg": "the fake was told to fail"}, status=500)
    transcript = behaviour["deepgram"]["text"] or "what is my heart rate"
    return web.json_response({"metadata": {"request_id": "fake", "duration": (len(body) - 44) / 32000, "channels": 1},
                              "results": {"channels": [{"alternatives": [{"transcript": transcript, "confidence": 0.98, "words": []}]}]}})


async def transcribe(request):
    problem = check_presigned(request, "transcribe")
    params = dict(request.query)
    if problem:
        calls["transcribe"]["rejected"] += 1
        return aws_error(403, "BadRequestException", problem)
    if params.get("media-encoding") != "pcm" or params.get("sample-rate") != "16000" or "language-code" not in params:
        return aws_error(400, "BadRequestException", "language-code, media-encoding=pcm and sample-rate=16000 are required")
    calls["transcribe"]["accepted"] += 1
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    decoder = EventStreamBuffer()
    audio_bytes = 0
    mode = behaviour["transcribe"]["mode"]
    transcript = behaviour["transcribe"]["text"] or "what is my heart rate"
    async for message in socket:
        if message.type != WSMsgType.BINARY:
            continue
        decoder.add_data(message.data)
        for frame in decoder:  # checks the prelude and message CRCs, raises otherwise
            headers = frame.headers
            if headers.get(":event-type") != "AudioEvent" or headers.get(":message-type") != "event":
                await socket.close()
                return socket
            if frame.payload:
                audio_bytes += len(frame.payload)
                continue
            # The empty AudioEvent: the audio has ended.
            calls["transcribe"]["last"] = {"language": params["language-code"], "audio_bytes": audio_bytes}
            await delayed("transcribe")
            if mode in ("fail", "throttle"):
                kind = "LimitExceededException" if mode == "throttle" else "InternalFailureException"
                await socket.send_bytes(event_message(
                    {":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"},
                    json.dumps({"Message": "the fake was told to fail"}).encode()))
                await socket.close()
                return socket
            if mode == "cut":
                await socket.close()
                return socket
            partial = {"Transcript": {"Results": [{"Alternatives": [{"Transcript": transcript.split(" ")[0]}], "IsPartial": True, "ResultId": "1"}]}}
            final = {"Transcript": {"Results": [{"Alternatives": [{"Transcript": transcript}], "IsPartial": False, "ResultId": "1"}]}}
            await socket.send_bytes(event("TranscriptEvent", partial))
            await socket.send_bytes(event("TranscriptEvent", final))
            await socket.close()
            return socket
    return socket


async def set_behaviour(request):
    document = await request.json()
    behaviour[document["service"]] = {"mode": document.get("mode", "ok"), "delay_ms": document.get("delay_ms", 0), "text": document.get("text")}
    return web.json_response(behaviour[document["service"]])


async def get_calls(_request):
    return web.json_response(calls)


app = web.Application(client_max_size=64 << 20)
app.router.add_post("/model/{model}/converse-stream", converse_stream)
app.router.add_post("/model/{model}/converse", converse)
app.router.add_post("/knowledgebases/{kb}/retrieve", retrieve)
app.router.add_post("/v1/speech", polly)
app.router.add_post("/tts/bytes", cartesia)
app.router.add_post("/v1/listen", deepgram)
app.router.add_get("/stream-transcription-websocket", transcribe)
app.router.add_post("/_fake/behaviour", set_behaviour)
app.router.add_get("/_fake/calls", get_calls)
web.run_app(app, host="127.0.0.1", port=PORT, print=None, shutdown_timeout=1)
