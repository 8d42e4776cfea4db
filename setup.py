"""djpatch_multidb: several databases, replicas and shards for Django 1.0 and 1.1,
and the same application code on Django's own multiple databases from 1.2 on.

The MySQL driver is the MySQLdb module, from either distribution:
mysqlclient (1.4.6 is the last for Python 2.7 and builds against MariaDB
Connector/C 3) or the original MySQL-python 1.2.5 where it still compiles.
Neither is required for SQLite-only sites, so neither is a hard requirement:
``pip install djpatch_multidb[mysqlclient]`` or ``[MySQL-python]`` picks one.
"""
try:
    from setuptools import setup
    extra = {
        'install_requires': ['Django>=1.0'],
        'extras_require': {
            'mysqlclient': ['mysqlclient>=1.3.7'],   # 1.4.6 is the last for Python 2.7
            'MySQL-python': ['MySQL-python>=1.2.2'],
        },
        'tests_require': ['nose==1.3.7'],
    }
except ImportError:  # plain distutils: requirements are documentation only
    from distutils.core import setup
    extra = {}

import os

# djpatch_multidb and every subpackage (each folder with an __init__.py).
HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGES = sorted(
    os.path.relpath(dirpath, HERE).replace(os.sep, '.')
    for dirpath, dirnames, filenames in os.walk(os.path.join(HERE, 'djpatch_multidb'))
    if '__init__.py' in filenames)

setup(
    name='djpatch_multidb',
    version='0.1.0',
    description='Multiple databases, read replicas and shards for Django 1.0 and 1.1, '
                'and an upgrade path onto Django 1.2+ multi-db',
    long_description=__doc__,
    packages=PACKAGES,
    license='BSD',
    classifiers=[
        'Framework :: Django',
        'Programming Language :: Python :: 2.6',
        'Programming Language :: Python :: 2.7',
        'Programming Language :: Python :: 3',
        'Topic :: Database',
    ],
    **extra
)
