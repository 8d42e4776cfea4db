"""An application process for test_twophase: it writes on shard0 and shard1 in
one two-phase transaction and stops at the moment its first argument names
(an xa hook: between_prepare_and_decision or between_prepare_and_commit),
saying so on stdout, so that the test can kill it there.

The databases come as JSON in the environment (DJPATCH_TWOPHASE_DATABASES).
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (HERE, os.path.join(os.path.dirname(HERE), 'tools'), os.path.dirname(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)


def main(stop_at):
    import harness
    import djpatch_multidb
    djpatch_multidb.install()
    from django.conf import settings
    settings.configure(
        DATABASES=json.loads(os.environ['DJPATCH_TWOPHASE_DATABASES']),
        MULTIDB_SHARDS=harness.MULTIDB_SHARDS,
        MULTIDB_MODELS=harness.MULTIDB_MODELS,
        MULTIDB_REPLICAS=harness.MULTIDB_REPLICAS,
        MULTIDB_TWO_PHASE_COMMIT=True,
        INSTALLED_APPS=['djpatch_multidb', 'testapp'],
        DEBUG=False,
    )
    from django.db import transaction
    from djpatch_multidb.db import xa
    from testapp.models import Profile

    def stop(branches):
        sys.stdout.write('stopped at %s: %s\n' % (stop_at, branches[0][1][0]))
        sys.stdout.flush()
        time.sleep(600)   # killed here

    getattr(xa, stop_at).append(stop)

    def write():
        Profile.objects.shard(0).create(user_id=4, nick='child')
        Profile.objects.shard(1).create(user_id=5, nick='child')
    transaction.commit_on_success(write)()
    sys.stdout.write('committed without stopping\n')


if __name__ == '__main__':
    main(sys.argv[1])
