"""Django 1.0 and 1.1: the patches and their registry (registry), the ORM's
replacements (orm, relations), connection-level replacements (backend),
management commands and test databases (commands, testdb).

Never imports djpatch_multidb.native.
"""
