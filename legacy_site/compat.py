"""The few spellings that differ between the Django and Python versions the
site runs on: Django 1.0 and 1.1 (djpatch_multidb's patches), 1.4, 1.8 and 1.11
on Python 2.7, and 4.2 on Python 3 (Django's own databases, djpatch_multidb's
router).  The rest of the site is written once, for all of them.

Each shim tries the newer spelling first and falls back to the older one;
only create_tables_command() goes by the version number, because a command's
options cannot be asked for without running it.  Django modules are imported
inside the functions: settings.py calls djpatch_multidb.install() before
django.db may be imported, and demo.py imports this module with no settings.
"""
import sys

import django

PY3 = sys.version_info[0] >= 3

if PY3:
    from urllib.error import HTTPError
    from urllib.parse import urlencode
    from urllib.request import HTTPRedirectHandler, build_opener, urlopen
else:
    from urllib import urlencode
    from urllib2 import HTTPError, HTTPRedirectHandler, build_opener, urlopen


def text(data):
    """Bytes from a socket or a pipe as text (Python 3); Python 2's str as it is."""
    if PY3 and isinstance(data, bytes):
        return data.decode('utf-8', 'replace')
    return data


# -- urls.py -----------------------------------------------------------------

def url(regex, view, name=None):
    """One URL pattern: a regular expression and a view function."""
    try:
        from django.urls import re_path as make        # Django 2.0 and later
    except ImportError:
        try:
            from django.conf.urls import url as make   # Django 1.4 to 3.2
        except ImportError:
            from django.conf.urls.defaults import url as make  # Django 1.0 to 1.3
    return make(regex, view, name=name)


# -- views.py ----------------------------------------------------------------

def render(request, template_name, context):
    """django.shortcuts.render (Django 1.3 and later), or what it does on 1.0/1.1:
    the template rendered with the context processors."""
    try:
        from django.shortcuts import render as django_render
    except ImportError:
        from django.shortcuts import render_to_response
        from django.template import RequestContext
        return render_to_response(template_name, context,
                                  context_instance=RequestContext(request))
    return django_render(request, template_name, context)


# -- models.py ---------------------------------------------------------------

def ForeignKey(to, across_databases=False, **kwargs):
    """models.ForeignKey whose rows go when their target goes: on_delete=CASCADE,
    which Django 2.0 and later require and Django 1.0 to 1.2 do not accept
    (there it is what always happens).

    across_databases=True: the target's table is in another database, so the
    column gets no foreign-key constraint (db_constraint=False, Django 1.6 and
    later; before, no version makes one: djpatch_multidb's syncdb on 1.0/1.1
    and Django's own syncdb on 1.2 to 1.5 leave it out)."""
    from django.db import models
    if hasattr(models, 'CASCADE'):
        kwargs.setdefault('on_delete', models.CASCADE)
    if across_databases:
        try:
            return models.ForeignKey(to, db_constraint=False, **kwargs)
        except TypeError:       # Django 1.0 to 1.5: no db_constraint
            pass
    return models.ForeignKey(to, **kwargs)


def python_2_unicode_compatible(cls):
    """Class decorator (Django 1.4.2 to 2.2 have it in django.utils.encoding):
    the class's __str__, returning text, serves as __str__ on Python 3 and as
    __unicode__ on Python 2, where __str__ returns it encoded as UTF-8."""
    if not PY3:
        cls.__unicode__ = cls.__dict__['__str__']
        cls.__str__ = lambda self: self.__unicode__().encode('utf-8')
    return cls


# -- management commands -----------------------------------------------------

def create_tables_command(alias):
    """The manage.py arguments that create the tables of the models living on
    ``alias`` (none of the site's apps has migrations)."""
    if django.VERSION < (1, 7):
        return ['syncdb', '--database=' + alias, '--noinput']
    if django.VERSION < (1, 9):     # migrate creates apps without migrations itself
        return ['migrate', '--database=' + alias, '--noinput']
    return ['migrate', '--run-syncdb', '--database=' + alias, '--noinput']
