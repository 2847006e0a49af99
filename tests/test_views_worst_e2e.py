"""The worst circuits' availability and flaps end to end: the worker's refreshes (real SDK,
mistsim, redis-server) count a WAN port's flap, and /api/worst ranks it with the very
figures /api/availability shows."""

from __future__ import annotations

from tests.test_refresh_availability import flap_a_quiet_port, web_client


def test_a_port_that_flapped_is_ranked_with_the_availability_documents_figures(
    mistsim, redis_server
):
    _, record, first = flap_a_quiet_port(mistsim, redis_server)
    web = web_client(redis_server)
    worst = web.get("/api/worst").get_json()
    assert worst["measures"][-2:] == ["availability", "flaps"]
    columns = worst["columns"]
    g, p, a = columns.index("gateway_id"), columns.index("port"), columns.index("availability")
    rows = {(row[g], row[p]): (row[a], row[a + 1]) for row in worst["rows"]}
    flapped = [(worst["rows"][i][g], worst["rows"][i][p]) for i in worst["rankings"]["flaps"]]
    assert (record["id"], first) in flapped
    counted = {
        (part["gateway_id"], port["port_id"]): (port["availability"][0], port["flaps"][0])
        for part in web.get("/api/availability").get_json()["gateways"]
        for port in part["ports"]
    }
    assert rows[(record["id"], first)][1] >= 1
    assert all(counted[key] == figures for key, figures in rows.items()), rows
    by_flaps = [rows[key][1] for key in flapped]
    assert by_flaps == sorted(by_flaps, reverse=True) and all(n > 0 for n in by_flaps)
