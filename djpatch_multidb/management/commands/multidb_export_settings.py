"""manage.py multidb_export_settings [--router-module NAME]: the native
DATABASES and DATABASE_ROUTERS equivalent to the MULTIDB_* settings, and the
router module they name (needs nothing of djpatch_multidb).  Never prints a
password.
"""
from djpatch_multidb.management.base import MultiDBCommand


class Command(MultiDBCommand):
    help = ('Prints Django 1.2+ DATABASES and DATABASE_ROUTERS for the MULTIDB_* settings, '
            'then the router module they need.')
    OPTIONS = [
        ('--router-module', dict(dest='router_module', default='multidb_router',
                                 help='the module name DATABASE_ROUTERS gives the router '
                                      '(default multidb_router)')),
    ]

    def handle(self, *args, **options):
        import sys
        from djpatch_multidb.management import export
        module = options.get('router_module') or 'multidb_router'
        out = getattr(self, 'stdout', None) or sys.stdout
        out.write(export.settings_text(module=module))
        out.write('\n# ---- %s.py ----\n' % module)
        out.write(export.router_text())
