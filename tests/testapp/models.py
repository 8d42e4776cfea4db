"""Models the tests place across databases.

Author: 'default'.  Event: 'eventdb'.  Entry and Tag: 'blogdb' (Entry has a
many-to-many to Tag).  Profile and Note: the 'users' shard group (Note has a
foreign key to Profile, so deleting a Profile cascades on its shard).
"""
from django.db import models

import djpatch_multidb


class Author(models.Model):
    name = models.CharField(max_length=100)


class Tag(models.Model):
    label = models.CharField(max_length=50)


class Entry(models.Model):
    title = models.CharField(max_length=100)
    author_id = models.IntegerField(null=True)
    tags = models.ManyToManyField(Tag)
    objects = djpatch_multidb.MultiDBManager()


class Profile(models.Model):
    user_id = models.IntegerField()
    nick = models.CharField(max_length=50)
    objects = djpatch_multidb.MultiDBManager()


class Note(models.Model):
    profile = models.ForeignKey(Profile)
    text = models.CharField(max_length=100)
    objects = djpatch_multidb.MultiDBManager()


class Event(models.Model):
    """Lives on 'eventdb', an SQLite file even when the rest is MariaDB."""
    name = models.CharField(max_length=50)
    happened = models.DateTimeField()
