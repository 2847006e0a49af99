"""Hostile and unusual names for `--edge-cases`: the product must render them as text."""

from __future__ import annotations

SITE_NAMES: list[str] = [
    "<img src=x onerror=alert(1)>",
    "<script>window.__pwned=1</script>",
    "東京本社 データセンター",
    "Café 🚀 Branch 🛰️",
    "فرع الرياض",
    "סניף תל אביב",
    "L" + "o" * 198 + "!",  # 200 characters
    '"quoted" & <b>bold</b> \' single',
]

GATEWAY_NAMES: list[str] = [
    "<img src=x onerror=alert(1)>",
    "<script>window.__pwned=1</script>",
    "ゲートウェイ-東京-01",
    "gw-🔥-emoji-🙂",
    "بوابة-الرياض",
    "G" * 200,
]

WAN_DESCRIPTIONS: list[str] = [
    "<script>window.__pwned=1</script> circuit",
    "回線 NTT フレッツ 光",
    "خط الإنترنت الرئيسي",
    "🚀 Starlink backup",
    "D" * 200,
]

ISP_NAMES: list[str] = [
    "<img src=x onerror=alert(1)> Telecom",
    "株式会社ネットワーク",
    "شركة الاتصالات",
]
