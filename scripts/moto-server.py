#!/usr/bin/env python3
"""moto_server, with one correction to its signature check so that it checks what S3 checks.

moto 5 rebuilds the signed request from an already percent-decoded URL, so a query value with
a '/' (ListObjectsV2's prefix=a/b/) goes into its canonical request as '/', where S3 (and the
SigV4 specification) has '%2F': every such request fails with SignatureDoesNotMatch, boto3's
own included. Here each query name and value is decoded once and encoded as SigV4 encodes
them before moto compares signatures. Everything else is moto as it is.

Usage: moto-server.py HOST PORT (INITIAL_NO_AUTH_ACTION_COUNT as for moto_server)."""
import sys
from urllib.parse import quote, unquote

from moto.iam import access_control
from moto.server import main

# A moto that no longer has the method runs as it is (its own check, whatever it does then).
original = getattr(access_control.IAMRequestBase, "_create_aws_request", None)


def create_aws_request(self):
    path, separator, query = self._path.partition("?")
    if separator:
        pairs = []
        for pair in query.split("&"):
            name, equals, value = pair.partition("=")
            pairs.append(quote(unquote(name), safe="-_.~") + equals + quote(unquote(value), safe="-_.~"))
        self._path = path + "?" + "&".join(pairs)
    return original(self)


if original is not None:
    access_control.IAMRequestBase._create_aws_request = create_aws_request
else:
    print("moto-server.py: moto changed; running it without the query correction", file=sys.stderr)
main(["-H", sys.argv[1], "-p", sys.argv[2]])
