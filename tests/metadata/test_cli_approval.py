"""`insightd organizations ai-processing` sets the flag generate_metadata's LLM path checks."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from insightd.cli import main
from insightd.metadata.approval import ai_processing_approved
from insightd.settings import Settings
from insightd.state import AppState


def _approved(data_dir: Path) -> bool:
    state = AppState.open(Settings(data_dir=data_dir))
    try:
        with state.db.read() as session:
            return ai_processing_approved(session, 1)
    finally:
        state.close()


def test_approve_and_revoke(data_dir: Path) -> None:
    runner = CliRunner()
    approve = runner.invoke(
        main, ["organizations", "ai-processing", "--data-dir", str(data_dir), "--approve"]
    )
    assert approve.exit_code == 0, approve.output
    assert "now approved for organization 1" in approve.output
    assert _approved(data_dir)
    revoke = runner.invoke(main, ["organizations", "ai-processing", "--data-dir", str(data_dir), "--revoke"])
    assert revoke.exit_code == 0 and not _approved(data_dir)


def test_unknown_organization_and_missing_choice(data_dir: Path) -> None:
    runner = CliRunner()
    args = ["organizations", "ai-processing", "--data-dir", str(data_dir)]
    unknown = runner.invoke(main, [*args, "--organization", "42", "--approve"])
    assert unknown.exit_code == 1 and "No organization with id 42." in unknown.output
    assert runner.invoke(main, args).exit_code == 2  # --approve or --revoke is required
