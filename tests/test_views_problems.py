"""views/problems.py: severity, the problem in plain words, since when, the worst path."""

from __future__ import annotations

from typing import Any

from views.problems import duration, problem_text, severity, since, worst_of, worst_text

NOW = 1_000_000.0
LOSSY = {"peer": "dc1-hub", "peer_port": "ge-0/0/3", "metric": "loss", "score": 2.0,
         "latency": 44.6, "jitter": 2.1, "loss": 1.0, "mos": 4.1}  # fmt: skip
FINE = {**LOSSY, "metric": "latency", "score": 0.2, "loss": 0.0, "latency": 20.0}


def port(port_id: str, up: bool = True, **more: Any) -> dict[str, Any]:
    return {"port_id": port_id, "enabled": True, "up": up, **more}


def gateway(**more: Any) -> dict[str, Any]:
    base = {"status": "connected", "degraded": False, "peers_up": 2, "peers_total": 2,
            "last_seen": NOW - 60, "ports": [port("ge-0/0/0"), port("ge-0/0/1")]}  # fmt: skip
    return {**base, **more}


def test_severity_puts_offline_then_all_wan_down_then_any_down_then_degraded_by_how_bad():
    offline = gateway(status="disconnected")
    all_down = gateway(ports=[port("ge-0/0/0", False), port("ge-0/0/1", False)])
    one_down = gateway(ports=[port("ge-0/0/0", False), port("ge-0/0/1")])
    path_down = gateway(peers_up=1)
    very = gateway(degraded=True, ports=[port("ge-0/0/0", worst=LOSSY)])
    slightly = gateway(degraded=True, ports=[port("ge-0/0/0", worst={**LOSSY, "score": 1.1})])
    healthy = gateway(ports=[port("ge-0/0/0", worst=FINE)])
    ranks = [
        severity(g, worst_of(g)) for g in (offline, all_down, one_down, very, slightly, healthy)
    ]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)
    assert severity(path_down, None) == severity(one_down, None)
    disabled = gateway(ports=[port("ge-0/0/0", False, enabled=False), port("ge-0/0/1")])
    assert severity(disabled, None) == 0, "a disabled port is not down"


def test_the_problem_in_plain_words_and_since_when():
    offline = gateway(status="disconnected", last_seen=NOW - (2 * 86400 + 19 * 3600))
    assert problem_text(offline, None, NOW) == "offline 2 d 19 h"
    assert since(offline) == offline["last_seen"]
    down = gateway(ports=[port("ge-0/0/1", False, down_since=NOW - 8 * 3600), port("ge-0/0/2")])
    assert problem_text(down, None, NOW) == "ge-0/0/1 down 8 h"
    assert since(down) == NOW - 8 * 3600
    assert problem_text(down, None, None) == "ge-0/0/1 down", "no clock, no duration"
    many = gateway(ports=[port(f"ge-0/0/{n}", False) for n in range(3)])
    assert problem_text(many, None, NOW) == "3 WAN ports down"
    assert problem_text(gateway(peers_up=1), None, NOW) == "1 peer path down"
    degraded = gateway(degraded=True, ports=[port("ge-0/0/0", worst=LOSSY)])
    worst = worst_of(degraded)
    assert problem_text(degraded, worst, NOW) == "loss 1.00 % to dc1-hub"
    assert worst is not None and worst["port_id"] == "ge-0/0/0"
    assert problem_text(gateway(), worst_of(gateway()), NOW) == ""
    assert since(gateway()) is None
    assert worst_text({**FINE}) == "latency 20.0 ms to dc1-hub"
    assert worst_text(None) == ""


def test_durations_read_like_the_page():
    assert [duration(s) for s in (45, 300, 3600, 5 * 3600 + 12 * 60, 86400, 90000)] == [
        "45 s", "5 min", "1 h", "5 h 12 min", "1 d", "1 d 1 h",
    ]  # fmt: skip
    assert duration(None) == "" and duration(-1) == ""
