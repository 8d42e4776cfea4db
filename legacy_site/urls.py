from compat import url
import views

urlpatterns = [
    url(r'^$', views.dashboard),
    url(r'^users/new/$', views.create_user),
    url(r'^users/(?P<user_id>\d+)/$', views.user_page),
    url(r'^search/$', views.search),
]
