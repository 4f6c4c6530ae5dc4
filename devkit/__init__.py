"""The dev kit: what tests, the demo and the bench need and the product never ships.

Local servers that follow the providers' contracts (`devkit.fakes`) and throwaway PostgreSQL and Redis servers
(`devkit.embedded`). Not part of the wheel or the image; no product package imports it (tests/unit/test_layers.py).
"""
