"""Which shard a user lives on: the user id modulo the number of shards."""
from django.conf import settings


def shard_for(user_id):
    return int(user_id) % len(settings.MULTIDB_SHARDS['users'])
