try:
    from django.urls import re_path as url      # Django 2.0 and later
except ImportError:
    from django.conf.urls import url            # Django 1.4 to 1.11

from entrypoint_site.writes import write_view

urlpatterns = [url(r'^write/(?P<label>[\w-]+)/$', write_view)]
