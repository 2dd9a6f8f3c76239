#!/usr/bin/env python3
"""A small webhook receiver for trying Latch's webhooks: prints each event and whether its
signature holds, and answers 204. Python's standard library only.

    WEBHOOK_SECRET=whsec_... python3 docs/examples/webhook-receiver.py 127.0.0.1:9000

The signature is checked as the Standard Webhooks specification says: HMAC-SHA256, keyed by
the base64 after `whsec_`, over `{webhook-id}.{webhook-timestamp}.{body}`; the header holds
one `v1,<base64>` per signing secret (two for a day after a rotation). In production, use a
Standard Webhooks library (`pip install standardwebhooks`), which also refuses old timestamps,
and drop repeats by `webhook-id`: delivery is at least once.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY = base64.b64decode(os.environ["WEBHOOK_SECRET"].removeprefix("whsec_"))


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        signed = f"{self.headers['webhook-id']}.{self.headers['webhook-timestamp']}.".encode()
        expected = base64.b64encode(hmac.new(KEY, signed + body, hashlib.sha256).digest()).decode()
        given = [part.removeprefix("v1,") for part in self.headers["webhook-signature"].split()]
        verified = any(hmac.compare_digest(expected, signature) for signature in given)
        event = json.loads(body)
        print(("signed  " if verified else "FORGED  ") + event["type"], json.dumps(event["data"]), flush=True)
        self.send_response(204 if verified else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


host, port = sys.argv[1].rsplit(":", 1)
HTTPServer((host, int(port)), Receiver).serve_forever()
