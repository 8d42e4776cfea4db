"""manage.py load_sample_data [--users N]: users, profiles, comments and blog entries."""
import datetime
import random
import sys
from optparse import make_option

from django.conf import settings
from django.core.management.base import BaseCommand

from djpatch_multidb import atomic

from accounts.models import Comment, Member, Profile, Signup
from blog.models import Entry

CITIES = ('Helsinki', 'Lyon', 'Austin', 'Osaka', 'Leeds', 'Porto', 'Tartu', 'Boise')
SYLLABLES = ('ka', 'lo', 'mi', 'ra', 'ten', 'su', 'vo', 'el', 'an', 'po', 'ri', 'do')
SHARDS = settings.MULTIDB_SHARDS['users']['SHARDS']


class Command(BaseCommand):
    help = 'Loads sample users onto their shards, and blog entries onto blogdb.'
    if not hasattr(BaseCommand, 'add_arguments'):     # Django 1.0 to 1.7: optparse
        option_list = BaseCommand.option_list + (
            make_option('--users', type='int', default=2000, help='how many users (2000)'),
            make_option('--seed', type='int', default=2009, help='random seed'),
        )

    def add_arguments(self, parser):                   # Django 1.8 and later: argparse
        parser.add_argument('--users', type=int, default=2000, help='how many users (2000)')
        parser.add_argument('--seed', type=int, default=2009, help='random seed')

    def handle(self, *args, **options):
        rng = random.Random(options['seed'])
        load(options['users'], rng, datetime.datetime(2009, 1, 1))
        sys.stdout.write('loaded %d users\n' % options['users'])


@atomic(using=['default', 'blogdb'] + SHARDS)
def load(count, rng, start):
    for n in range(count):
        name = ''.join([rng.choice(SYLLABLES) for i in range(3)]) + str(n)
        joined = start + datetime.timedelta(minutes=n * 37)
        member = Member.objects.create(username=name, joined=joined,
                                       email='%s@example.com' % name)
        Profile.objects.create(member=member, city=rng.choice(CITIES))
        for c in range(rng.randint(0, 3)):
            Comment.objects.create(member=member, text='comment %d by %s' % (c, name),
                                   created=joined + datetime.timedelta(hours=c))
        Signup.objects.create(member_id=member.id, username=name, created=joined)
        if n % 10 == 0:
            Entry.objects.create(title='Post %d by %s' % (n, name), body='...',
                                 author=member, published=joined)
