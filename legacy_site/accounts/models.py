from django.db import models

from djpatch_multidb import MultiDBManager


class UserTicket(models.Model):
    """Hands out user ids, one row per user, on 'default' (a 2009 ticket table)."""
    issued = models.DateTimeField(auto_now_add=True)

    objects = MultiDBManager()


class Member(models.Model):
    """A user; lives on shard (id % 4)."""
    id = models.IntegerField(primary_key=True)
    username = models.CharField(max_length=30, db_index=True)
    email = models.EmailField()
    joined = models.DateTimeField()

    objects = MultiDBManager()

    def __unicode__(self):
        return self.username


class Profile(models.Model):
    member = models.ForeignKey(Member, unique=True)
    city = models.CharField(max_length=50)
    bio = models.TextField(blank=True)

    objects = MultiDBManager()


class Comment(models.Model):
    member = models.ForeignKey(Member)
    text = models.CharField(max_length=200)
    created = models.DateTimeField()

    objects = MultiDBManager()

    class Meta:
        ordering = ('-created',)
