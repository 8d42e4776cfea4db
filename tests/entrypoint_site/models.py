# The site's app has no models of its own (testapp's are used); Django 1.2
# to 1.6 look for this module to find the app's management commands.
