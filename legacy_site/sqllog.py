"""A record of every statement the site sends to its SQLite files, kept below
Django (a sqlite3 connection factory), for ./run_demo.sh --check: the check
compares the page footer's count with it.  settings.py turns it on when
LEGACY_SITE_SQL_LOG names the file to append to: one statement a line.
"""
import os
import sqlite3

_cursors = {}


def _record(sql):
    out = open(os.environ['LEGACY_SITE_SQL_LOG'], 'a')
    try:
        out.write(' '.join(str(sql).split()) + '\n')
    finally:
        out.close()


def _recording(factory):
    """A subclass of the cursor class ``factory`` that records what it runs."""
    if factory not in _cursors:
        def execute(self, sql, *args):
            _record(sql)
            return factory.execute(self, sql, *args)

        def executemany(self, sql, *args):
            _record(sql)
            return factory.executemany(self, sql, *args)
        _cursors[factory] = type('Recording' + factory.__name__, (factory,),
                                 {'execute': execute, 'executemany': executemany})
    return _cursors[factory]


class RecordingConnection(sqlite3.Connection):
    """sqlite3.connect(factory=RecordingConnection): its cursors record their statements."""

    def cursor(self, factory=sqlite3.Cursor):
        return sqlite3.Connection.cursor(self, _recording(factory))


def record_statements(databases):
    """Give every SQLite alias of ``databases`` the recording connection."""
    for entry in databases.values():
        if entry['ENGINE'].split('.')[-1] == 'sqlite3':
            entry.setdefault('OPTIONS', {})['factory'] = RecordingConnection
