"""WAN SLEs per site (`/orgs/{org_id}/insights/sites-sle?sle=wan`), style D (page in body).

Each score is the share of the window the site met its goal, worked out from the same
closed-form model the stats come from, so a site whose gateway is offline, whose WAN links
are down or flapping, or whose peer paths lose packets scores lower, as on Mist:
- gateway-health: the share of the window each gateway was connected, averaged (a healthy
  gateway still loses a little to CPU and memory pressure now and then);
- wan-link-health: the share of sampled moments each WAN link was up and lost < 0.1 %
  (a half for < 1 %);
- application_health: the share of sampled moments each up peer path had a MOS ≥ 4.0
  (a half for ≥ 3.6).
Sites without gateways are not listed (Mist has no WAN SLE for them).
"""

from __future__ import annotations

from typing import Any

from mistsim import dynamics, timeparse
from mistsim.model import Gateway, Org, Site

SAMPLES = 6  # moments sampled per window
GOOD_MOS = 3.6


class BadSle(ValueError):
    """A request the endpoint answers with 400."""


def _moments(start: float, end: float) -> list[float]:
    step = (end - start) / SAMPLES
    return [start + step * (n + 0.5) for n in range(SAMPLES)]


def _connected_share(gateway: Gateway, start: float, end: float) -> float:
    if gateway.connected or gateway.disconnected_at >= end:
        return 1.0
    return max(0.0, gateway.disconnected_at - start) / (end - start)


def _site_scores(site: Site, start: float, end: float) -> dict[str, Any]:
    moments = _moments(start, end)
    gateways = site.gateways
    health = [
        _connected_share(g, start, end) * (1 - 0.02 * dynamics.noise(g.key + 7, int(end // 3600)))
        for g in gateways
    ]
    links = [0.0, 0.0]  # met the goal (a half for a near miss), all moments
    apps = [0.0, 0.0]
    for gateway in gateways:
        alive = [
            t for t in moments if t < dynamics.effective_time(gateway, end) or gateway.connected
        ]
        for port in gateway.wan_ports:
            for t in alive:
                if dynamics.link_up(port, t):
                    loss = dynamics.probe(port, t)[2]
                    links[0] += 1.0 if loss < 0.1 else 0.5 if loss < 1.0 else 0.0
                links[1] += 1
        for path in gateway.peer_paths:
            for t in alive:
                if dynamics.link_up(path.port, t):
                    score = dynamics.path_quality(path, t)[3]
                    apps[0] += 1.0 if score >= GOOD_MOS + 0.4 else 0.5 if score >= GOOD_MOS else 0.0
                    apps[1] += 1
    scores: dict[str, Any] = {
        "site_id": site.id,
        "gateway-health": round(sum(health) / len(health), 4) if health else 0,
    }
    if links[1]:
        scores["wan-link-health"] = links[0] / links[1]
    if apps[1]:
        scores["application_health"] = apps[0] / apps[1]
    return scores


def _page_args(args: dict[str, str]) -> tuple[int, int]:
    try:
        limit = int(args.get("limit") or 100)
        page = int(args.get("page") or 1)
    except ValueError:
        raise BadSle("limit and page must be integers") from None
    if limit < 1 or page < 1:
        raise BadSle("limit and page must be positive")
    return min(limit, 1000), page


def sites_sle(org: Org, args: dict[str, str], now: float, main_org: bool) -> dict[str, Any]:
    """The response body for one request (raises BadSle for a 400)."""
    if args.get("sle", "wan") != "wan":
        raise BadSle("only sle=wan is simulated")
    try:
        start, end = timeparse.window(args.get("start"), args.get("end"), args.get("duration"), now)
    except timeparse.BadTime as error:
        raise BadSle(str(error)) from None
    end = min(end, now)
    start = min(start, end - 60)
    limit, page = _page_args(args)
    sites = [site for site in org.sites if site.gateways] if main_org else []
    chunk = sites[(page - 1) * limit : page * limit]
    results = []
    for site in chunk:
        scores = _site_scores(site, start, end)
        scores["num_gateways"] = len(site.gateways)
        scores["num_clients"] = int(dynamics.noise(len(site.id) + site.gateways[0].key, 1) * 120)
        results.append(scores)
    return {
        "start": int(start),
        "end": int(end),
        "interval": 3600,
        "limit": limit,
        "page": page,
        "total": len(sites),
        "results": results,
    }
