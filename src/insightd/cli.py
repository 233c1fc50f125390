"""The ``insightd`` command line. Every command takes ``--data-dir``; the first one run on an
empty data directory creates the default organization, project 1 and ``admin@localhost``."""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.orm import Session

from insightd.auth.scopes import InvalidScope, parse_scopes
from insightd.errors import InsightdError
from insightd.services import accounts
from insightd.settings import Settings
from insightd.state import AppState

F = TypeVar("F", bound=Callable[..., Any])


def data_dir_option(func: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data directory (default: $INSIGHTD_DATA_DIR, else ./.insightd).",
    )(func)


def load_settings(data_dir: Path | None, **overrides: Any) -> Settings:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"INSIGHTD_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise click.ClickException(f"invalid configuration: {problems}") from exc


@contextmanager
def store(data_dir: Path | None) -> Iterator[Session]:
    """A write transaction on the (migrated, bootstrapped) metadata store."""
    state = AppState.open(load_settings(data_dir))
    try:
        with state.db.write() as session:
            yield session
    except InsightdError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        state.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="insightd")
def main() -> None:
    """insightd: PostHog's Insights API, self-hosted."""


@main.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--print-key/--no-print-key",
    default=False,
    help="Create and print a personal API key for admin@localhost.",
)
def serve(data_dir: Path | None, host: str, port: int, print_key: bool) -> None:
    """Apply migrations, then serve the API."""
    import uvicorn

    from insightd.api.app import create_app

    settings = load_settings(data_dir)
    state = AppState.open(settings)
    if print_key:
        with state.db.write() as session:
            admin = accounts.user_by_email(session, accounts.DEFAULT_ADMIN_EMAIL)
            created = accounts.create_personal_api_key(session, admin, label="make serve")
        click.echo(f"Personal API key for {accounts.DEFAULT_ADMIN_EMAIL}: {created.value}")
        click.echo(
            f"Try: curl -H 'Authorization: Bearer {created.value}' http://{host}:{port}/api/projects/1/insights/"
        )
    app = create_app(settings, state=state)
    # Everything loaded so far (libraries, the engine) lives as long as the process: keep it out of
    # the garbage collector's full passes, which otherwise stall requests for tens of milliseconds.
    gc.collect()
    gc.freeze()
    from insightd.events.bulk import announce, withdraw

    announce(settings.data_dir, f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}")
    try:
        uvicorn.run(app, host=host, port=port, log_level=os.environ.get("INSIGHTD_LOG_LEVEL", "info"))
    finally:
        withdraw(settings.data_dir)
        state.close()


@main.command()
@data_dir_option
def migrate(data_dir: Path | None) -> None:
    """Apply database migrations and exit."""
    AppState.open(load_settings(data_dir)).close()
    click.echo("migrations applied")


@main.group()
def users() -> None:
    """Manage users."""


@users.command("create")
@data_dir_option
@click.option("--email", required=True)
@click.option("--first-name", default="")
@click.option(
    "--project",
    "projects",
    multiple=True,
    type=int,
    help="Project the user belongs to (repeatable; default 1).",
)
def users_create(data_dir: Path | None, email: str, first_name: str, projects: tuple[int, ...]) -> None:
    """Create a user who is a member of the given projects; prints the new user's id last."""
    with store(data_dir) as session:
        user = accounts.create_user(session, email, first_name, projects or (1,))
        user_id = user.id
    click.echo(f"created user {email}")
    click.echo(user_id)


@main.group()
def projects() -> None:
    """Manage projects."""


@projects.command("create")
@data_dir_option
@click.option("--name", required=True)
@click.option("--member", "members", multiple=True, help="Email of a member (repeatable).")
@click.option("--timezone", default="UTC", show_default=True)
@click.option("--id", "project_id", type=int, default=None, help="Keep this id (e.g. a PostHog project's).")
def projects_create(
    data_dir: Path | None, name: str, members: tuple[str, ...], timezone: str, project_id: int | None
) -> None:
    """Create a project; admin@localhost and every --member join it. Prints the new id last."""
    with store(data_dir) as session:
        project = accounts.create_project(session, name, members, timezone, project_id)
        project_id = project.id
    click.echo(f"created project {name!r}")
    click.echo(project_id)


