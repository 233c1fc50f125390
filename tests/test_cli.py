"""The `insightd` command line contract (issue: "keep it stable")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from insightd.cli import main
from tests.support import free_port

INSIGHTD = str(Path(sys.executable).with_name("insightd"))


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_first_command_bootstraps_and_prints_key_last(data_dir: Path) -> None:
    key = last_line(run("keys", "create", "--data-dir", str(data_dir)))
    assert key.startswith("phx_")
    shown = run("projects", "show", "--data-dir", str(data_dir))
    assert "name: Default project" in shown and "api_token: phc_" in shown


def test_users_projects_and_scoped_keys(data_dir: Path) -> None:
    dd = str(data_dir)
    user_id = last_line(
        run("users", "create", "--data-dir", dd, "--email", "ana@example.com", "--first-name", "Ana")
    )
    assert user_id.isdigit()
    project_id = last_line(
        run("projects", "create", "--data-dir", dd, "--name", "Shop", "--member", "ana@example.com")
    )
    assert project_id == "2"
    key = last_line(
        run(
            "keys",
            "create",
            "--data-dir",
            dd,
            "--email",
            "ana@example.com",
            "--scopes",
            "insight:read",
            "--project",
            project_id,
            "--label",
            "ci",
        )
    )
    assert key.startswith("phx_")


def test_data_dir_from_environment(tmp_path: Path) -> None:
    target = tmp_path / "from-env"
    run("migrate", env={"INSIGHTD_DATA_DIR": str(target)})
    assert (target / "insightd.db").exists()


def test_errors_are_messages_not_tracebacks(data_dir: Path) -> None:
    runner = CliRunner()
    dd = str(data_dir)
    bad_scope = runner.invoke(main, ["keys", "create", "--data-dir", dd, "--scopes", "insight:delete"])
    assert bad_scope.exit_code == 2 and "unknown scope" in bad_scope.output
    no_user = runner.invoke(main, ["keys", "create", "--data-dir", dd, "--email", "ghost@example.com"])
    assert no_user.exit_code == 1 and "No user with email" in no_user.output
    dup = runner.invoke(main, ["users", "create", "--data-dir", dd, "--email", "admin@localhost"])
    assert dup.exit_code == 1 and "already exists" in dup.output
    bad_env = runner.invoke(main, ["migrate", "--data-dir", dd], env={"INSIGHTD_RATE_LIMITS": "fast"})
    assert bad_env.exit_code == 1 and "INSIGHTD_RATE_LIMITS" in bad_env.output
    no_project = runner.invoke(
        main, ["users", "create", "--data-dir", dd, "--email", "x@y.z", "--project", "42"]
    )
    assert no_project.exit_code == 1 and "No project with id 42" in no_project.output


def test_cli_on_postgresql(tmp_path: Path) -> None:
    from tests.support import postgres_database

    with postgres_database() as url:
        env = {"INSIGHTD_DATABASE_URL": url}
        key = last_line(run("keys", "create", "--data-dir", str(tmp_path), env=env))
        assert key.startswith("phx_")
        assert (
            last_line(run("projects", "create", "--name", "Second", "--data-dir", str(tmp_path), env=env))
            == "2"
        )


def test_python_dash_m_works() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "insightd", "--help"], capture_output=True, text=True, check=True
    )
    assert "serve" in out.stdout and "keys" in out.stdout


@pytest.mark.timeout(60)
def test_serve_starts_and_printed_key_works(data_dir: Path) -> None:
    port = free_port()
    env = {**os.environ, "INSIGHTD_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [INSIGHTD, "serve", "--data-dir", str(data_dir), "--port", str(port), "--print-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        key = ""
        deadline = time.monotonic() + 30
        while not key and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if "Personal API key" in line:
                key = line.rsplit(" ", 1)[-1].strip()
        assert key.startswith("phx_")
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/_health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        response = httpx.get(f"{base}/api/projects/1/insights/", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
        assert response.json()["count"] >= 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_projects_update_changes_the_query_settings(data_dir: Path) -> None:
    dd = str(data_dir)
    filters = '[{"key": "email", "value": "@acme.test", "operator": "not_icontains", "type": "person"}]'
    run(
        "projects",
        "update",
        "--data-dir",
        dd,
        "--week-start-day",
        "monday",
        "--test-account-filters",
        filters,
    )
    shown = run("projects", "show", "--data-dir", dd)
    assert "week_start_day: 1 (Monday)" in shown
    assert '"value": "@acme.test"' in shown and '"type": "person"' in shown
    runner = CliRunner()
    not_json = runner.invoke(main, ["projects", "update", "--data-dir", dd, "--test-account-filters", "[{"])
    assert not_json.exit_code == 2 and "not JSON" in not_json.output
    not_a_filter = runner.invoke(
        main, ["projects", "update", "--data-dir", dd, "--test-account-filters", '[{"type": "cohort"}]']
    )
    assert not_a_filter.exit_code == 1 and "test_account_filters" in not_a_filter.output
    bad_zone = runner.invoke(main, ["projects", "update", "--data-dir", dd, "--timezone", "Mars/Base"])
    assert bad_zone.exit_code == 1 and "Mars/Base" in bad_zone.output and "Traceback" not in bad_zone.output
    assert "week_start_day: 1 (Monday)" in run("projects", "show", "--data-dir", dd)
