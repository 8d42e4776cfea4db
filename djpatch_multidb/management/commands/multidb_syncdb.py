"""manage.py multidb_syncdb [--database=alias]: each alias gets the tables of its models."""
import sys
from optparse import make_option

from django.core.management.base import CommandError, NoArgsCommand


class Command(NoArgsCommand):
    help = ('Creates, on every alias (or on --database), the tables of the models that '
            'live there: MULTIDB_MODELS, every shard of a group, or default. Replicas are skipped.')
    option_list = NoArgsCommand.option_list + (
        make_option('--database', dest='database', default=None,
                    help='only this alias'),
    )

    def handle_noargs(self, **options):
        from djpatch_multidb import config, syncdb
        from djpatch_multidb.errors import ConnectionDoesNotExist
        cfg = config.current()
        verbosity = int(options.get('verbosity', 1))
        if options.get('database'):
            try:
                aliases = [cfg.check_alias(options['database'])]
            except ConnectionDoesNotExist, error:
                raise CommandError(str(error))
        else:
            aliases = [a for a in cfg.aliases if not syncdb.is_replica(a)]
        for alias in aliases:
            syncdb.create_tables(alias, verbosity, sys.stdout)
