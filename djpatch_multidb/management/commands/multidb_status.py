"""manage.py multidb_status [--no-counts]: where everything lives, and whether it answers.

Exits non-zero when an alias does not answer, so it can serve as a health check.
"""
from django.core.management.base import CommandError

from djpatch_multidb.management.base import MultiDBCommand


class Command(MultiDBCommand):
    help = ('Shows the Django and driver versions, the patches or the router, every alias '
            '(never a password), replica lag, shard groups and rows per sharded model per shard.')
    OPTIONS = [
        ('--no-counts', dict(action='store_false', dest='counts', default=True,
                             help='skip counting rows per sharded model per shard')),
    ]

    def handle(self, *args, **options):
        from djpatch_multidb import status
        down = status.report(counts=options.get('counts', True))
        if down:
            raise CommandError('%d alias(es) do not answer: %s' % (len(down), ', '.join(down)))
