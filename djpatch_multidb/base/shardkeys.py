"""Shard key functions: which shard of a group a key lives on.

A group names its key function in MULTIDB_SHARDS:

    MULTIDB_SHARDS = {'users': {'SHARDS': ['shard0', 'shard1'], 'KEY': 'crc32'}}

'mod' (the default) takes integers: key % number of shards.  'crc32' takes
integers and strings: CRC-32 of the key's UTF-8 text, modulo the number of
shards; it is the same in every process, on every machine and every Python
build (never Python's hash()).  Anything else is a dotted path to a callable
``key_function(key, number_of_shards) -> shard number``.
"""
import sys
import zlib

from django.core.exceptions import ImproperlyConfigured

from djpatch_multidb.base import config
from djpatch_multidb.base.compat import string_types
from djpatch_multidb.base.config import import_object, int_types
from djpatch_multidb.base.errors import ShardKeyError


def mod(key, count):
    """key % count, for integer keys."""
    if isinstance(key, bool) or not isinstance(key, int_types()):
        raise TypeError("the 'mod' key function takes integers, not %s" % type(key).__name__)
    return key % count


def crc32(key, count):
    """CRC-32 of the key's text, modulo count: stable everywhere."""
    if isinstance(key, bool) or not isinstance(key, int_types() + string_types):
        raise TypeError("the 'crc32' key function takes integers and strings, not %s"
                        % type(key).__name__)
    if isinstance(key, int_types()):
        text = str(key)
    else:
        text = key
    if not isinstance(text, bytes):
        text = text.encode('utf-8')
    return (zlib.crc32(text) & 0xffffffff) % count


BUILT_IN = {'mod': mod, 'crc32': crc32}


def key_function(group, name):
    """The callable a group's KEY names."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    if not isinstance(name, string_types) or '.' not in name:
        raise ImproperlyConfigured(
            "MULTIDB_SHARDS[%r]['KEY'] is %r; use 'mod', 'crc32' or a dotted path to a "
            "callable(key, number_of_shards)." % (group, name))
    return import_object(name, "MULTIDB_SHARDS[%r]['KEY']" % group)


def shard_number(cfg, group, key):
    """The shard number ``key`` maps to in ``group``; ShardKeyError if it cannot."""
    cfg.check_group(group)
    count = len(cfg.shards[group])
    if key is None:
        raise ShardKeyError(group, key, 'a shard key cannot be None')
    function = key_function(group, cfg.shard_keys.get(group) or 'mod')
    try:
        number = function(key, count)
    except Exception:
        error = sys.exc_info()[1]
        raise ShardKeyError(group, key, '%s raised %s: %s' % (
            getattr(function, '__name__', function), type(error).__name__, error))
    if isinstance(number, bool) or not isinstance(number, int_types()) or not 0 <= number < count:
        raise ShardKeyError(group, key, 'the key function returned %r, not a shard number '
                                        'from 0 to %d' % (number, count - 1))
    return number


def shard_for(key, group=None):
    """The alias of the shard ``key`` maps to in ``group`` (the only group if
    None), by the group's key function: where using_shard_for(key) sends queries."""
    cfg = config.current()
    if group is None:
        group = cfg.only_group('shard_for(%r)' % (key,))
    return cfg.shard_alias(group, shard_number(cfg, group, key))
