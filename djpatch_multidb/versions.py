"""What differs between the Django versions djpatch_multidb patches, as data.

Every per-version difference the patches care about is a key here; the code
reads the key instead of testing version numbers.
"""
import django
from django.core.exceptions import ImproperlyConfigured

SUPPORTED = {
    # Django 1.0: DatabaseWrapper(**DATABASE_OPTIONS), _cursor(settings).
    (1, 0): {
        'wrapper_takes_settings_dict': False,
        'cursor_takes_settings': True,
    },
    # Django 1.1: DatabaseWrapper(settings_dict), _cursor().
    (1, 1): {
        'wrapper_takes_settings_dict': True,
        'cursor_takes_settings': False,
    },
}


def django_version():
    return tuple(django.VERSION[:2])


def supported_names():
    names = ['%d.%d' % v for v in sorted(SUPPORTED)]
    return ', '.join(names)


def check_supported():
    """Raise ImproperlyConfigured unless this Django is one we patch."""
    if django_version() not in SUPPORTED:
        raise ImproperlyConfigured(
            "djpatch_multidb.install() supports Django %s; this is Django %s."
            % (supported_names(), django.get_version()))


def feature(name):
    return SUPPORTED[django_version()][name]
