"""generate_metadata with an OpenAI-compatible LLM: approval, prompt, fallback to offline."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from insightd.store.models import Organization, Project
from tests.metadata.fake_openai import FakeOpenAI, Reply
from tests.metadata.queries import breakdown, event, trends
from tests.support import ServerThread, Tenant, free_port, make_settings, new_tenant

SOURCE = "X-Insightd-Metadata-Source"
TIMEOUT = 0.5
QUERY = trends(event("signed_up"), interval="week", breakdownFilter=breakdown("$browser"))
OFFLINE = {
    "name": "Weekly Signups by Browser",
    "description": "The number of signups per week, broken down by browser.",
}


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def llm_server(
    fake_llm: FakeOpenAI, database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    settings = make_settings(
        tmp_path_factory.mktemp("llm"),
        database_url,
        llm_base_url=fake_llm.base_url,
        llm_model="local-model",
        llm_api_key="sk-test-key",
        llm_timeout=TIMEOUT,
    )
    with ServerThread(settings) as running:
        yield running


def _tenant_in_own_organization(server: ServerThread) -> Tenant:
    """A tenant in an organization of its own, so approval never leaks between tests."""
    created = new_tenant(server)
    with server.state.db.write() as session:
        org = Organization(name=f"Org of {created.project_id}")
        session.add(org)
        session.flush()
        project = session.scalar(select(Project).where(Project.id == created.project_id))
        assert project is not None
        project.organization_id = org.id
    return created


@pytest.fixture
def llm_tenant(llm_server: ServerThread, fake_llm: FakeOpenAI) -> Iterator[Tenant]:
    created = _tenant_in_own_organization(llm_server)
    fake_llm.reply = Reply()
    fake_llm.requests.clear()
    yield created
    created.close()


def _approve(tenant: Tenant, approved: bool = True) -> None:
    with tenant.server.state.db.write() as session:
        project = session.get(Project, tenant.project_id)
        assert project is not None
        org = session.get(Organization, project.organization_id)
        assert org is not None
        org.is_ai_data_processing_approved = approved


def _generate(tenant: Tenant) -> httpx.Response:
    return tenant.client().post(f"{tenant.base}/insights/generate_metadata/", json={"query": QUERY})


def test_refused_until_the_organization_approves(llm_tenant: Tenant, fake_llm: FakeOpenAI) -> None:
    refused = _generate(llm_tenant)
    assert refused.status_code == 403
    assert refused.json() == {
        "type": "authentication_error",
        "code": "permission_denied",
        "detail": "AI data processing must be approved by your organization",
        "attr": None,
    }
    assert fake_llm.requests == []
    _approve(llm_tenant)
    assert _generate(llm_tenant).status_code == 200


def test_llm_answer_and_what_was_sent(llm_tenant: Tenant, fake_llm: FakeOpenAI) -> None:
    _approve(llm_tenant)
    fake_llm.reply = Reply(
        content='  {"name": " \\"Weekly Signups by Browser\\" ", "description": " Signups. "}'
    )
    response = _generate(llm_tenant)
    assert response.status_code == 200, response.text
    assert response.headers[SOURCE] == "llm"
    assert response.json() == {"name": "Weekly Signups by Browser", "description": "Signups."}

    (request,) = fake_llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-key"
    sent = request["json"]
    assert sent["model"] == "local-model" and sent["temperature"] == 0
    system, user = sent["messages"]
    assert system["role"] == "system" and "JSON" in system["content"]
    assert user["role"] == "user"
    prompt = user["content"]
    assert "Type: TrendsQuery\nSeries: signed_up\nInterval: week\nBreakdown: $browser" in prompt
    assert "Title Case" in prompt and "FUNNEL" not in prompt and "TRENDS" in prompt
    assert '"kind"' not in prompt and "EventsNode" not in prompt  # the summary, never the raw query
    assert prompt.rstrip().endswith('Return ONLY a JSON object: {"name": "...", "description": "..."}')


def test_fenced_json_is_accepted_and_long_answers_clipped(llm_tenant: Tenant, fake_llm: FakeOpenAI) -> None:
    _approve(llm_tenant)
    name, description = "N" * 150, "D" * 300
    fake_llm.reply = Reply(content=f'```json\n{{"name": "{name}", "description": "{description}"}}\n```')
    body = _generate(llm_tenant).json()
    assert body == {"name": "N" * 97 + "...", "description": "D" * 197 + "..."}


@pytest.mark.parametrize(
    "reply",
    [
        Reply(content="Sure! Here is a name: Weekly Signups"),
        Reply(content='{"title": "Weekly Signups"}'),
        Reply(content='{"name": "", "description": "empty name"}'),
        Reply(content='["Weekly Signups", "desc"]'),
        Reply(content=None),
        Reply(body=b"<html>bad gateway</html>", status=502),
        Reply(body=b'{"error": {"message": "model not found"}}', status=404),
        Reply(body=b'{"choices": []}'),
        Reply(body=b"not json at all"),
    ],
    ids=["prose", "wrong keys", "empty name", "array", "no content", "502", "404", "no choices", "garbage"],
)
def test_bad_answers_fall_back_to_offline(llm_tenant: Tenant, fake_llm: FakeOpenAI, reply: Reply) -> None:
    _approve(llm_tenant)
    fake_llm.reply = reply
    response = _generate(llm_tenant)
    assert response.status_code == 200, response.text
    assert response.headers[SOURCE] == "offline"
    assert response.json() == OFFLINE
    assert len(fake_llm.requests) == 1


def test_slow_llm_times_out_to_offline(llm_tenant: Tenant, fake_llm: FakeOpenAI) -> None:
    _approve(llm_tenant)
    fake_llm.reply = Reply(delay=TIMEOUT * 4)
    started = time.monotonic()
    response = _generate(llm_tenant)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.headers[SOURCE] == "offline"
    assert response.json() == OFFLINE
    assert elapsed < TIMEOUT * 3, elapsed


def test_unreachable_llm_falls_back(
    database_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(
        tmp_path_factory.mktemp("down"), database_url, llm_base_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    with ServerThread(settings) as server:
        tenant = _tenant_in_own_organization(server)
        _approve(tenant)
        response = _generate(tenant)
        tenant.close()
    assert response.status_code == 200
    assert response.headers[SOURCE] == "offline"
    assert response.json() == OFFLINE
