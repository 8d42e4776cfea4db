from django.db import models


class Entry(models.Model):
    """A blog entry; the whole blog app lives on 'blogdb'."""
    title = models.CharField(max_length=200)
    body = models.TextField()
    author_id = models.IntegerField()       # a Member id: the member lives on a shard
    published = models.DateTimeField()

    class Meta:
        ordering = ('-published',)
        verbose_name_plural = 'entries'
