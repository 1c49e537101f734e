#!/usr/bin/env python3
"""Measure a local OpenAI-compatible chat server (llama.cpp's llama-server) as a phone agent's brain.

Stdlib only. Either starts the server itself (--server BIN --model GGUF, which also measures
start-up time and RSS) or talks to one already running (--base-url). Every request is streamed,
as Switchboard streams. Writes one JSON file with every raw answer and prints a summary.

    python3 eval.py --server /path/llama-server --model /path/model.gguf --threads 2 --out run.json
    python3 eval.py --base-url http://127.0.0.1:18089/v1 --out run.json
"""
import argparse, json, os, re, signal, socket, statistics, subprocess, sys, time, urllib.request

SYSTEM = (
    "You are the phone receptionist of Brightside Dental, a dental clinic. Answer in one or two "
    "short spoken sentences, using only these facts. If you do not know, say so and offer to "
    "transfer the caller to the front desk.\n"
    "Hours: Monday to Friday 8 am to 5 pm; Saturday 9 am to 1 pm; closed on Sunday.\n"
    "Address: 42 Harbor Street, Springfield. Free parking behind the building.\n"
    "Prices: cleaning $95; exam with X-rays $120; teeth whitening $250.\n"
    "Insurance accepted: Delta Dental and Cigna only.\n"
    "Booking: take the caller's name and preferred day and time.\n"
    "Dental emergencies after hours: call 555-0199.\n"
    "If the caller asks for a person, say you will transfer them to the front desk."
)

# (question, kind, regex that an answer must match to be correct, regex that makes it wrong)
# kind: fact = answerable from the prompt; refuse = off-topic, a polite refusal is correct;
# action = the right move (transfer / booking / goodbye). Auto-grades are a first pass; the
# report's counts are checked by hand against the raw answers.
QA = [
    ("What time do you open on Saturday?", "fact", r"\b9\b|nine", r"\b8 ?am\b.*saturday|sunday.*open"),
    ("Are you open on Sunday?", "fact", r"closed|\bno\b|not open", r"\byes\b|open on sunday from"),
    ("What's your address?", "fact", r"42 harbor", None),
    ("How much is a teeth cleaning?", "fact", r"\$?95\b|ninety[- ]five", None),
    ("How much does teeth whitening cost?", "fact", r"\$?250\b|two hundred (and )?fifty", None),
    ("Do you take Delta Dental insurance?", "fact", r"\byes\b|we (do )?(accept|take) delta", r"\bno\b|don't|do not"),
    ("Do you accept Aetna?", "fact", r"\bno\b|not|only|delta|cigna", r"^\s*yes|we (do )?accept aetna"),
    ("What time do you close on Friday?", "fact", r"\b5\b|five|17", None),
    ("Is there parking?", "fact", r"free parking|behind|parking (is )?(available|free)|\byes\b", None),
    ("I have a terrible toothache and it's 10 at night. What should I do?", "fact", r"555[- ]?0199", None),
    ("I'd like to book a cleaning for next Tuesday.", "action", r"name|what time|which time|preferred|book", None),
    ("Can I talk to a real person?", "action", r"transfer|connect|front desk|put you through", None),
    ("What's the weather going to be like tomorrow?", "refuse", r"(don't|do not|can't|cannot|not able|unable)|only help|front desk", r"sunny|rain|degrees|cloud"),
    ("Can you recommend a good pizza place nearby?", "refuse", r"(don't|do not|can't|cannot|not able|unable)|only help|front desk", r"pizza (place|hut)|domino|try [A-Z]"),
    ("Thanks, that's all. Goodbye!", "action", r"bye|have a (great|good|nice)|take care|welcome", None),
]

