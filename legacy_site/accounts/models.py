from django.db import models

from djpatch_multidb import MultiDBManager, ShardedIdField

from compat import ForeignKey, python_2_unicode_compatible


@python_2_unicode_compatible
class Member(models.Model):
    """A user.  Its id comes from the ticket table on 'default' and decides its
    shard: the users group's KEY is 'mod', so user 13 lives on shard1."""
    id = ShardedIdField()
    username = models.CharField(max_length=30, db_index=True)
    email = models.EmailField()
    joined = models.DateTimeField()

    objects = MultiDBManager()

    def __str__(self):
        return self.username


class Profile(models.Model):
    """Lives on its member's shard."""
    shard_key = 'member_id'
    member = ForeignKey(Member, unique=True)
    city = models.CharField(max_length=50)
    bio = models.TextField(blank=True)

    objects = MultiDBManager()


class Comment(models.Model):
    """Lives on its member's shard."""
    shard_key = 'member_id'
    member = ForeignKey(Member)
    text = models.CharField(max_length=200)
    created = models.DateTimeField()

    objects = MultiDBManager()

    class Meta:
        ordering = ('-created',)


class Signup(models.Model):
    """One row per new user on 'default' (read back through its replica)."""
    member_id = models.IntegerField()
    username = models.CharField(max_length=30)
    created = models.DateTimeField()

    objects = MultiDBManager()

    class Meta:
        ordering = ('-id',)
