from django.db import models

from accounts.models import Member
from compat import ForeignKey


class Entry(models.Model):
    """A blog entry; the blog app lives on 'blogdb', its authors on the shards:
    a real ForeignKey across databases."""
    title = models.CharField(max_length=200)
    body = models.TextField()
    author = ForeignKey(Member, across_databases=True)
    published = models.DateTimeField()

    class Meta:
        ordering = ('-published',)
        verbose_name_plural = 'entries'