TOOLS = [
    {"type": "function", "function": {
        "name": "check_availability",
        "description": "Check which appointment slots are free on a given date.",
        "parameters": {"type": "object", "properties": {
            "date": {"type": "string", "description": "The date, as YYYY-MM-DD"}},
            "required": ["date"]}}},
    {"type": "function", "function": {
        "name": "transfer_call",
        "description": "Transfer the caller to a human at the front desk.",
        "parameters": {"type": "object", "properties": {
            "reason": {"type": "string", "description": "Why the caller wants a person"}},
            "required": []}}},
]
TOOL_SYSTEM = SYSTEM + "\nToday is 2025-03-10. Use check_availability before offering a slot; use transfer_call when the caller wants a person."
# --tool-mode prompted: the tools described in the prompt and the reply constrained to this JSON
# schema (llama-server turns it into a grammar), for templates that cannot carry `tools` at all.
PROMPTED_TOOLS = TOOL_SYSTEM + (
    "\nTools: check_availability(date: YYYY-MM-DD) finds free slots on a date; transfer_call() "
    "transfers the caller to a person. Reply with JSON only: "
    '{"tool": "check_availability", "arguments": {"date": "YYYY-MM-DD"}} or '
    '{"tool": "transfer_call", "arguments": {}} or {"tool": "none", "reply": "what you say"}.')
