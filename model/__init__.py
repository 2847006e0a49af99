"""The model: Mist's answers turned into gateways, WAN ports (circuits) and peer paths.

Pure and stdlib-only, so a whole org builds without I/O and the tests need no server.
"""
