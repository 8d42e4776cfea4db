"""Models the tests place across databases.

Author: 'default'.  Event: 'eventdb'.  Entry, Tag and Post: 'blogdb' (Entry has
a many-to-many to Tag).  Profile, Note and Account: the 'users' shard group,
whose key function is 'mod' (Note has a foreign key to Profile, so deleting a
Profile cascades on its shard; Account points at an Author on 'default' and
Posts on 'blogdb' point at Accounts: foreign keys across databases).
"""
from __future__ import absolute_import
from django.db import models

import djpatch_multidb

# Django 2.0 needs on_delete; Django 1.0 does not know the word.
CASCADE = hasattr(models, 'CASCADE') and {'on_delete': models.CASCADE} or {}


class Author(models.Model):
    name = models.CharField(max_length=100)


class Tag(models.Model):
    label = models.CharField(max_length=50, unique=True)


class Entry(models.Model):
    title = models.CharField(max_length=100)
    author_id = models.IntegerField(null=True)
    tags = models.ManyToManyField(Tag)
    objects = djpatch_multidb.MultiDBManager()


class Profile(models.Model):
    shard_key = 'user_id'   # the users group's KEY ('mod') places a profile by user_id
    user_id = models.IntegerField()
    nick = models.CharField(max_length=50)
    objects = djpatch_multidb.MultiDBManager()


class Note(models.Model):
    profile = models.ForeignKey(Profile, **CASCADE)
    text = models.CharField(max_length=100)
    objects = djpatch_multidb.MultiDBManager()


class Event(models.Model):
    """Lives on 'eventdb', an SQLite file even when the rest is MariaDB."""
    name = models.CharField(max_length=50)
    happened = models.DateTimeField()


class Account(models.Model):
    """Sharded by its id, which a ticket table hands out; points into 'default'."""
    id = djpatch_multidb.ShardedIdField()
    name = models.CharField(max_length=50)
    author = models.ForeignKey(Author, null=True, **CASCADE)
    objects = djpatch_multidb.MultiDBManager()


class Post(models.Model):
    """Lives on 'blogdb' and points at an Account on a shard."""
    account = models.ForeignKey(Account, **CASCADE)
    title = models.CharField(max_length=100)
