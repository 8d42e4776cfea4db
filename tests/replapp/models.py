"""Models on 'rprimary', read through its replicas 'rrep1' and 'rrep2'
(tests/test_replicas.py places them there for the length of the module)."""
from __future__ import absolute_import
from django.db import models

import djpatch_multidb


class Reading(models.Model):
    name = models.CharField(max_length=50)
    objects = djpatch_multidb.MultiDBManager()


class Whoami(models.Model):
    """Each server of the replication set holds one row naming it, written
    directly and not replicated, so a read tells which server answered."""
    name = models.CharField(max_length=50)
    objects = djpatch_multidb.MultiDBManager()
