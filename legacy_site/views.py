"""The pages of legacy_site: function views, as a 2009 site wrote them."""
import datetime

from django import forms
from django.conf import settings
from django.http import Http404, HttpResponseRedirect

from djpatch_multidb import atomic, shard_for

from accounts.models import Comment, Member, Profile, Signup
from blog.models import Entry
from compat import render

SHARDS = settings.MULTIDB_SHARDS['users']['SHARDS']


def shard_alias(user_id):
    return shard_for(int(user_id), 'users')


def dashboard(request):
    aliases = []
    for alias in sorted(settings.DATABASES):
        counts = []
        for model, place in ((Signup, ['default']), (Entry, ['blogdb']), (Member, SHARDS),
                             (Profile, SHARDS), (Comment, SHARDS)):
            if alias in place:
                counts.append({'model': model._meta.object_name,
                               'rows': model.objects.using(alias).count()})
        if alias == 'default_replica':
            counts.append({'model': 'Signup (read through the replica)',
                           'rows': Signup.objects.readonly().count()})
        aliases.append({'alias': alias, 'engine': settings.DATABASES[alias]['ENGINE'],
                        'counts': counts})
    newest = [{'member': member, 'alias': shard_alias(member.id)}
              for member in Member.objects.all_shards().order_by('-joined', '-id')[:10]]
    signups = Signup.objects.readonly()[:5]
    return render(request, 'dashboard.html', {'aliases': aliases, 'newest': newest,
                                              'signups': signups})


def user_page(request, user_id):
    try:
        member = Member.objects.shard_for(int(user_id)).readonly().get(pk=int(user_id))
    except Member.DoesNotExist:
        raise Http404('No user %s on %s' % (user_id, shard_alias(user_id)))
    profile = list(member.profile_set.all()[:1])
    comments = member.comment_set.all()[:20]
    entries = member.entry_set.all()[:5]        # on blogdb: a relation across databases
    return render(request, 'user.html', {
        'member': member, 'alias': shard_alias(member.id), 'profile': profile and profile[0],
        'comments': comments, 'entries': entries})


class UserForm(forms.Form):
    username = forms.CharField(max_length=30)
    email = forms.EmailField()
    city = forms.CharField(max_length=50)
    comment = forms.CharField(max_length=200)


def create_user(request):
    if request.method == 'POST':
        form = UserForm(request.POST)
        if form.is_valid():
            member = create_member(**form.cleaned_data)
            return HttpResponseRedirect('/users/%d/' % member.id)
    else:
        form = UserForm()
    return render(request, 'create.html', {'form': form})


@atomic(using=['default'] + SHARDS)
def create_member(username, email, city, comment, now=None):
    """A new user: the id from the ticket table picks the shard; the profile
    and the comment follow their member (shard_key = 'member_id').  One
    transaction on each database it may write to: its shard and 'default'
    commit at the end, or roll back together if anything raises before that."""
    now = now or datetime.datetime.now()
    member = Member.objects.create(username=username, email=email, joined=now)
    Profile.objects.create(member=member, city=city)
    Comment.objects.create(member=member, text=comment, created=now)
    Signup.objects.create(member_id=member.id, username=username, created=now)
    return member


def search(request):
    query = request.GET.get('q', '').strip()
    results, total = [], 0
    if query:
        found = Member.objects.all_shards().filter(username__startswith=query)
        total = found.count()
        results = [{'member': m, 'alias': shard_alias(m.id)}
                   for m in found.order_by('username', 'id')[:20]]
    return render(request, 'search.html', {'query': query, 'results': results, 'total': total})
