# Django settings for legacy_site, a Django 1.0-era site on several databases.
import os

import djpatch_multidb
djpatch_multidb.install()

SITE_ROOT = os.path.dirname(os.path.abspath(__file__))

DEBUG = True            # each connection keeps its query log: the page footer counts it
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
if os.environ.get('LEGACY_SITE_SQL_LOG'):   # run_demo.sh --check: every SQLite statement
    from sqllog import record_statements
    record_statements(DATABASES)

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
USE_TZ = False          # naive datetimes, as in 2009 (Django 4.2 warns unless it is said)
LANGUAGE_CODE = 'en-us'
SITE_ID = 1
USE_I18N = False
MEDIA_ROOT = ''
MEDIA_URL = ''
ADMIN_MEDIA_PREFIX = '/media/'
SECRET_KEY = 'legacy-site-demo-key-not-for-production'
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'   # Django 3.2 and later ask

# Templates and middleware under both names: Django 1.0 to 1.7 read the
# TEMPLATE_* settings, 1.8 and later read TEMPLATES; up to 1.9 the middleware
# list is MIDDLEWARE_CLASSES, from 1.10 on MIDDLEWARE.  Each version ignores
# the names it does not know (the loaders are each version's default ones).
TEMPLATE_DIRS = (os.path.join(SITE_ROOT, 'templates'),)
TEMPLATE_CONTEXT_PROCESSORS = ()
TEMPLATES = [{
    'BACKEND': 'django.template.backends.django.DjangoTemplates',
    'DIRS': list(TEMPLATE_DIRS),
    'OPTIONS': {'context_processors': list(TEMPLATE_CONTEXT_PROCESSORS), 'debug': DEBUG},
}]
MIDDLEWARE_CLASSES = (
    'django.middleware.common.CommonMiddleware',
    # Innermost: counts the queries of the whole request, the templates' too,
    # into the page footer (querycount.py).
    'querycount.QueryCountMiddleware',
)
MIDDLEWARE = list(MIDDLEWARE_CLASSES)
SILENCED_SYSTEM_CHECKS = [
    '1_8.W001',         # Django 1.8, 1.9: "TEMPLATES takes precedence": so it should
    '1_10.W001',        # Django 1.10, 1.11: "MIDDLEWARE takes precedence": likewise
    'fields.W342',      # Profile.member: a ForeignKey(unique=True), its member's profile_set
]
ROOT_URLCONF = 'urls'

INSTALLED_APPS = (
    'djpatch_multidb',      # manage.py multidb_status
    'accounts',
    'blog',
)
