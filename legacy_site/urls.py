from django.conf.urls.defaults import *

urlpatterns = patterns('views',
    (r'^$', 'dashboard'),
    (r'^users/new/$', 'create_user'),
    (r'^users/(?P<user_id>\d+)/$', 'user_page'),
    (r'^search/$', 'search'),
)
