"""Issue 17's web findings, each reproduced: the Host-controlled redirect, gzip refused by
q=0, the cache policy of JSON answers, the settings repr and the status's per-dataset errors."""

from __future__ import annotations

import gzip

import fakeredis
import pytest
from flask.testing import FlaskClient

import app as web
import settings
from tests.fixtures.sample_data import publish_sample
from web.answers import accepts_gzip
from web.fast import SERVED_ROUTES


@pytest.fixture
def store() -> fakeredis.FakeRedis:
    client = fakeredis.FakeRedis()
    publish_sample(client, 4, edge_cases=True)
    return client


@pytest.fixture
def client(store) -> FlaskClient:
    return web.create_app({"REDIS_CLIENT": store}).test_client()


# ------------------------------------------------------------------ Host-controlled redirect


@pytest.mark.parametrize(
    "path", ["/static//evil.com", "/static//evil.com/x", "/static///evil.com", "/api//status"]
)
def test_a_double_slash_is_never_redirected_to_the_requests_host(client, path):
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 404, response.headers.get("Location")
    assert "Location" not in response.headers


def test_trusted_hosts_refuse_a_foreign_host_on_the_page(store):
    app = web.create_app({"REDIS_CLIENT": store, "TRUSTED_HOSTS": ["dashboard.example"]})
    client = app.test_client()
    assert client.get("/", headers={"Host": "dashboard.example"}).status_code == 200
    refused = client.get("/", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    assert refused.get_json()["status"] == 400


def test_trusted_hosts_come_from_the_environment_and_default_to_any():
    environ = {"TRUSTED_HOSTS": "Dashboard.example, .corp.example"}
    loaded = settings.load_web_settings(environ, None)
    assert loaded.trusted_hosts == ("dashboard.example", ".corp.example")
    assert settings.load_web_settings({}, None).trusted_hosts == ()
    with pytest.raises(settings.SettingError, match="TRUSTED_HOSTS"):
        settings.load_web_settings({"TRUSTED_HOSTS": "http://x/"}, None)


# ------------------------------------------------------------------ gzip negotiation


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("GZIP;q=0.5", True),
        ("br;q=1, gzip ; q=0.001", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("gzip; Q=0", False),
        ("deflate, gzip;q=0", False),
        ("gzip;q=nan", False),
        ("gzip;q=2", False),
        ("gzip;q=", False),
        ("*", False),
        ("", False),
        ("identity", False),
        ("gzipped", False),
    ],
)
def test_gzip_is_accepted_only_with_a_quality_above_zero(header, expected):
    assert accepts_gzip(header) is expected


@pytest.mark.parametrize("path", [*SERVED_ROUTES, "/api/export.csv"])
def test_gzip_q0_gets_the_plain_bytes_on_every_served_path(client, path):
    refused = client.get(path, headers={"Accept-Encoding": "gzip;q=0, deflate"})
    assert refused.status_code == 200
    assert "Content-Encoding" not in refused.headers
    plain = client.get(path)
    assert refused.data == plain.data
    accepted = client.get(path, headers={"Accept-Encoding": "gzip;q=0.8"})
    assert accepted.headers.get("Content-Encoding") == "gzip"
    assert gzip.decompress(accepted.data) == plain.data


def test_gzip_q0_gets_the_plain_static_file(client):
    refused = client.get("/static/css/dashboard.css", headers={"Accept-Encoding": "gzip;q=0"})
    assert refused.status_code == 200 and "Content-Encoding" not in refused.headers
    accepted = client.get("/static/css/dashboard.css", headers={"Accept-Encoding": "gzip"})
    assert accepted.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(accepted.data) == refused.data


# ------------------------------------------------------------------ cache policy


def test_stored_json_answers_are_private_to_the_browser(client, store):
    for path in SERVED_ROUTES:
        assert client.get(path).headers["Cache-Control"] == "private, no-cache", path
    gateway_id = client.get("/api/gateways").get_json()["gateways"][0]["id"]
    detail = client.get(f"/api/gateway/{gateway_id}")
    assert detail.status_code == 200
    assert detail.headers["Cache-Control"] == "private, no-cache"
    for path in ("/api/status", "/health", "/api/export.csv"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


# ------------------------------------------------------------------ settings repr


def test_the_settings_repr_hides_the_redis_password():
    environ = {"REDIS_URL": "redis://web:s3cret-pass@redis:6379/0", "MIST_API_TOKEN": "tok-1"}
    loaded: list[settings.WebSettings | settings.WorkerSettings] = [
        settings.load_web_settings(environ, None),
        settings.load_worker_settings(environ, None),
    ]
    for value in loaded:
        text = repr(value) + str(value)
        assert "s3cret-pass" not in text and "tok-1" not in text
        assert "redis://web:***@redis:6379/0" in text
        assert value.redis_url == "redis://web:s3cret-pass@redis:6379/0", "still usable"
    assert settings.redact_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert settings.redact_url("redis://h:1/0") == "redis://h:1/0"
    assert settings.redact_url("unix:///run/redis.sock") == "unix:///run/redis.sock"


# ------------------------------------------------------------------ status errors


def test_per_dataset_errors_in_api_status_are_redacted_like_last_error(store) -> None:
    """A stream's error text that quotes a token reaches /api/status as ***."""
    import worker as worker_module
    from mist.connection import MistConnection

    token = "tok-canary-0123456789"
    environ = {"MIST_API_TOKEN": f"other-token,{token}", "REDIS_URL": "redis://x:1/0"}
    loaded = settings.load_worker_settings(environ, None)
    connection = MistConnection.from_settings(loaded)
    worker = worker_module.Worker(loaded, client=store, connection=connection)
    worker.record("sites", None, f"401 Unauthorized for Token {token}")
    worker._write_status()
    status = web.create_app({"REDIS_CLIENT": store}).test_client().get("/api/status")
    body = status.get_data(as_text=True)
    assert token not in body
    assert status.get_json()["datasets"]["sites"]["error"] == "401 Unauthorized for Token ***"
