"""Verifies webhook deliveries with the Standard Webhooks reference library.

Reads {"secrets": [...], "deliveries": [{"headers": {...}, "body": "..."}]} on stdin and
writes, for each delivery, a list saying for each secret whether the library accepts the
delivery as signed with it (and returns the body it parsed).
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

request = json.load(sys.stdin)
verifiers = [Webhook(secret) for secret in request["secrets"]]
results = []
for delivery in request["deliveries"]:
    row = []
    for verifier in verifiers:
        try:
            parsed = verifier.verify(delivery["body"], delivery["headers"])
            row.append(parsed == json.loads(delivery["body"]))
        except WebhookVerificationError:
            row.append(False)
    results.append(row)
json.dump(results, sys.stdout)
