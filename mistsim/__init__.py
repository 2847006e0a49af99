"""mistsim: a stand-in for the Juniper Mist cloud, for tests, benchmarks and the demo.

It serves a deterministic synthetic org over HTTPS with Mist's pagination, rate limits and
failure modes. Product code never imports it; it imports nothing from the product.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
