"""Page load in real Chromium, as an iPad-sized screen with a slow CPU would see it.

One discarded warm-up load first. Time is measured inside the page (performance.now()
from navigation start) at the first animation frame where both the gateway table has
rows and the summary shows, so the polling of the harness does not add to it. Bytes are
what went over the wire (CDP `encodedDataLength`), cold cache every counted run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS  # the same browser the tests drive

# Visible = laid out with a size. The table needs a data row; the summary any text.
_READY = """() => {
  const seen = (el) => !!el && el.getClientRects().length > 0 && el.offsetHeight > 0;
  const rows = document.querySelectorAll('#gateway-rows tr').length
    ? document.querySelectorAll('#gateway-rows tr') : document.querySelectorAll('table tbody tr');
  const row = [...rows].find((tr) => seen(tr) && !/loading/i.test(tr.textContent));
  const summary = document.querySelector(
    '#summary, [data-view="summary"], .summary, [aria-label="summary"], [aria-label="Summary"]');
  if (row && seen(summary) && summary.textContent.trim().length > 0) {
    return performance.now();
  }
  return false;
}"""

# The MSP overview (several orgs): an org row and the totals line visible.
OVERVIEW_READY = """() => {
  const seen = (el) => !!el && el.getClientRects().length > 0 && el.offsetHeight > 0;
  const row = [...document.querySelectorAll('#org-rows tr')].find(seen);
  const totals = document.getElementById('overview-totals');
  if (row && seen(totals) && totals.textContent.trim().length > 0) {
    return performance.now();
  }
  return false;
}"""


@dataclass
class PageLoad:
    """Median over runs: ms until table+summary visible, bytes transferred, requests."""

    ms: float
    bytes: int
    requests: int
    runs: list[float]


def measure_page(
    url: str,
    *,
    runs: int = 3,
    cpu_slowdown: float = 4.0,
    screenshot: Path | None = None,
    ready: str = _READY,
) -> PageLoad:
    """Median page load over `runs` cold loads; `screenshot` saves what the last one showed."""
    times: list[float] = []
    sizes: list[int] = []
    counts: list[int] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            # One discarded load first: browser processes and the server's per-refresh views
            # warm, as for a NOC screen that is already open. Every counted load is cache-cold.
            warm = browser.new_context(viewport={"width": 1180, "height": 820})
            warm.new_page().goto(url, wait_until="load", timeout=60_000)
            warm.close()
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1180, "height": 820})
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu_slowdown})
                transferred: dict[str, int] = {}

                def finished(event: dict[str, object], store: dict[str, int] = transferred) -> None:
                    store[str(event["requestId"])] = int(event.get("encodedDataLength") or 0)  # type: ignore[call-overload]

                cdp.on("Network.loadingFinished", finished)
                page.goto(url, wait_until="commit", timeout=60_000)
                shown = page.wait_for_function(ready, polling="raf", timeout=60_000)
                times.append(float(shown.json_value()))
                if screenshot is not None:
                    page.screenshot(path=str(screenshot))
                page.wait_for_timeout(300)  # let in-flight responses report their size
                sizes.append(sum(transferred.values()))
                counts.append(len(transferred))
                context.close()
        finally:
            browser.close()
    return PageLoad(
        ms=statistics.median(times),
        bytes=int(statistics.median(sizes)),
        requests=int(statistics.median(counts)),
        runs=times,
    )
