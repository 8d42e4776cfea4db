"""A custom shard key function for the tests: the key's length."""


from __future__ import absolute_import
def by_length(key, count):
    return len(key) % count


def out_of_range(key, count):
    return count + 1
