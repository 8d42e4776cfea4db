"""Probe1, Probe2, Probe4, Probe8: one sharded model per shard group of 1, 2, 4
and 8 shards (groups g1, g2, g4, g8 of the fan-out worker's settings).

On every shard the benchmark turns each table into a view whose every query
takes about 20 ms on the server (a SLEEP(0.02) in a derived table, run once
per query whatever the number of rows).
"""
from django.db import models

import djpatch_multidb


class _Probe(models.Model):
    shard = models.IntegerField()
    name = models.CharField(max_length=40)
    objects = djpatch_multidb.MultiDBManager()

    class Meta:
        abstract = True


class Probe1(_Probe):
    class Meta:
        app_label = 'fanapp'


class Probe2(_Probe):
    class Meta:
        app_label = 'fanapp'


class Probe4(_Probe):
    class Meta:
        app_label = 'fanapp'


class Probe8(_Probe):
    class Meta:
        app_label = 'fanapp'


PROBES = {1: Probe1, 2: Probe2, 4: Probe4, 8: Probe8}
