#!/usr/bin/env python3
"""Signs requests with botocore, the reference SigV4 implementation, for the Swift tests.

Reads a JSON list of requests on stdin: {method, url, headers: [[name, value]], body (hex),
service, region, key, secret, token (or null), time ("20150830T123600Z")}. Writes a JSON
list of {authorization, headers: {name: value} of what botocore added, canonical_request}.
"""
import datetime
import json
import sys
from unittest import mock

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign(case):
    credentials = Credentials(case["key"], case["secret"], case.get("token"))
    signer_class = botocore.auth.S3SigV4Auth if case["service"] == "s3" else botocore.auth.SigV4Auth
    signer = signer_class(credentials, case["service"], case["region"])
    request = AWSRequest(method=case["method"], url=case["url"], data=bytes.fromhex(case["body"]))
    for name, value in case["headers"]:
        request.headers[name] = value  # appends: repeated headers stay repeated
    canonical = []
    original = signer.canonical_request

    def capture(request):
        text = original(request)
        canonical.append(text)
        return text

    signer.canonical_request = capture
    when = datetime.datetime.strptime(case["time"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(request)
    added = {name: request.headers[name] for name in ("X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256") if name in request.headers}
    return {"authorization": request.headers["Authorization"], "headers": added, "canonical_request": canonical[-1]}


json.dump([sign(case) for case in json.load(sys.stdin)], sys.stdout)
