"""The pages of legacy_site: function views, as a 2009 site wrote them."""
import datetime

from django import forms
from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render_to_response
from django.template import RequestContext

from djpatch_multidb import connections, using_shard

from accounts.models import Comment, Member, Profile, UserTicket
from accounts.sharding import shard_for
from blog.models import Entry

SHARDS = settings.MULTIDB_SHARDS['users']


def queries_per_alias(request):
    """Context processor: the queries each alias served for this request."""
    served = []
    for alias, wrapper in connections.opened():
        if wrapper.queries:
            served.append({'alias': alias, 'count': len(wrapper.queries)})
    return {'queries_per_alias': served}


def render(request, template, context):
    return render_to_response(template, context, context_instance=RequestContext(request))


def dashboard(request):
    aliases = []
    for alias in sorted(settings.DATABASES):
        counts = []
        for model, place in ((UserTicket, 'default'), (Entry, 'blogdb'), (Member, SHARDS),
                             (Profile, SHARDS), (Comment, SHARDS)):
            if alias == place or alias in place:
                counts.append({'model': model._meta.object_name,
                               'rows': model.objects.using(alias).count()})
            elif alias == 'default_replica' and model is UserTicket:
                counts.append({'model': 'UserTicket (replica)',
                               'rows': model.objects.readonly().count()})
        aliases.append({'alias': alias, 'engine': settings.DATABASES[alias]['ENGINE'],
                        'counts': counts})
    newest = []
    for ticket in UserTicket.objects.readonly().order_by('-id')[:10]:
        shard = shard_for(ticket.id)
        try:
            member = Member.objects.shard(shard).get(pk=ticket.id)
        except Member.DoesNotExist:
            continue
        newest.append({'member': member, 'alias': SHARDS[shard]})
    return render(request, 'dashboard.html', {'aliases': aliases, 'newest': newest})


def user_page(request, user_id):
    shard = shard_for(user_id)
    try:
        member = Member.objects.shard(shard).readonly().get(pk=int(user_id))
    except Member.DoesNotExist:
        raise Http404('No user %s on %s' % (user_id, SHARDS[shard]))
    profile = Profile.objects.shard(shard).readonly().filter(member=member)
    comments = Comment.objects.shard(shard).readonly().filter(member=member)[:20]
    entries = Entry.objects.filter(author_id=member.id)[:5]
    return render(request, 'user.html', {
        'member': member, 'alias': SHARDS[shard], 'profile': profile and profile[0] or None,
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


@transaction.commit_on_success
def create_member(username, email, city, comment, now=None):
    """A new user: an id from the ticket table, then rows on the user's shard."""
    now = now or datetime.datetime.now()
    user_id = UserTicket.objects.create().id
    with using_shard(shard_for(user_id)):
        member = Member.objects.create(id=user_id, username=username, email=email, joined=now)
        Profile.objects.create(member=member, city=city)
        Comment.objects.create(member=member, text=comment, created=now)
    return member


def search(request):
    query = request.GET.get('q', '').strip()
    results, total = [], 0
    if query:
        per_shard = []
        for number, alias in enumerate(SHARDS):
            found = Member.objects.shard(number).filter(username__startswith=query)
            total += found.count()
            per_shard.extend([(m.username, m.id, alias, m) for m in found.order_by('username')[:20]])
        per_shard.sort()
        results = [{'member': m, 'alias': alias} for name, id, alias, m in per_shard[:20]]
    return render(request, 'search.html', {'query': query, 'results': results, 'total': total})
