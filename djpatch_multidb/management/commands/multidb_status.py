"""manage.py multidb_status [--no-counts]: where everything lives, and whether it answers.

Exits non-zero when an alias does not answer, so it can serve as a health check.
"""
from django.core.management.base import BaseCommand, CommandError

from djpatch_multidb.compat import command_options

OPTIONS = [
    ('--no-counts', dict(action='store_false', dest='counts', default=True,
                         help='skip counting rows per sharded model per shard')),
]


class Command(BaseCommand):
    help = ('Shows the Django and driver versions, the patches or the router, every alias '
            '(never a password), replica lag, shard groups and rows per sharded model per shard.')
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
        from djpatch_multidb import status
        down = status.report(counts=options.get('counts', True))
        if down:
            raise CommandError('%d alias(es) do not answer: %s' % (len(down), ', '.join(down)))