@projects.command("show")
@data_dir_option
@click.option("--project", "project_id", default=1, show_default=True, type=int)
def projects_show(data_dir: Path | None, project_id: int) -> None:
    """Show a project, with its API token for event capture."""
    with store(data_dir) as session:
        project = accounts.project_by_id(session, project_id)
        for label, value in (
            ("id", project.id),
            ("name", project.name),
            ("timezone", project.timezone),
            (
                "week_start_day",
                f"{project.week_start_day} ({'Monday' if project.week_start_day else 'Sunday'})",
            ),
            ("test_account_filters", json.dumps(project.test_account_filters)),
            ("api_token", project.api_token),
        ):
            click.echo(f"{label}: {value}")


@projects.command("update")
@data_dir_option
@click.option("--project", "project_id", default=1, show_default=True, type=int)
@click.option("--name", default=None)
@click.option("--timezone", default=None, help="IANA name, e.g. Europe/Berlin.")
@click.option("--week-start-day", type=click.Choice(["sunday", "monday"]), default=None)
@click.option(
    "--test-account-filters",
    "filters",
    default=None,
    help='JSON list of property filters, e.g. \'[{"key": "email", "value": "@example.com", '
    '"operator": "not_icontains", "type": "person"}]\'.',
)
def projects_update(
    data_dir: Path | None,
    project_id: int,
    name: str | None,
    timezone: str | None,
    week_start_day: str | None,
    filters: str | None,
) -> None:
    """Change a project's settings (as PATCH /api/projects/ID/ does)."""
    from pydantic import ValidationError

    from insightd.api.schemas import ProjectWrite
    from insightd.services.projects import update_project

    body: dict[str, Any] = {"name": name, "timezone": timezone}
    if week_start_day is not None:
        body["week_start_day"] = 1 if week_start_day == "monday" else 0
    if filters is not None:
        try:
            body["test_account_filters"] = json.loads(filters)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--test-account-filters") from exc
    try:
        changes = ProjectWrite.model_validate({k: v for k, v in body.items() if v is not None}).changes()
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from exc
    with store(data_dir) as session:
        update_project(session, project_id, changes)
    click.echo(f"updated project {project_id}")


@main.group()
def keys() -> None:
    """Manage personal API keys."""


@keys.command("create")
@data_dir_option
@click.option("--email", default=accounts.DEFAULT_ADMIN_EMAIL, show_default=True)
@click.option(
    "--scopes",
    "scopes_text",
    default="*",
    show_default=True,
    help="Comma list, e.g. insight:read,insight:write.",
)
@click.option(
    "--project", "projects", multiple=True, type=int, help="Restrict the key to this project (repeatable)."
)
@click.option("--label", default="")
def keys_create(
    data_dir: Path | None, email: str, scopes_text: str, projects: tuple[int, ...], label: str
) -> None:
    """Create a personal API key; prints the key (phx_…) last."""
    try:
        scopes = parse_scopes(scopes_text)
    except InvalidScope as exc:
        raise click.BadParameter(str(exc), param_hint="--scopes") from exc
    with store(data_dir) as session:
        user = accounts.user_by_email(session, email)
        created = accounts.create_personal_api_key(session, user, scopes, projects or None, label)
    click.echo(f"created key {created.key.mask_value} for {email} with scopes {','.join(scopes)}", err=True)
    click.echo(created.value)


@main.group()
def organizations() -> None:
    """Manage organizations."""


@organizations.command("ai-processing")
@data_dir_option
@click.option("--organization", "organization_id", default=1, show_default=True, type=int)
@click.option(
    "--approve/--revoke",
    required=True,
    help="Allow (or stop) sending insight query summaries to the configured LLM (INSIGHTD_LLM_*).",
)
def organizations_ai_processing(data_dir: Path | None, organization_id: int, approve: bool) -> None:
    """Set the organization's is_ai_data_processing_approved flag (used by generate_metadata)."""
    from insightd.metadata.approval import set_ai_processing_approval

    with store(data_dir) as session:
        organization = set_ai_processing_approval(session, organization_id, approve)
        name = organization.name
    state = "approved" if approve else "not approved"
    click.echo(f"AI data processing is now {state} for organization {organization_id} ({name})")


