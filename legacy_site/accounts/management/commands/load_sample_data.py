"""manage.py load_sample_data [--users N]: users, profiles, comments and blog entries."""
import datetime
import random
from optparse import make_option

from django.core.management.base import NoArgsCommand
from django.db import transaction

from accounts.models import Comment, Member, Profile, Signup
from blog.models import Entry

CITIES = ('Helsinki', 'Lyon', 'Austin', 'Osaka', 'Leeds', 'Porto', 'Tartu', 'Boise')
SYLLABLES = ('ka', 'lo', 'mi', 'ra', 'ten', 'su', 'vo', 'el', 'an', 'po', 'ri', 'do')


class Command(NoArgsCommand):
    help = 'Loads sample users onto their shards, and blog entries onto blogdb.'
    option_list = NoArgsCommand.option_list + (
        make_option('--users', type='int', default=2000, help='how many users (2000)'),
        make_option('--seed', type='int', default=2009, help='random seed'),
    )

    def handle_noargs(self, **options):
        rng = random.Random(options['seed'])
        load(options['users'], rng, datetime.datetime(2009, 1, 1))
        print 'loaded %d users' % options['users']


@transaction.commit_on_success
def load(count, rng, start):
    for n in xrange(count):
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
