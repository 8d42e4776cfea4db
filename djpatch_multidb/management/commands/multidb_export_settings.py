"""manage.py multidb_export_settings [--router-module NAME]: the native
DATABASES and DATABASE_ROUTERS equivalent to the MULTIDB_* settings, and the
router module they name (needs nothing of djpatch_multidb).  Never prints a
password.
"""
from django.core.management.base import BaseCommand

from djpatch_multidb.compat import command_options

OPTIONS = [
    ('--router-module', dict(dest='router_module', default='multidb_router',
                             help='the module name DATABASE_ROUTERS gives the router '
                                  '(default multidb_router)')),
]


class Command(BaseCommand):
    help = ('Prints Django 1.2+ DATABASES and DATABASE_ROUTERS for the MULTIDB_* settings, '
            'then the router module they need.')
    args = ''
    option_list = command_options(BaseCommand, OPTIONS)
    if option_list is None:
        del option_list
    # Django up to 1.6 reads the first, 1.7 and later the second (1.7 to 1.8
    # refuse to see both).
    if hasattr(BaseCommand, 'requires_system_checks'):
        requires_system_checks = []
    else:
        requires_model_validation = False

    def add_arguments(self, parser):
        for flag, kwargs in OPTIONS:
            parser.add_argument(flag, **kwargs)

    def handle(self, *args, **options):
        import sys
        from djpatch_multidb import export
        module = options.get('router_module') or 'multidb_router'
        out = getattr(self, 'stdout', None) or sys.stdout
        out.write(export.settings_text(module=module))
        out.write('\n# ---- %s.py ----\n' % module)
        out.write(export.router_text())