@contextmanager
def event_sink(settings: Settings) -> Iterator[Any]:
    """Where bulk events go: the server that owns the data directory, else the directory itself."""
    from insightd.engine.base import EngineError
    from insightd.events.bulk import LocalSink, find_server

    remote = find_server(settings.data_dir, wait=15)
    if remote is not None:
        try:
            yield remote
        finally:
            remote.close()
        return
    state = AppState.open(settings)
    try:
        try:
            events = state.events.start()
        except (EngineError, RuntimeError) as exc:
            raise click.ClickException(
                "another insightd process holds this data directory but does not answer on its admin API "
                f"(is it still starting?). Try again in a moment. ({exc})"
            ) from exc
        sink = LocalSink(events)
        try:
            yield sink
        except BaseException:
            with suppress(Exception):  # the body's error is the one to report
                sink.finish()
            raise
        sink.finish()
    finally:
        state.close()


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    )


@main.command()
@data_dir_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", default=1, show_default=True, type=int)
@click.option("--format", "fmt", type=click.Choice(["ndjson", "csv", "parquet"]), default=None,
              help="File format (default: from the file name or its first bytes).")  # fmt: skip
def load(data_dir: Path | None, file: Path, project_id: int, fmt: str | None) -> None:
    """Load events from an NDJSON, CSV or Parquet file (PostHog's export columns)."""
    from rich.console import Console
    from rich.table import Table

    from insightd.events.bulk import load_file

    settings = load_settings(data_dir)
    with store(data_dir) as session:
        accounts.project_by_id(session, project_id)
    console = Console(stderr=True)
    with event_sink(settings) as sink:
        console.print(f"Loading into project {project_id} through {sink.where}")
        try:
            with _progress() as progress:
                summary = load_file(file, fmt, project_id, sink, progress=progress)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    table = Table(title=f"Loaded {file.name}", show_header=False)
    table.add_row("rows read", f"{summary.rows_read:,}")
    table.add_row("events stored", f"{summary.stored:,}")
    table.add_row("skipped: already stored (same uuid)", f"{summary.duplicates:,}")
    for reason, count in sorted(summary.skipped.items()):
        table.add_row(f"skipped: {reason}", f"{count:,}")
    table.add_row("time", f"{summary.seconds:.2f} s ({summary.rate:,.0f} rows/s)")
    Console().print(table)


@main.command()
@data_dir_option
@click.option("--events", "count", default=100_000, show_default=True, type=click.IntRange(1, 100_000_000))
@click.option("--project", "project_id", default=1, show_default=True, type=int)
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--if-empty", is_flag=True, help="Do nothing when the data directory already holds events.")
def demo(data_dir: Path | None, count: int, project_id: int, seed: int, if_empty: bool) -> None:
    """Load a deterministic demo product (Hedgebox) with saved insights and a dashboard."""
    from insightd.events.demo import DEMO_DASHBOARD, demo_insights, demo_tables
    from insightd.services import dashboards, insights
    from insightd.services.context import Actor
    from insightd.store.models import Dashboard

    settings = load_settings(data_dir)
    if if_empty and (settings.data_dir / "events").exists():
        click.echo("demo: the data directory already holds an event store; nothing to do")
        return
    with store(data_dir) as session:
        project = accounts.project_by_id(session, project_id)
        if session.query(Dashboard).filter_by(project_id=project.id, name=DEMO_DASHBOARD).first() is None:
            actor = Actor(project, accounts.user_by_email(session, accounts.DEFAULT_ADMIN_EMAIL))
            board = dashboards.create_dashboard(session, actor, {"name": DEMO_DASHBOARD, "pinned": True})
            for body in demo_insights():
                insights.create_insight(session, actor, {**body, "dashboards": [board.id]})
    stored = duplicates = 0
    with event_sink(settings) as sink, _progress() as progress:
        task = progress.add_task("Demo events", total=count)
        for table in demo_tables(count, seed=seed):
            result = sink.write(project_id, table)
            stored, duplicates = stored + result.stored, duplicates + result.duplicates
            progress.advance(task, table.num_rows)
        sink.finish()
    click.echo(f"demo: {stored:,} events stored in project {project_id} ({duplicates:,} already there)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
