"""manage.py multidb_status [--no-counts]: where everything lives, and whether it answers.

Exits non-zero when an alias does not answer, so it can serve as a health check.
"""
from optparse import make_option

from django.core.management.base import CommandError, NoArgsCommand


class Command(NoArgsCommand):
    help = ('Shows the Django and driver versions, the patches, every alias (never a '
            'password), replica lag, shard groups and rows per sharded model per shard.')
    option_list = NoArgsCommand.option_list + (
        make_option('--no-counts', action='store_false', dest='counts', default=True,
                    help='skip counting rows per sharded model per shard'),
    )
    requires_model_validation = False

    def handle_noargs(self, **options):
        from djpatch_multidb import status
        down = status.report(counts=options.get('counts', True))
        if down:
            raise CommandError('%d alias(es) do not answer: %s' % (len(down), ', '.join(down)))
