"""Connections: one DatabaseWrapper per alias (connections), the work a
commit must reach, two-phase commit across MySQL aliases (xa), and the view
of Django's own connections on Django 1.2 and later (nativeconnections).
"""