PROMPTED_SCHEMA = {"oneOf": [
    {"type": "object", "properties": {"tool": {"const": "check_availability"}, "arguments": {
        "type": "object", "properties": {"date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}},
        "required": ["date"], "additionalProperties": False}}, "required": ["tool", "arguments"], "additionalProperties": False},
    {"type": "object", "properties": {"tool": {"const": "transfer_call"}, "arguments": {
        "type": "object", "additionalProperties": False}}, "required": ["tool", "arguments"], "additionalProperties": False},
    {"type": "object", "properties": {"tool": {"const": "none"}, "reply": {"type": "string", "maxLength": 200}},
     "required": ["tool", "reply"], "additionalProperties": False}]}
# (question, expected tool or None, expected date)
TOOL_CASES = [
    ("Do you have any openings on 2025-03-14?", "check_availability", "2025-03-14"),
    ("Is there a free slot on Monday, March 17th 2025?", "check_availability", "2025-03-17"),
    ("Can you check if you have time on the 20th of March 2025?", "check_availability", "2025-03-20"),
    ("Any availability on April 2, 2025?", "check_availability", "2025-04-02"),
    ("Please check availability for 2025-05-01.", "check_availability", "2025-05-01"),
    ("Put me through to the front desk, please.", "transfer_call", None),
    ("I want to speak to a human.", "transfer_call", None),
    ("Transfer me to someone, this is urgent.", "transfer_call", None),
    ("Can I get a real person on the line?", "transfer_call", None),
    ("Is anything free on March 3rd 2025?", "check_availability", "2025-03-03"),
    # controls: no tool should be called
    ("What are your opening hours on Saturday?", None, None),
    ("How much is a cleaning?", None, None),
]


def stream_chat(base, messages, tools=None, temperature=None, max_tokens=128, timeout=300, tool_choice=None,
                schema=None):
    """One streamed chat completion; returns text, tool calls, TTFT and token timings."""
    body = {"model": "local", "messages": messages, "stream": True, "max_tokens": max_tokens,
            "stream_options": {"include_usage": True}}
    if tools:
        body["tools"] = tools
    if temperature is not None:
        body["temperature"] = temperature
    if tool_choice:
        body["tool_choice"] = tool_choice
    if schema:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    req = urllib.request.Request(base.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.monotonic()
    ttft = None
    text, calls, usage, timings, finish = [], {}, None, None, None
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        for raw in resp:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            usage = chunk.get("usage") or usage
            timings = chunk.get("timings") or timings
            for choice in chunk.get("choices", []):
                delta = choice.get("delta") or {}
                finish = choice.get("finish_reason") or finish
                got = False
                if delta.get("content"):
                    text.append(delta["content"]); got = True
                for tc in delta.get("tool_calls") or []:
                    slot = calls.setdefault(tc.get("index", 0), {"name": "", "arguments": ""})
                    fn = tc.get("function") or {}
                    slot["name"] += fn.get("name") or ""
                    slot["arguments"] += fn.get("arguments") or ""
                    got = True
                if got and ttft is None:
                    ttft = time.monotonic() - t0
    total = time.monotonic() - t0
    out_tokens = (usage or {}).get("completion_tokens")
    tps = (timings or {}).get("predicted_per_second")
    if tps is None and out_tokens and ttft is not None and total > ttft:
        tps = (out_tokens - 1) / (total - ttft)
    return {"text": "".join(text), "tool_calls": [calls[k] for k in sorted(calls)], "finish": finish,
            "ttft_s": ttft, "total_s": total, "completion_tokens": out_tokens,
            "prompt_tokens": (usage or {}).get("prompt_tokens"), "tokens_per_s": tps,
            "prompt_per_s": (timings or {}).get("prompt_per_second"),
            "cached_prompt_tokens": (timings or {}).get("cache_n")}


# Disqualifies any answer: it echoes the instructions or leaks chat-template markup.
ECHO = r"you are (the|a) [a-z ]*receptionist|answer in one or two|<\|im_|<start_of_turn>|<end_of_turn>"


def grade_qa(answer, good, bad, finish=None):
    a = answer.lower()
    if not a.strip() or re.search(ECHO, a, re.I):
        return "wrong"
    if finish == "length":  # did not stop within max_tokens: a caller would hear it ramble on
        return "wrong"
    if bad and re.search(bad, a, re.I):
        return "wrong"
    if re.search(good, a, re.I):
        return "correct"
    return "wrong"


def prompted_calls(text):
    """Reads a --tool-mode prompted reply as the tool calls it stands for; None when it is not JSON."""
    try:
        reply = json.loads(text)
    except ValueError:
        return None
    if not isinstance(reply, dict) or reply.get("tool") in (None, "none"):
        return []
    return [{"name": reply["tool"], "arguments": json.dumps(reply.get("arguments", {}))}]


def grade_tool(result, tool, date):
    if result.get("invalid_json"):
        return "wrong", "reply is not valid JSON"
    calls = result["tool_calls"]
    if tool is None:
        return ("correct", "no tool call") if not calls else ("wrong", "called a tool it should not")
    if not calls:
        return "wrong", "no tool call"
    if len(calls) != 1:
        return "wrong", f"{len(calls)} tool calls"
    call = calls[0]
    try:
        args = json.loads(call["arguments"] or "{}")
    except ValueError:
        return "wrong", "arguments are not JSON"
    if not isinstance(args, dict):
        return "wrong", "arguments are not a JSON object"
    if call["name"] != tool:
        return "wrong", f"called {call['name']!r}"
    if date and args.get("date") != date:
        return "wrong", f"date {args.get('date')!r}"
    return "correct", "ok"


def pct(values, p):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    k = max(0, min(len(v) - 1, round(p / 100 * len(v) + 0.5) - 1))  # nearest rank
    return v[k]


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args):
    port = args.port or free_port()
    cmd = [args.server, "--model", args.model, "--host", "127.0.0.1", "--port", str(port),
           "--threads", str(args.threads), "--threads-batch", str(args.threads),
           "--ctx-size", str(args.ctx_size), "--parallel", "1"] + args.server_arg
    log = open(args.server_log, "w") if args.server_log else subprocess.DEVNULL
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except Exception:
            pass
        if time.monotonic() - t0 > 300:
            proc.kill(); sys.exit("server did not become healthy in 300 s")
        time.sleep(0.05)
    return proc, base + "/v1", time.monotonic() - t0, cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", help="llama-server binary to start")
    ap.add_argument("--model", help="GGUF model for --server")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ctx-size", type=int, default=4096)
    ap.add_argument("--port", type=int)
    ap.add_argument("--server-arg", action="append", default=[], help="extra server argument (repeat)")
    ap.add_argument("--server-log")
    ap.add_argument("--base-url", help="use a running server instead, e.g. http://127.0.0.1:8080/v1")
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--tool-mode", choices=["native", "prompted"], default="native",
                    help="native: OpenAI `tools`; prompted: tools described in the prompt, JSON reply by grammar")
    ap.add_argument("--tool-choice", help='e.g. "required" (Switchboard itself sends none, i.e. "auto")')
    ap.add_argument("--label", default="run")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    report = {"label": args.label, "temperature": args.temperature, "max_tokens": args.max_tokens,
              "tool_mode": args.tool_mode, "tool_choice": args.tool_choice}
    proc = None
    if args.server:
        proc, base, startup, cmd = start_server(args)
        report.update(command=cmd, startup_s=round(startup, 3), rss_after_start_kb=rss_kb(proc.pid))
    else:
        base = args.base_url
    try:
        qa = []
        for i, (q, kind, good, bad) in enumerate(QA):
            msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}]
            r = stream_chat(base, msgs, temperature=args.temperature, max_tokens=args.max_tokens)
            r.update(question=q, kind=kind, auto_grade=grade_qa(r["text"], good, bad, r["finish"]), cold=(i == 0))
            qa.append(r)
            print(f"[qa {i+1:2}] {r['auto_grade']:7} ttft={r['ttft_s'] or 0:.2f}s {r['tokens_per_s'] or 0:5.1f} tok/s | {q} -> {r['text'][:100]!r}", flush=True)
        tools = []
        for i, (q, tool, date) in enumerate(TOOL_CASES):
            prompted = args.tool_mode == "prompted"
            msgs = [{"role": "system", "content": PROMPTED_TOOLS if prompted else TOOL_SYSTEM},
                    {"role": "user", "content": q}]
            try:
                r = stream_chat(base, msgs, tools=None if prompted else TOOLS, temperature=args.temperature,
                                max_tokens=args.max_tokens, tool_choice=args.tool_choice,
                                schema=PROMPTED_SCHEMA if prompted else None)
                if prompted:
                    calls = prompted_calls(r["text"])
                    r["invalid_json"], r["tool_calls"] = calls is None, calls or []
                grade, why = grade_tool(r, tool, date)
            except urllib.error.HTTPError as e:
                r = {"error": f"HTTP {e.code}: {e.read().decode()[:300]}", "tool_calls": [], "text": ""}
                grade, why = "wrong", r["error"]
            r.update(question=q, expected_tool=tool, expected_date=date, auto_grade=grade, why=why)
            tools.append(r)
            print(f"[tool {i+1:2}] {grade:7} {why:28} | {q} -> {r['tool_calls'] or r['text'][:80]!r}", flush=True)
        report["qa"], report["tools"] = qa, tools
        warm = [r for r in qa if not r["cold"]] + [r for r in tools if "ttft_s" in r]
        report["summary"] = {
            "qa_auto": {g: sum(r["auto_grade"] == g for r in qa) for g in ("correct", "wrong")},
            "tool_positive_correct": sum(r["auto_grade"] == "correct" for r in tools if r["expected_tool"]),
            "tool_positive_total": sum(1 for r in tools if r["expected_tool"]),
            "tool_control_correct": sum(r["auto_grade"] == "correct" for r in tools if not r["expected_tool"]),
            "tool_control_total": sum(1 for r in tools if not r["expected_tool"]),
            "cold_ttft_s": qa[0]["ttft_s"], "cold_tokens_per_s": qa[0]["tokens_per_s"],
            "warm_ttft_p50_s": pct([r["ttft_s"] for r in warm], 50),
            "warm_ttft_p95_s": pct([r["ttft_s"] for r in warm], 95),
            "warm_tokens_per_s_median": statistics.median([r["tokens_per_s"] for r in warm if r.get("tokens_per_s")] or [0]),
            "qa_ttft_p50_s": pct([r["ttft_s"] for r in qa], 50), "qa_ttft_p95_s": pct([r["ttft_s"] for r in qa], 95),
        }
        if proc:
            report["summary"].update(rss_end_kb=rss_kb(proc.pid), rss_peak_kb=rss_kb(proc.pid, "VmHWM"),
                                     startup_s=report["startup_s"], rss_after_start_kb=report["rss_after_start_kb"])
        print(json.dumps(report["summary"], indent=1))
    finally:
        if proc:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL); proc.wait()
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
