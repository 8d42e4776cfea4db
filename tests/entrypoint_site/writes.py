"""What every entry point runs: a plain save of a sharded model inside
using_shard(2), raw SQL there through django.db.connection, and a
plain-manager create of a model placed on 'blogdb'."""
import json

from django.db import connection, transaction


def write_everywhere(label):
    """Writes a Profile and two Notes on shard 2 and a Tag on 'blogdb'; returns
    a line of JSON with DATABASE_ROUTERS as the process sees it afterwards and
    the library's records still waiting for their module."""
    from django.conf import settings
    from djpatch_multidb import installation, using_shard
    from testapp.models import Note, Profile, Tag
    with using_shard(2):
        profile = Profile(user_id=6, nick=label)
        profile.save()
        Note(profile=profile, text=label).save()
        connection.cursor().execute('INSERT INTO testapp_note (profile_id, text) VALUES (%s, %s)',
                                    [profile.pk, label + ' raw'])
        if hasattr(transaction, 'commit_unless_managed'):    # up to Django 1.5
            transaction.commit_unless_managed()
    Tag.objects.create(label=label)
    return json.dumps({'routers': list(settings.DATABASE_ROUTERS),
                       'waiting': [r.name for r in installation.pending_patches()]})


def write_view(request, label):
    from django.http import HttpResponse
    return HttpResponse(write_everywhere(label), content_type='application/json')
