#!/usr/bin/env python3
"""A minimal Switchboard server_url handler, Python 3 standard library only.

It verifies both signatures on every request (X-Switchboard-Signature and
Standard Webhooks), answers `call.started` with a per-caller greeting, a system
prompt and one tool, runs that tool on `tool.call`, and logs
`transcript.updated`. See docs/server-url.md.

    SWITCHBOARD_AGENT_SECRET=whsec_... python3 examples/server_url_handler.py

Environment:
    SWITCHBOARD_AGENT_SECRET  the agent's webhook_secret (required)
    PORT                      port on 127.0.0.1 (default 8787)
    VERBOSE=1                 also print the headers and body of every request
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("SWITCHBOARD_AGENT_SECRET", "")
PORT = int(os.environ.get("PORT", "8787"))
VERBOSE = os.environ.get("VERBOSE") == "1"
TOLERANCE_SECONDS = 300  # reject requests signed more than 5 minutes away from our clock

# Stand-ins for your CRM and order system.
CUSTOMERS = {"+31612345678": {"name": "Jane", "orders": ["A1001"]}}
ORDERS = {
    "A1001": {"status": "shipped", "carrier": "PostNL", "eta": "tomorrow"},
    "A1002": {"status": "processing", "eta": "in 3 days"},
}


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# --- Signatures -------------------------------------------------------------

def timestamp_ok(value):
    try:
        return abs(time.time() - int(value)) <= TOLERANCE_SECONDS
    except (TypeError, ValueError):
        return False


def verify_switchboard(secret, headers, body):
    """X-Switchboard-Signature: sha256=hex(HMAC-SHA256(secret string, "<timestamp>.<body>"))."""
    timestamp = headers.get("X-Switchboard-Timestamp", "")
    signature = headers.get("X-Switchboard-Signature", "")
    if not timestamp_ok(timestamp):
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, signature.strip())


def verify_standard(secret, headers, body):
    """Standard Webhooks: v1,base64(HMAC-SHA256(base64-decoded secret, "<id>.<timestamp>.<body>"))."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp_ok(timestamp):
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # The header may hold several space-separated "v1,<sig>" entries; one match is enough.
    return any(
        hmac.compare_digest(entry.split(",", 1)[1], expected)
        for entry in headers.get("webhook-signature", "").split()
        if entry.startswith("v1,")
    )


# --- Events -----------------------------------------------------------------

def on_call_started(event):
    inbound = event["direction"] == "inbound"
    number = event["from"] if inbound else event["to"]  # the customer's number either way
    customer = CUSTOMERS.get(number)
    if customer:
        name = customer["name"]
        greeting = (f"Hi {name}, thanks for calling Acme Shop. How can I help you today?" if inbound
                    else f"Hi {name}, this is Acme Shop calling. Do you have a moment?")
        known = f"The customer is {name} ({number}); their orders: {', '.join(customer['orders'])}."
    else:
        greeting = (f"Thanks for calling Acme Shop. I see you're calling from {number}. How can I help?" if inbound
                    else "Hello, this is Acme Shop calling. Do you have a moment?")
        known = f"The customer ({number}) is not in our records."
    return {
        "first_message": greeting,
        "system_prompt": (
            "You are the phone assistant of Acme Shop. Be brief and friendly. "
            f"{known} Use get_order_status to look up an order before saying anything about it."
        ),
        "tools": [{
            "name": "get_order_status",
            "description": "Look up the status and delivery estimate of an order.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string", "description": "Order number, e.g. A1001"}},
                "required": ["order_id"],
            },
            "timeout_seconds": 5,
        }],
        "metadata": {"customer": customer["name"]} if customer else {},
    }


def on_tool_call(event):
    if event["name"] != "get_order_status":
        return {"error": f"unknown tool {event['name']}"}
    order_id = str(event["arguments"].get("order_id", "")).strip().upper()
    order = ORDERS.get(order_id)
    if order is None:
        return {"error": f"no order {order_id or '(none given)'}"}
    return {"result": {"order_id": order_id, **order}, "metadata": {"last_order_lookup": order_id}}


def on_transcript_updated(event):
    log(f"  [{event['call_id']} {event['timestamp']:>6.1f}s] {event['role']}: {event['content']}")
    return None


HANDLERS = {
    "call.started": on_call_started,
    "tool.call": on_tool_call,
    "transcript.updated": on_transcript_updated,
}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if VERBOSE:
            log(f"--- {self.command} {self.path}\n{self.headers}{body.decode(errors='replace')}\n")
        if not (verify_switchboard(SECRET, self.headers, body) and verify_standard(SECRET, self.headers, body)):
            log(f"refused {self.headers.get('X-Switchboard-Event')}: bad or missing signature")
            return self.reply(401, {"error": "invalid signature"})
        event = json.loads(body)
        handler = HANDLERS.get(event.get("event"))
        answer = handler(event) if handler else None
        if event.get("event") != "transcript.updated":
            log(f"{event.get('event')} {event.get('call_id')} -> {json.dumps(answer)}")
        self.reply(200, answer)

    def reply(self, status, payload):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass  # one line per event is printed above instead


if __name__ == "__main__":
    if not SECRET.startswith("whsec_"):
        sys.exit("set SWITCHBOARD_AGENT_SECRET to the agent's webhook_secret (whsec_...)")
    log(f"server_url handler listening on http://127.0.0.1:{PORT}/")
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
