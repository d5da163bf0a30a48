"""Collect these fixture suites only when convoy's Go tests run them (they need the fixture services,
and test_block.py never ends by itself): a pytest run over the whole repository skips them."""
import os

if not os.environ.get("CONVOY_FIXTURE_SUITE"):
    collect_ignore_glob = ["test_*.py"]
