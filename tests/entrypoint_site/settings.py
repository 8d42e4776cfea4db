# The entry-point site's settings: install() first, as in a project's settings.py.
import djpatch_multidb
djpatch_multidb.install()

import json
import os

from harness import MULTIDB_MODELS, MULTIDB_REPLICAS, MULTIDB_SHARDS  # noqa: F401

# The suite's databases (SQLite files or its MariaDB servers), handed over by
# tests/test_entrypoints.py.
DATABASES = json.loads(os.environ['DJPATCH_ENTRYPOINT_DATABASES'])

INSTALLED_APPS = ['djpatch_multidb', 'testapp', 'entrypoint_site']
ROOT_URLCONF = 'entrypoint_site.urls'
MIDDLEWARE = []
MIDDLEWARE_CLASSES = ()
ALLOWED_HOSTS = ['*']
SECRET_KEY = 'djpatch-multidb-entrypoint-site'
DEBUG = False
