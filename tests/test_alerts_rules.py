"""alerts.yml (alerts/rules.py) and the ALERT_* settings: routing, quiet hours, and every
mistake stopping the worker with exit 2 naming the setting and the line."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.rules import Rules, RulesError, parse_rules
from model.events import make_event
from settings import load_or_exit, load_worker_settings

ROOT = Path(__file__).resolve().parents[1]
RULES = """\
# pager gets the critical, the team channel the ports of Denver
routes:
  - receivers: [1]
    severities: [critical]
  - receivers: [2]
    types: [port_down, port_up]
    sites: ["denver*"]
  - receivers: [3]
    names: ["*comcast*"]
quiet_hours:
  - receivers: [2]
    from: "22:00"
    to: "07:00"
    days: [fri]
    timezone: Europe/Paris
"""


def event(kind: str, **facts):
    base = {
        "org_id": "o",
        "site_id": "s1",
        "site_name": "Denver HQ",
        "gateway_id": "g1",
        "gateway_name": "gw-denver",
        "port_id": "ge-0/0/0",
    }
    base.update(facts)
    return make_event(kind, 1_700_000_000.0, **base)


def test_events_go_to_the_receivers_whose_routes_match():
    rules = parse_rules(RULES, receivers=3)
    assert rules.receivers_for(event("gateway_offline"), 3) == [1]  # critical
    assert rules.receivers_for(event("port_down"), 3) == [2]
    assert rules.receivers_for(event("port_down", site_name="Austin"), 3) == []
    assert rules.receivers_for(event("path_down", peer_name="hub-Comcast-1"), 3) == [3]
    # no routes: every event to every receiver
    assert Rules().receivers_for(event("port_up"), 2) == [1, 2]
    assert parse_rules("quiet_hours: []\n", 2).receivers_for(event("port_up"), 2) == [1, 2]


def paris(day: int, hour: int, minute: int = 0) -> float:
    """A time in Paris in the week of Monday 2026-03-02 (`day` 0 = Monday)."""
    zone = datetime.timezone(datetime.timedelta(hours=1))  # CET, no DST in early March
    return datetime.datetime(2026, 3, 2 + day, hour, minute, tzinfo=zone).timestamp()


def test_quiet_hours_mute_their_severities_in_their_window_only():
    rules = parse_rules(RULES, receivers=3)
    friday, saturday = 4, 5
    assert rules.muted(2, "warning", paris(friday, 23))
    assert rules.muted(2, "info", paris(saturday, 6, 59))  # the window Friday night opened
    assert not rules.muted(2, "warning", paris(saturday, 7, 0))
    assert not rules.muted(2, "warning", paris(saturday, 23))  # only Friday's night
    assert not rules.muted(2, "critical", paris(friday, 23))  # critical is never muted here
    assert not rules.muted(1, "warning", paris(friday, 23))  # another receiver
    day = parse_rules('quiet_hours:\n  - {from: "09:00", to: "17:00"}\n', 1)
    noon_utc = datetime.datetime(2026, 3, 3, 12, tzinfo=datetime.UTC).timestamp()
    assert day.muted(1, "info", noon_utc) and not day.muted(1, "info", noon_utc + 6 * 3600)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("routes:\n  - receivers: [1]\n    colour: red\n", 3, "unknown key 'colour'"),
        ("routes:\n  - receivers: [4]\n", 2, "receiver '4' is not a number from 1 to 3"),
        ("routes:\n  - types: [port_down]\n", 2, "a route needs receivers"),
        ("routes:\n  - receivers: [1]\n    types: [port_dwn]\n", 3, "'port_dwn' is not one"),
        ("routes:\n  - receivers: [1]\n    severities: [urgent]\n", 3, "'urgent'"),
        ("quiet_hours:\n  - from: '22:00'\n    to: '25:00'\n", 3, "to must be a time"),
        ("quiet_hours:\n  - from: '22:00'\n", 2, "need to"),
        ("quiet_hours:\n  - {from: '1:00', to: '2:00', timezone: Mars/Base}\n", 2, "time zone"),
        ("quiet_hours:\n  - {from: '1:00', to: '2:00', days: [fri, funday]}\n", 2, "funday"),
        ("routes:\n  receivers: [1]\n", 2, "routes must be a list"),
        ("routes: [\n  - a\n", 2, "not YAML"),
        ("\n\nrouting: []\n", 3, "unknown key 'routing'"),
    ],
)
def test_a_bad_rules_file_names_its_line(text, line, words):
    with pytest.raises(RulesError) as raised:
        parse_rules(text, receivers=3)
    assert raised.value.line == line, str(raised.value)
    assert words in str(raised.value)


URL = "https://a.example/x"


def settings_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"MIST_API_TOKEN": "tok", **extra}


def test_the_worker_exits_2_naming_the_rules_file_and_line(tmp_path):
    """The real process: a typo in alerts.yml stops `worker.py` before it reads Mist."""
    rules = tmp_path / "alerts.yml"
    rules.write_text("routes:\n  - receivers: [1]\n    sites: [x]\n    gatways: [y]\n")
    hook = "https://hooks.slack.com/services/T/B/hooksecret"
    env = {
        "PATH": "/usr/bin:/bin",
        "MIST_API_TOKEN": "tok",
        "REDIS_URL": "redis://127.0.0.1:1",
        "ALERT_WEBHOOK_URLS": hook,
        "ALERT_RULES_FILE": str(rules),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--once"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "setting ALERT_RULES_FILE" in done.stderr and "line 4" in done.stderr
    assert "gatways" in done.stderr and "hooksecret" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"ALERT_WEBHOOK_URLS": "hooks.slack.com/services/secret"}, "ALERT_WEBHOOK_URLS"),
        ({"ALERT_WEBHOOK_URLS": URL, "ALERT_WEBHOOK_FORMATS": "email"}, "ALERT_WEBHOOK_FORMATS"),
        ({"ALERT_WEBHOOK_URLS": URL, "ALERT_WEBHOOK_FORMATS": "a,b"}, "ALERT_WEBHOOK_FORMATS"),
        ({"ALERT_HOLD_DOWN": "0"}, "ALERT_HOLD_DOWN"),
        ({"ALERT_STORM_LIMIT": "lots"}, "ALERT_STORM_LIMIT"),
        ({"ALERT_RULES_FILE": "/no/such/alerts.yml"}, "ALERT_RULES_FILE"),
    ],
)  # fmt: skip
def test_a_bad_alert_setting_exits_2_naming_it_and_never_the_url(tmp_path, capsys, env, setting):
    with pytest.raises(SystemExit) as stopped:
        load_or_exit(lambda: load_worker_settings(settings_env(tmp_path, **env), env_file=None))
    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert f"setting {setting}:" in message
    assert "secret" not in message and "a.example" not in message


def test_formats_are_detected_from_the_host_unless_given():
    urls = ",".join(
        [
            "https://hooks.slack.com/services/T0/B0/abc",
            "https://contoso.webhook.office.com/webhookb2/x",
            "https://prod-01.westus.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=y",
            "https://default123.environment.api.powerplatform.com/powerautomate/automations/x",
            "https://alerts.example.net/mist",
        ]
    )
    settings = load_worker_settings({"MIST_API_TOKEN": "t", "ALERT_WEBHOOK_URLS": urls}, None)
    assert settings.alerts.formats == ("slack", "teams", "teams", "teams", "generic")
    assert settings.alerts.hold_down == 2 and settings.alerts.storm_limit == 20
    forced = load_worker_settings(
        {
            "MIST_API_TOKEN": "t",
            "ALERT_WEBHOOK_URLS": urls,
            "ALERT_WEBHOOK_FORMATS": "generic,,auto",
        },
        None,
    )
    assert forced.alerts.formats == ("generic", "teams", "teams", "teams", "generic")
    assert "abc" not in repr(forced) and "example.net" not in repr(forced)
    assert load_worker_settings({"MIST_API_TOKEN": "t"}, None).alerts.urls == ()
