"""The HTTP walk and the row-by-row check behind ./run_demo.sh --check."""
import os
import re

from compat import HTTPError, HTTPRedirectHandler, build_opener, text, urlencode

SHARDS = ['shard0', 'shard1', 'shard2', 'shard3']
UNLOGGED = ('PRAGMA ', "SELECT SQL FROM SQLITE_MASTER WHERE TYPE = 'TABLE' AND NAME = ",
            'SELECT QUOTE(')


class NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Checker(object):

    def __init__(self, base, demo):
        self.base = base
        self.demo = demo
        self.problems = []
        self.opener = build_opener(NoRedirect)

    def problem(self, text):
        self.problems.append(text)

    def get(self, path, data=None):
        try:
            body = data and urlencode(data).encode('ascii')
            response = self.opener.open(self.base + path, body)
            return response.getcode(), response.info(), text(response.read())
        except HTTPError as error:
            return error.code, error.info(), text(error.read())

    def statements(self):
        """The statements the site has sent to its SQLite files so far (sqllog.py);
        None with MariaDB.  Left out: what no query log of Django's sees, so
        neither can the footer: the PRAGMAs that set up a new connection, the
        SELECT QUOTE(?) with which Django 2.0 and later write a query's
        parameters into that log, and the table definition all_shards() reads
        on a connection of its own to learn how a shard compares text before
        it merges ordered rows."""
        if self.demo.options.mysql:
            return None
        log = open(os.path.join(self.demo.var, 'statements.log'))
        try:
            return [line for line in log.read().splitlines()
                    if not line.upper().startswith(UNLOGGED)]
        finally:
            log.close()

    def page(self, path, must_contain=()):
        before = self.statements()
        code, headers, body = self.get(path)
        after = self.statements()
        if code != 200:
            self.problem('GET %s answered %s' % (path, code))
            return ''
        self.check_footer(path, body, before, after)
        for text in must_contain:
            if text not in body:
                self.problem('GET %s does not show %r' % (path, text))
        return body

    def check_footer(self, path, body, before, after):
        """The footer counts every query of the request: its total is the sum of
        its aliases' and, on SQLite, the number of statements the site really
        sent to its files while it answered (the templates' included)."""
        total = re.search(r'<p id="queries">.*<span id="total">(\d+)</span>', body)
        served = dict([(alias, int(n)) for alias, n in
                       re.findall(r'<span class="alias">(\w+): (\d+)</span>', body)])
        if total is None or not served:
            self.problem('GET %s has no per-alias query footer' % path)
            return served
        total = int(total.group(1))
        if total != sum(served.values()):
            self.problem('GET %s: the footer says %d queries in all, %d per alias'
                         % (path, total, sum(served.values())))
        if before is not None and total != len(after) - len(before):
            self.problem('GET %s: the footer says %d queries, the site sent %d:\n  %s'
                         % (path, total, len(after) - len(before),
                            '\n  '.join(after[len(before):])))
        return served

    def run(self):
        demo = self.demo
        members = {}
        for number, alias in enumerate(SHARDS):
            for member_id, username in demo.rows(alias, 'SELECT id, username FROM accounts_member'):
                members[member_id] = (alias, username)
        if not members:
            self.problem('no sample users were loaded')
            return self.problems

        body = self.page('/', ['default', 'default_replica', 'blogdb'] + SHARDS)
        for member_id, alias in re.findall(r'\(id (\d+)\) on <b>(\w+)</b>', body):
            if members.get(int(member_id), (None,))[0] != alias:
                self.problem('dashboard puts user %s on %s' % (member_id, alias))

        for member_id in sorted(members)[:3] + sorted(members)[-3:]:
            alias, username = members[member_id]
            body = self.page('/users/%d/' % member_id, [username, '<b id="shard">%s</b>' % alias])
            # The view leaves the blog entries to the template, which reads them
            # from blogdb as the page renders: the footer counts that query too
            # (MySQL on Django 1.6+ also logs the statement that sets up a new
            # connection, so at least one).
            counted = body and re.search(r'blogdb: (\d+)<', body)
            if body and not (counted and int(counted.group(1)) >= 1):
                self.problem('GET /users/%d/: the footer misses the query the template '
                             'runs on blogdb' % member_id)

        prefix = members[sorted(members)[0]][1][:2]
        expected = len([1 for a, name in members.values() if name.startswith(prefix)])
        self.page('/search/?q=%s' % prefix, ['%d users start with "%s"' % (expected, prefix)])

        code, headers, body = self.get('/users/new/', {
            'username': 'checkuser', 'email': 'check@example.com', 'city': 'Tartu',
            'comment': 'written by the check'})
        location = headers.get('Location', '')
        found = re.search(r'/users/(\d+)/$', location)
        if code != 302 or not found:
            self.problem('POST /users/new/ answered %s %r' % (code, location))
        else:
            new_id = int(found.group(1))
            self.page('/users/%d/' % new_id, ['checkuser', 'written by the check'])
            members[new_id] = (SHARDS[new_id % 4], 'checkuser')

        self.check_rows(members)
        return self.problems

    def check_rows(self, members):
        demo = self.demo
        for number, alias in enumerate(SHARDS):
            ids = set([r[0] for r in demo.rows(alias, 'SELECT id FROM accounts_member')])
            for member_id in ids:
                if member_id % 4 != number:
                    self.problem('user %d is on %s, not shard%d' % (member_id, alias, member_id % 4))
            for table in ('accounts_profile', 'accounts_comment'):
                for (member_id,) in demo.rows(alias, 'SELECT member_id FROM %s' % table):
                    if member_id not in ids:
                        self.problem('%s row of user %d is on %s, without its user'
                                     % (table, member_id, alias))
        found = sum([len(demo.rows(a, 'SELECT id FROM accounts_member')) for a in SHARDS])
        if found != len(members):
            self.problem('%d users on the shards, %d expected' % (found, len(members)))
        signups = demo.rows('default', 'SELECT member_id FROM accounts_signup')
        if sorted([r[0] for r in signups]) != sorted(members):
            self.problem('%d signups on default for %d users' % (len(signups), len(members)))
        authors = demo.rows('blogdb', 'SELECT author_id FROM blog_entry')
        if not authors:
            self.problem('no blog entries on blogdb')
        for (author_id,) in authors:
            if author_id not in members:
                self.problem('blog entry by user %d, who does not exist' % author_id)
        for alias in ['default'] + SHARDS:
            if has_table(demo, alias, 'blog_entry'):
                self.problem('blog_entry table exists on %s' % alias)
        for alias in ['default', 'blogdb']:
            if has_table(demo, alias, 'accounts_member'):
                self.problem('accounts_member table exists on %s' % alias)


def has_table(demo, alias, table):
    try:
        demo.rows(alias, 'SELECT COUNT(*) FROM %s' % table)
        return True
    except Exception:
        return False
