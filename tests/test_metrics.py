"""/metrics: the exposition the worker stores and the web serves, read back by
prometheus_client's parsers and checked by Debian's promtool (its lint included)."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import fakeredis
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

import app as web
import settings
from store.exposition import escape
from tests.fixtures.sample_data import SampleOrg, publish_sample

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: install Debian's prometheus (make system-deps)")
    return subprocess.run([path, *args], input=stdin, capture_output=True, timeout=60)


def scrape(peer_paths: str = "summary", **headers: str) -> tuple[SampleOrg, bytes, dict]:
    store = fakeredis.FakeRedis()
    org = publish_sample(store, 12, edge_cases=True, peer_paths=peer_paths)
    response = (
        web.create_app({"REDIS_CLIENT": store}).test_client().get("/metrics", headers=headers)
    )
    assert response.status_code == 200, response.data
    return org, response.data, dict(response.headers)


def samples(body: bytes) -> list:
    return [s for family in parse_text(body.decode()) for s in family.samples]


def test_label_values_escape_exactly_backslash_quote_and_newline() -> None:
    assert escape('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert escape("Café 🚀 بوابة <b>") == "Café 🚀 بوابة <b>"
    assert escape(None) == ""
    assert escape("tab\tand\rreturn") == "tab\tand\rreturn"  # the format escapes only three


def test_edge_case_names_come_back_intact_as_label_values() -> None:
    org, body, headers = scrape()
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    parsed = samples(body)
    gateways = {s.labels["gateway_id"]: s.labels for s in parsed if s.name == "mist_gateway_up"}
    sites = {site["id"]: site["name"] for site in org.answers.sites}
    assert len(gateways) == len(org.payload["gateways"])
    for gateway in org.payload["gateways"]:
        labels = gateways[gateway["id"]]
        assert labels["gateway"] == (gateway["name"] or "")
        assert labels["site"] == (sites.get(gateway["site_id"]) or "")
        assert labels["org"] == org.answers.org["name"]
    names = {labels["gateway"] for labels in gateways.values()} | {
        labels["site"] for labels in gateways.values()
    }
    assert any('"' in name for name in names) and any("<" in name for name in names)
    assert any("\u0600" <= ch <= "\u06ff" for name in names for ch in name)  # right-to-left
    assert any(ord(ch) > 0xFFFF for name in names for ch in name)  # emoji


def test_ports_read_in_base_units_from_the_payload() -> None:
    org, body, _ = scrape()
    by_port: dict[tuple[str, ...], float] = {}
    for sample in samples(body):
        if "port" in sample.labels and "peer_gateway" not in sample.labels:
            found = (sample.labels["gateway_id"], sample.labels["port"], sample.name)
            by_port[found] = sample.value
    checked = 0
    for gateway in org.payload["gateways"]:
        for port in gateway["ports"]:
            key: tuple[str, ...] = (gateway["id"], port["port_id"])
            if port["up"] is not None:
                assert by_port[(*key, "mist_wan_port_up")] == (1 if port["up"] else 0)
            if port["speed"] is not None:
                speed = by_port[(*key, "mist_wan_port_speed_bytes_per_second")]
                assert speed == port["speed"] * 1_000_000 / 8
            assert by_port[(*key, "mist_wan_port_peer_paths")] == port["peers_total"]
            if port["loss"] is not None:  # the worst is at least the average
                worst = by_port[(*key, "mist_wan_port_peer_path_max_loss_ratio")]
                assert worst >= port["loss"] / 100 - 1e-9
                checked += 1
    assert checked


@pytest.mark.parametrize("peer_paths", ["summary", "all", "off"])
def test_promtool_finds_nothing_to_lint_in_the_served_body(peer_paths: str) -> None:
    _, body, _ = scrape(peer_paths)
    result = promtool("check", "metrics", stdin=body)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == b""


def test_peer_path_modes_choose_the_series() -> None:
    names = {mode: {s.name for s in samples(scrape(mode)[1])} for mode in ("off", "summary", "all")}
    assert not any("peer" in name for name in names["off"])
    assert "mist_wan_port_peer_path_min_mos" in names["summary"]
    assert not any(name.startswith("mist_peer_path_") for name in names["summary"])
    assert {"mist_peer_path_up", "mist_peer_path_latency_seconds"} <= names["all"]
    counts = {mode: len(samples(scrape(mode)[1])) for mode in ("off", "summary", "all")}
    assert counts["off"] < counts["summary"] < counts["all"]


def test_all_peer_paths_are_unique_series_with_their_peer_labels() -> None:
    _, body, _ = scrape("all")
    paths = [s for s in samples(body) if s.name == "mist_peer_path_up"]
    keys = [tuple(sorted(s.labels.items())) for s in paths]
    assert paths and len(keys) == len(set(keys))
    assert {"peer_gateway", "peer_port", "vpn", "isp", "wan_name"} <= set(paths[0].labels)


def test_openmetrics_when_the_scraper_asks_and_the_same_samples() -> None:
    _, text, _ = scrape()
    _, body, headers = scrape(Accept=PROMETHEUS_ACCEPT)
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert body.endswith(b"# EOF\n")
    families = list(parse_openmetrics(body.decode()))
    counters = {f.name for f in families if f.type == "counter"}
    assert {"mist_wan_port_receive_bytes", "mist_api_calls"} <= counters
    om = {(s.name, tuple(sorted(s.labels.items()))) for f in families for s in f.samples}
    plain = {(s.name, tuple(sorted(s.labels.items()))) for s in samples(text)}
    assert om == plain


def test_gzip_body_is_the_same_exposition_with_the_data_age_first() -> None:
    store = fakeredis.FakeRedis()
    publish_sample(store, 12, edge_cases=True)
    client = web.create_app({"REDIS_CLIENT": store}).test_client()
    plain = client.get("/metrics").data
    response = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip" and "ETag" not in response.headers
    body = gzip.decompress(response.data)
    assert body.startswith(b"# HELP mist_data_age_seconds ")
    assert body.split(b"\n", 3)[3] == plain.split(b"\n", 3)[3]  # all but the age line
    age = next(s for s in samples(body) if s.name == "mist_data_age_seconds")
    assert 0 <= age.value < 60


def test_a_client_without_gzip_gets_the_stored_gzip_inflated_as_it_is_sent() -> None:
    """Redis holds the exposition as gzip alone (store.keys.GZIP_ONLY): curl without
    --compressed still reads plain text, streamed (no Content-Length), the same bytes."""
    store = fakeredis.FakeRedis()
    publish_sample(store, 12, edge_cases=True)
    assert store.get("mist:metrics") is None and store.get("mist:metrics:openmetrics") is None
    zipped = store.get("mist:metrics:gz")
    assert isinstance(zipped, bytes)
    stored = gzip.decompress(zipped)
    client = web.create_app({"REDIS_CLIENT": store}).test_client()
    response = client.get("/metrics", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in response.headers
    assert "Content-Length" not in response.headers
    assert response.data.startswith(b"# HELP mist_data_age_seconds ")
    assert response.data.split(b"\n", 3)[3] == stored  # all but the age lines


def test_inflated_reads_several_gzip_members_across_chunk_boundaries() -> None:
    from web.answers import Inflated

    parts = [bytes(range(256)) * 900, b"second member\n" * 5000, b"", b"last"]
    zipped = b"".join(gzip.compress(part, compresslevel=1) for part in parts)
    inflated = Inflated(b"head ", zipped, chunk=1000)  # members split across steps
    assert b"".join(inflated) == b"head " + b"".join(parts)


def test_worker_families_name_tokens_only_by_label() -> None:
    _, body, _ = scrape()
    tokens = [s for s in samples(body) if s.name.startswith("mist_api_")]
    assert {s.labels["token"] for s in tokens} == {"token 1"}
    assert b"sample-token" not in body
    names = {s.name for s in samples(body)}
    assert {"mist_worker_refresh_duration_seconds", "mist_worker_interval_seconds"} <= names


def test_no_data_yet_is_a_503() -> None:
    client = web.create_app({"REDIS_CLIENT": fakeredis.FakeRedis()}).test_client()
    response = client.get("/metrics")
    assert response.status_code == 503 and response.is_json


def test_bearer_token_guards_metrics_only() -> None:
    store = fakeredis.FakeRedis()
    publish_sample(store, 3)
    app = web.create_app({"REDIS_CLIENT": store, "METRICS_BEARER_TOKEN": "s3cret-token"})
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401 and response.is_json, headers
        assert response.json is not None and response.json["status"] == 401
        assert "METRICS_BEARER_TOKEN" in response.json["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    )
    assert client.get("/api/gateways").status_code == 200  # the rest is unchanged


@pytest.mark.parametrize(
    ("name", "value"),
    [("METRICS_PEER_PATHS", "some"), ("METRICS_BEARER_TOKEN", "has space")],
)
def test_a_bad_metrics_setting_is_named(name: str, value: str) -> None:
    env = {"MIST_API_TOKEN": "abc", name: value}
    with pytest.raises(settings.SettingError) as error:
        settings.load_worker_settings(env, None)
    assert error.value.setting == name


def test_metrics_settings_are_read() -> None:
    env = {"MIST_API_TOKEN": "abc", "METRICS_PEER_PATHS": "ALL", "METRICS_BEARER_TOKEN": "x.y"}
    assert settings.load_worker_settings(env, None).metrics_peer_paths == "all"
    token = settings.load_web_settings(env, None).metrics_bearer_token
    assert token is not None and token.reveal() == "x.y" and "x.y" not in repr(token)
    assert settings.load_worker_settings({"MIST_API_TOKEN": "a"}, None).metrics_peer_paths == (
        "summary"
    )


def test_promtool_checks_the_shipped_config_and_rules() -> None:
    config = promtool("check", "config", "--syntax-only", str(DEPLOY / "prometheus/prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    rules = promtool("check", "rules", str(DEPLOY / "prometheus/rules/mist.yml"))
    assert rules.returncode == 0 and b"SUCCESS: 8 rules found" in rules.stdout, rules.stdout
    tested = promtool("test", "rules", str(DEPLOY / "prometheus/tests/mist_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_rule_has_a_unit_test() -> None:
    import yaml

    rules = yaml.safe_load((DEPLOY / "prometheus/rules/mist.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((DEPLOY / "prometheus/tests/mist_test.yml").read_text())
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert alerts == tested
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired == alerts  # each is seen firing, and each is seen quiet before


def test_site_sles_are_one_family_with_mist_s_values_and_escaped_site_labels() -> None:
    store = fakeredis.FakeRedis()
    org = publish_sample(store, 12, edge_cases=True)
    client = web.create_app({"REDIS_CLIENT": store}).test_client()
    body = client.get("/metrics").data
    sles = {
        (s.labels["site_id"], s.labels["sle"]): s
        for s in samples(body)
        if s.name == "mist_site_sle_ratio"
    }
    served = {site["id"]: site for site in client.get("/api/sites").get_json()}
    expected = {
        (site_id, name): site["sle"][name]
        for site_id, site in served.items()
        if site["sle"]
        for name in ("gateway-health", "wan-link-health", "application-health")
        if site["sle"][name] is not None
    }
    assert expected and {key: s.value for key, s in sles.items()} == expected
    for (site_id, _name), sample in sles.items():
        assert sample.labels["site"] == (served[site_id]["name"] or "")
        assert sample.labels["org"] == org.answers.org["name"]
    assert b"# TYPE mist_site_sle_ratio gauge" in body
