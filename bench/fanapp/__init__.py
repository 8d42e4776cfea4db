"""Models for the all_shards() fan-out benchmark (Django 1.1.4 + djpatch_multidb only)."""
