#!/usr/bin/env python3
"""A stand-in relay for the demo (hh-relay is its own issue): accepts POST /v1/sessions with
the demo's device token, stores each session id once, and prints what arrived.
Usage: demo_relay.py PORT TOKEN"""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, token = int(sys.argv[1]), sys.argv[2]
stored = {}


class Relay(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Authorization") != f"Bearer {token}":
            return self.answer(401, {"error": {"code": "unauthorized", "message": "bad device token"}})
        if self.path != "/v1/sessions":
            return self.answer(404, {"error": {"code": "not_found", "message": self.path}})
        try:
            doc = json.loads(body)
        except ValueError:
            return self.answer(400, {"error": {"code": "malformed", "message": "not JSON"}})
        first = doc["id"] not in stored
        stored.setdefault(doc["id"], body)
        if first:
            s = doc["summary"]
            hr = s.get("heart_rate_median_bpm")
            print(f"relay: session {doc['id'][:8]} {doc['started_at']} → {doc['ended_at']} "
                  f"({doc['end_reason']}): median heart rate {hr if hr is not None else '-'} bpm over "
                  f"{s['seconds_with_estimate']} s, {len(doc['voice_turns'])} voice turn(s)", flush=True)
        self.answer(201 if first else 200, {"id": doc["id"]})

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Relay).serve_forever()
