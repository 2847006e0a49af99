"""Settings: defaults, `.env` under the environment, and a bad value named with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import settings
from settings import Secret, SettingError, load_web_settings, load_worker_settings

ROOT = Path(__file__).resolve().parent.parent
ORG = "9777c1a0-6ef6-11e6-8bbf-02e208b2d34f"


def test_defaults_for_worker_and_web(tmp_path):
    worker = load_worker_settings({"MIST_API_TOKEN": "abc"}, tmp_path / ".env")
    assert worker.mist_host == "api.mist.com"
    assert worker.redis_url == "redis://localhost:6379"
    assert worker.worker_interval == 300
    assert worker.port == 5000
    assert worker.log_level == "INFO"
    assert worker.org_id is None and worker.ca_bundle is None
    web = load_web_settings({}, tmp_path / ".env")  # the web app needs no token
    assert web.redis_url == "redis://localhost:6379" and web.port == 5000


def test_env_file_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("MIST_API_TOKEN=from-file\nWORKER_INTERVAL=60\nMIST_HOST=api.eu.mist.com\n")
    loaded = load_worker_settings({"WORKER_INTERVAL": "120"}, env_file)
    assert loaded.tokens == (Secret("from-file"),)
    assert loaded.worker_interval == 120
    assert loaded.mist_host == "api.eu.mist.com"


def test_tokens_are_split_deduplicated_and_never_shown(tmp_path):
    loaded = load_worker_settings({"MIST_API_TOKEN": " a1 , b2,a1,, c3 "}, tmp_path / ".env")
    assert [token.reveal() for token in loaded.tokens] == ["a1", "b2", "c3"]
    text = repr(loaded) + str(loaded)
    assert "a1" not in text and "b2" not in text and "'***'" in text


def test_custom_host_with_port_and_ca_bundle(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    loaded = load_worker_settings(
        {
            "MIST_API_TOKEN": "t",
            "MIST_HOST": "127.0.0.1:8443",
            "MIST_CA_BUNDLE": str(ca),
            "MIST_ORG_ID": ORG.upper(),
        },
        tmp_path / ".env",
    )
    assert loaded.mist_host == "127.0.0.1:8443"
    assert loaded.ca_bundle == str(ca)
    assert loaded.org_id == ORG


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MIST_API_TOKEN", ""),
        ("MIST_API_TOKEN", "bad token"),
        ("MIST_HOST", "https://api.mist.com"),
        ("MIST_HOST", "api.mist.com/api"),
        ("MIST_HOST", "host:99999"),
        ("MIST_ORG_ID", "not-a-uuid"),
        ("MIST_CA_BUNDLE", "/nonexistent/ca.pem"),
        ("REDIS_URL", "http://localhost:6379"),
        ("REDIS_URL", "redis://localhost:port"),
        ("WORKER_INTERVAL", "five"),
        ("WORKER_INTERVAL", "0"),
        ("PORT", "70000"),
        ("LOG_LEVEL", "CHATTY"),
    ],
)
def test_a_bad_value_names_its_setting(tmp_path, name, value):
    environ = {"MIST_API_TOKEN": "t", name: value}
    with pytest.raises(SettingError) as caught:
        load_worker_settings(environ, tmp_path / ".env")
    assert caught.value.setting == name
    assert name in str(caught.value)


def test_worker_exits_2_naming_the_setting_without_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIST_", "WORKER_"))}
    env.update({"MIST_API_TOKEN": "secret-canary-123", "WORKER_INTERVAL": "soon"})
    result = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--once"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "WORKER_INTERVAL" in result.stderr
    assert "Traceback" not in result.stderr
    assert "secret-canary-123" not in result.stderr + result.stdout


def test_missing_token_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIST_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--once"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "MIST_API_TOKEN" in result.stderr


def test_secret_is_opaque():
    secret = Secret("abc")
    assert repr(secret) == "'***'" and str(secret) == "'***'" and f"{secret}" == "'***'"
    assert secret.reveal() == "abc"
    assert settings.Secret("abc") == secret


SENTINELS = "sentinel-1:26379, sentinel-2:26379,10.0.0.3:26379"


def test_sentinel_settings_replace_the_redis_address(tmp_path):
    environ = {
        "MIST_API_TOKEN": "t",
        "REDIS_SENTINELS": SENTINELS,
        "REDIS_SENTINEL_MASTER": "mist",
        "REDIS_SENTINEL_PASSWORD": "sentinel-canary-42",
        "REDIS_READ_FROM_REPLICAS": "1",
    }
    worker = load_worker_settings(environ, tmp_path / ".env")
    sentinel = worker.sentinel
    assert sentinel is not None and sentinel.master == "mist" and sentinel.read_from_replicas
    assert sentinel.addresses == (
        ("sentinel-1", 26379),
        ("sentinel-2", 26379),
        ("10.0.0.3", 26379),
    )
    assert sentinel.password == Secret("sentinel-canary-42")
    assert "sentinel-canary-42" not in repr(worker) + repr(load_web_settings(environ, None))
    assert load_web_settings({}, tmp_path / ".env").sentinel is None


@pytest.mark.parametrize(
    ("name", "environ"),
    [
        ("REDIS_SENTINELS", {"REDIS_SENTINELS": "sentinel-1", "REDIS_SENTINEL_MASTER": "m"}),
        ("REDIS_SENTINELS", {"REDIS_SENTINELS": "a:26379,b:0", "REDIS_SENTINEL_MASTER": "m"}),
        ("REDIS_SENTINELS", {"REDIS_SENTINELS": "http://a:1", "REDIS_SENTINEL_MASTER": "m"}),
        ("REDIS_SENTINEL_MASTER", {"REDIS_SENTINELS": "a:26379"}),
        ("REDIS_SENTINEL_MASTER", {"REDIS_SENTINELS": "a:1", "REDIS_SENTINEL_MASTER": "m x"}),
        ("REDIS_READ_FROM_REPLICAS", {"REDIS_READ_FROM_REPLICAS": "1"}),
        ("REDIS_READ_FROM_REPLICAS", {"REDIS_SENTINELS": "a:1", "REDIS_READ_FROM_REPLICAS": "?"}),
    ],
)
def test_a_bad_sentinel_setting_is_named(tmp_path, name, environ):
    with pytest.raises(SettingError) as caught:
        load_web_settings(environ, tmp_path / ".env")
    assert caught.value.setting == name


def test_a_bad_sentinel_address_exits_2_naming_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIST_", "REDIS_"))}
    env.update({"REDIS_SENTINELS": "sentinel-1:26379,sentinel-2", "REDIS_SENTINEL_MASTER": "m"})
    for command in (["worker.py", "--healthcheck"], ["app.py"]):
        result = subprocess.run(
            [sys.executable, str(ROOT / command[0]), *command[1:]],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "REDIS_SENTINELS" in result.stderr and "'sentinel-2'" in result.stderr
        assert "Traceback" not in result.stderr
