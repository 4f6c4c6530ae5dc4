"""The dev kit: what tests, the demo and the bench need and the product never ships.

Local servers that follow the providers' contracts (`devkit.fakes`), throwaway PostgreSQL and Redis servers
(`devkit.embedded`) and a fresh migrated database of one's own on a server (`devkit.databases`). Not part of the
wheel or the image; no product package imports it (tests/unit/test_layers.py).
"""
