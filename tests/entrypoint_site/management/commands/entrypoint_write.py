from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = 'Writes on shard 2 and on blogdb (see entrypoint_site.writes).'
    args = 'LABEL'

    def add_arguments(self, parser):      # Django 1.8 and later
        parser.add_argument('label')

    def handle(self, *args, **options):
        from entrypoint_site.writes import write_everywhere
        label = options.get('label') or args[0]
        self.stdout.write(write_everywhere(label) + '\n')
