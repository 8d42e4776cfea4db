"""manage.py multidb_status [--no-counts] [--max-lag N] [-v 2]: what needs
attention first, then where everything lives and whether it answers.

Exits non-zero when it finds a problem (an alias that does not answer, a
replica that lags or does not replicate, a missing table, a model with a shard
key on no shard group), so it can serve as a health check.  -v 2 also lists
the patches in place.
"""
import django
from django.core.management.base import CommandError

from djpatch_multidb.management.base import MultiDBCommand
from djpatch_multidb.management.status import MAX_LAG


class Command(MultiDBCommand):
    help = ('Lists the problems first (aliases that do not answer, lagging replicas, missing '
            'tables, models with a shard key on no shard group), then the Django and driver '
            'versions, the router, every alias (never a password), replica lag, shard groups '
            'and rows per sharded model per shard; -v 2 also lists the patches.')
    OPTIONS = [
        ('--no-counts', dict(action='store_false', dest='counts', default=True,
                             help='skip counting rows per sharded model per shard')),
        ('--max-lag', dict(action='store', dest='max_lag', type=int, default=MAX_LAG,
                           help='seconds a replica may lag before it is a problem (%d)'
                                % MAX_LAG)),
    ]
    if django.VERSION < (1, 1):     # 1.1 and later give every command -v/--verbosity
        OPTIONS = OPTIONS + [
            ('-v', dict(action='store', dest='verbosity', default='1',
                        help='1: problems and overview; 2: also the patches in place')),
            ('--verbosity', dict(action='store', dest='verbosity', default='1',
                                 help='the same as -v')),
        ]

    def handle(self, *args, **options):
        from djpatch_multidb.management import status
        max_lag = options.get('max_lag')
        problems = status.report(counts=options.get('counts', True),
                                 verbosity=int(options.get('verbosity') or 1),
                                 max_lag=max_lag is None and MAX_LAG or int(max_lag))
        if problems:
            raise CommandError('%d problem(s): %s' % (len(problems), '; '.join(problems)))
