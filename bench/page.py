"""Page load in real Chromium, as an iPad-sized screen with a slow CPU would see it.

Time is measured inside the page (performance.now() from navigation start) at the first
animation frame where both the gateway table has rows and the summary shows, so the
polling of the test harness does not add to it. Bytes are what went over the wire
(CDP `encodedDataLength`), cold cache every run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Visible = laid out with a size. The table needs a data row; the summary any text.
_READY = """() => {
  const seen = (el) => !!el && el.getClientRects().length > 0 && el.offsetHeight > 0;
  const row = [...document.querySelectorAll('table tbody tr')].find(seen);
  const summary = document.querySelector(
    '#summary, [data-view="summary"], .summary, [aria-label="summary"], [aria-label="Summary"]');
  if (row && seen(summary) && summary.textContent.trim().length > 0) {
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


def measure_page(url: str, *, runs: int = 3, cpu_slowdown: float = 4.0) -> PageLoad:
    times: list[float] = []
    sizes: list[int] = []
    counts: list[int] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
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
                ready = page.wait_for_function(_READY, polling="raf", timeout=60_000)
                times.append(float(ready.json_value()))
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
