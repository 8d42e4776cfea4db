"""Read-your-writes across a redirect: PinningMiddleware.

A request that writes to a primary pins it for the rest of that request (the
ORM patches do that).  The page the browser is redirected to after a POST is
another request, usually read from a replica that may not have the write yet.
PinningMiddleware hands the pins of a request that wrote over to the browser
in a signed cookie; requests that carry it, for MULTIDB_PIN_SECONDS (default
15), read those primaries from the primary too.

    MIDDLEWARE_CLASSES = ('djpatch_multidb.middleware.PinningMiddleware', ...)

The cookie holds the pinned aliases and an expiry time, signed with
HMAC-SHA1 keyed by SECRET_KEY; a cookie that is tampered with, expired, or
names an alias that is not a primary with replicas is ignored.  With the
middleware, the replica chosen for a read is kept for the whole request.
"""
import hmac
import time

try:
    from hashlib import sha1
except ImportError:  # pragma: no cover - Python < 2.5
    import sha as sha1

from djpatch_multidb.base import config
from djpatch_multidb.routing import replicas

COOKIE_NAME = 'djpatch_pin'
DEFAULT_PIN_SECONDS = 15


def _key():
    from django.conf import settings
    key = getattr(settings, 'SECRET_KEY', '') or ''
    if not isinstance(key, bytes):
        key = key.encode('utf-8')
    return b'djpatch_multidb.pin:' + key


def _mac(payload):
    if not isinstance(payload, bytes):
        payload = payload.encode('utf-8')
    return hmac.new(_key(), payload, sha1).hexdigest()


def sign(aliases, expiry):
    """The cookie value pinning ``aliases`` until ``expiry`` (a Unix time)."""
    payload = '%d:%s' % (int(expiry), ','.join(sorted(aliases)))
    return '%s:%s' % (payload, _mac(payload))


def unsign(value, now=None):
    """The aliases a cookie value pins, or None if it is forged or expired."""
    if not value or not isinstance(value, basestring_types()):
        return None
    try:
        payload, mac = str(value).rsplit(':', 1)
        expiry, names = payload.split(':', 1)
        expiry = int(expiry)
    except (ValueError, UnicodeError):
        return None
    if not _equal(_mac(payload), mac):
        return None
    if expiry <= (now or time.time()):
        return None
    return [name for name in names.split(',') if name]


def _equal(a, b):
    """Compare in constant time (hmac.compare_digest is Python 2.7.7+)."""
    if len(a) != len(b):
        return False
    result = 0
    for x, y in zip(a, b):
        result |= ord(x) ^ ord(y)
    return result == 0


def basestring_types():
    try:
        return (basestring,)
    except NameError:  # Python 3
        return (str,)


def pin_seconds():
    return replicas.setting('MULTIDB_PIN_SECONDS', DEFAULT_PIN_SECONDS)


class PinningMiddleware(object):
    """Middleware in both styles: MIDDLEWARE_CLASSES (process_request,
    process_response; Django up to 1.11) and MIDDLEWARE (a callable made with
    get_response; Django 1.10 and later)."""

    def __init__(self, get_response=None):
        self.get_response = get_response

    def __call__(self, request):
        response = self.process_request(request)
        if response is None:
            response = self.get_response(request)
        return self.process_response(request, response)

    def process_request(self, request):
        replicas.in_request()
        aliases = unsign(request.COOKIES.get(COOKIE_NAME))
        if aliases:
            cfg = config.current()
            for alias in aliases:
                if cfg.replicas.get(alias):
                    replicas.pin(alias)
        return None

    def process_response(self, request, response):
        cfg = config.current()
        pinned = [alias for alias in replicas.pinned() if cfg.replicas.get(alias)]
        if pinned:
            seconds = pin_seconds()
            previous = unsign(request.COOKIES.get(COOKIE_NAME))
            if previous is None or sorted(previous) != pinned or \
                    request.method not in ('GET', 'HEAD'):
                response.set_cookie(COOKIE_NAME, sign(pinned, time.time() + seconds),
                                    max_age=seconds)
        replicas.in_request(False)
        return response
