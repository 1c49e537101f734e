"""Checks Switchboard's webhook signatures with outside code.

Starts the server binary on a fresh SQLite database, points an org webhook at a
receiver in this script, asks for a test delivery and a real call's events, and
verifies every delivery with the `standardwebhooks` package from PyPI and with
the X-Switchboard-Signature recipe of docs/webhooks.md. Exits non-zero on any
failure. Usage: python3 webhooks_verify.py path/to/switchboard
"""
import hashlib
import hmac
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from standardwebhooks.webhooks import Webhook

received = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base, method, path, key, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"null")


def verify_switchboard(secret, headers, body):
    timestamp = headers["x-switchboard-timestamp"]
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + mac, headers["x-switchboard-signature"]) and abs(
        time.time() - int(timestamp)
    ) <= 300


def main():
    binary = os.path.realpath(sys.argv[1])
    work = tempfile.mkdtemp()
    env = dict(os.environ, SWITCHBOARD_DATABASE_URL=f"sqlite://{work}/switchboard.db", SWITCHBOARD_LOG="warn")
    env["SWITCHBOARD_RUNTIME__CLOCK_SPEED"] = "50"
    boot = json.loads(
        subprocess.check_output([binary, "admin", "bootstrap", "--org-name", "Verify", "--json"], env=env, cwd=work)
    )
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--dev", "--listen", f"127.0.0.1:{port}"], env=env, cwd=work,
                              stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/v1/health")
                break
            except OSError:
                time.sleep(0.1)
        hook = api(base, "POST", "/v1/webhooks", boot["org_key"], {"url": hook_url, "events": ["*"]})
        secret = hook["secret"]
        test = api(base, "POST", f"/v1/webhooks/{hook['id']}/test", boot["org_key"])
        assert test["success"], test
        agent = api(base, "POST", "/v1/agents", boot["project_key"], {"name": "Verify", "first_message": "Hello."})
        call = api(base, "POST", "/v1/simulator/calls", boot["project_key"],
                   {"agent_id": agent["id"], "from": "+31612345678", "script": [{"say": "Hi"}, {"hangup": True}]})
        deadline = time.time() + 30
        while time.time() < deadline and not any(json.loads(b).get("event") == "call.ended" for _, b in received):
            time.sleep(0.1)
        events = [json.loads(b)["event"] for _, b in received]
        assert "webhook.test" in events and "call.ended" in events, events
        standard = Webhook(secret)
        for headers, body in received:
            payload = standard.verify(body, headers)  # raises on a bad signature
            assert payload["id"] == headers["webhook-id"], headers
            assert verify_switchboard(secret, headers, body), headers
            wrong = Webhook("whsec_" + "d3Jvbmcgc2VjcmV0IGtleQ==")
            try:
                wrong.verify(body, headers)
                raise AssertionError("a wrong secret verified")
            except AssertionError:
                raise
            except Exception:
                pass
        print(f"verified {len(received)} deliveries ({', '.join(sorted(set(events)))}) for call {call['call_id']}")
    finally:
        server.terminate()
        server.wait()
        receiver.shutdown()


if __name__ == "__main__":
    main()
