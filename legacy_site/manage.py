#!/usr/bin/env python
# The usual manage.py (Django 1.4's, which works from 1.0 on), plus the
# checkout's root on sys.path so that djpatch_multidb is importable without
# installing it.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
