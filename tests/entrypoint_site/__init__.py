"""A small site that runs the way production runs a Django project: its own
process, started by a WSGI server, by a script that calls django.setup()
first, or by manage.py.  tests/test_entrypoints.py starts each one and reads
the databases directly afterwards.  settings.py calls install() at its top,
before DATABASES is defined, as README.txt allows."""
