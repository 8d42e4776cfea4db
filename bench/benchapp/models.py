"""Item: one small table, the same code on Django 1.1.4 and Django 1.11.

Where it lives (one database, 'default', or shard 1 of the 'users' group)
is up to the settings of each benchmark variant, never to this file.
"""
from django.db import models


class Item(models.Model):
    grp = models.IntegerField(db_index=True)
    name = models.CharField(max_length=40)
    value = models.IntegerField()

    class Meta:
        app_label = 'benchapp'
