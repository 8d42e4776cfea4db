"""Models of tests/test_replicas.py only (not in INSTALLED_APPS, so that the
tables-per-database tests of the other modules never see them)."""
from __future__ import absolute_import
