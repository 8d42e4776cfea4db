# Django settings for legacy_site, a Django 1.0-era site on several databases.
import os

import djpatch_multidb
djpatch_multidb.install()

SITE_ROOT = os.path.dirname(os.path.abspath(__file__))

DEBUG = True            # each connection keeps its query log: the page footer shows it
TEMPLATE_DEBUG = DEBUG

ADMINS = ()
MANAGERS = ADMINS

# Where the SQLite files go; run_demo.sh --mysql writes the MariaDB aliases
# to a file and points LEGACY_SITE_DATABASES at it instead.
VAR_DIR = os.environ.get('LEGACY_SITE_VAR', os.path.join(SITE_ROOT, 'var'))


def sqlite(name):
    return {'ENGINE': 'sqlite3', 'NAME': os.path.join(VAR_DIR, name + '.db')}

DATABASES = {
    'default': sqlite('default'),
    'ids': sqlite('ids'),
    'default_replica': sqlite('default_replica'),
    'blogdb': sqlite('blog'),
    'shard0': sqlite('users0'),
    'shard1': sqlite('users1'),
    'shard2': sqlite('users2'),
    'shard3': sqlite('users3'),
}
if os.environ.get('LEGACY_SITE_DATABASES'):
    exec(open(os.environ['LEGACY_SITE_DATABASES']).read())    # defines DATABASES

# Users, their profiles and their comments live on the shard of the user id
# (user id % 4); the blog has its own database; everything else is on default.
MULTIDB_SHARDS = {'users': {'SHARDS': ['shard0', 'shard1', 'shard2', 'shard3'], 'KEY': 'mod'}}
MULTIDB_MODELS = {
    'accounts.Member': 'shards:users',
    'accounts.Profile': 'shards:users',
    'accounts.Comment': 'shards:users',
    'blog': 'blogdb',
}
MULTIDB_REPLICAS = {'default': ['default_replica']}
# The ticket table that hands out user ids.  On SQLite it needs a file of its
# own: a write transaction on default.db would block it.
MULTIDB_ID_SOURCE = 'ids'

TIME_ZONE = 'UTC'
LANGUAGE_CODE = 'en-us'
SITE_ID = 1
USE_I18N = False
MEDIA_ROOT = ''
MEDIA_URL = ''
ADMIN_MEDIA_PREFIX = '/media/'
SECRET_KEY = 'legacy-site-demo-key-not-for-production'

TEMPLATE_LOADERS = (
    'django.template.loaders.filesystem.load_template_source',
)
TEMPLATE_CONTEXT_PROCESSORS = (
    'views.queries_per_alias',
)
MIDDLEWARE_CLASSES = (
    'django.middleware.common.CommonMiddleware',
)
ROOT_URLCONF = 'urls'
TEMPLATE_DIRS = (os.path.join(SITE_ROOT, 'templates'),)

INSTALLED_APPS = (
    'djpatch_multidb',      # manage.py multidb_status
    'accounts',
    'blog',
)
