#!/usr/bin/env python
"""manage.py of the entry-point site, as Django's project template writes it."""
import os
import sys

if __name__ == '__main__':
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'entrypoint_site.settings')
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
