"""A real HTTP server speaking OpenAI's chat-completions protocol, scripted by the tests."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the next requests get: ``content`` as the completion, or a raw ``body``/``status``."""

    content: str | None = '{"name": "Signup Trend", "description": "How many people sign up."}'
    body: bytes | None = None
    status: int = 200
    delay: float = 0.0


@dataclass
class FakeOpenAI:
    reply: Reply = field(default_factory=Reply)
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                payload = json.loads(self.rfile.read(length) or b"null")
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "json": payload})
                reply = fake.reply
                time.sleep(reply.delay)
                body = reply.body
                if body is None:
                    completion = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "model": payload.get("model"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content}}],
                    }
                    body = json.dumps(completion).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
