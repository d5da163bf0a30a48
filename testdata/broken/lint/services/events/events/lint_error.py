"""Broken on purpose (testdata/broken/lint): flake8 reports F401, nothing else fails."""
import os
