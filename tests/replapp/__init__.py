"""Models of tests/test_replicas.py only (not in INSTALLED_APPS, so that the
tables-per-database tests of the other modules never see them)."""
