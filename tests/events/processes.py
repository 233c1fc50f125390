"""``insightd`` as a real subprocess (own chDB data directory), for crash and hand-off tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from insightd.events.store import admin_token
from tests.support import free_port


def cli(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``insightd ARGS --data-dir DATA_DIR`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "insightd", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "INSIGHTD_RATE_LIMITS": "off"},
    )


def project_token(data_dir: Path, project_id: int = 1) -> str:
    shown = cli(data_dir, "projects", "show", "--project", str(project_id))
    assert shown.returncode == 0, shown.stderr
    return next(line.split(": ", 1)[1] for line in shown.stdout.splitlines() if line.startswith("api_token"))


class ServerProcess:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "insightd",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "INSIGHTD_LOG_LEVEL": "warning", "INSIGHTD_RATE_LIMITS": "off"},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "insightd serve exited"
            try:
                if httpx.get(f"{self.base_url}/_health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("insightd serve did not start")

    def admin(self) -> httpx.Client:
        token = admin_token(self.data_dir) or ""
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
