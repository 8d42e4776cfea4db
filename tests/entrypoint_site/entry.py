"""python entry.py wsgi LABEL | setup LABEL | models LABEL

wsgi:   the WSGI application is made first (get_wsgi_application(), or
        WSGIHandler() where Django has no get_wsgi_application), then serves
        GET /write/LABEL/.
setup:  django.setup() first (Django 1.7 and later), then the writes.
models: the models are imported first (Django 1.2 to 1.6 scripts), then the writes.
Prints the line of JSON the writes return.
"""
import os
import sys

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'entrypoint_site.settings')


def wsgi(label):
    try:
        from django.core.wsgi import get_wsgi_application
    except ImportError:
        from django.core.handlers.wsgi import WSGIHandler as get_wsgi_application
    application = get_wsgi_application()
    from io import BytesIO
    environ = {
        'REQUEST_METHOD': 'GET', 'PATH_INFO': '/write/%s/' % label, 'SCRIPT_NAME': '',
        'QUERY_STRING': '', 'SERVER_NAME': 'localhost', 'SERVER_PORT': '80',
        'HTTP_HOST': 'localhost', 'SERVER_PROTOCOL': 'HTTP/1.1',
        'wsgi.version': (1, 0), 'wsgi.url_scheme': 'http', 'wsgi.input': BytesIO(b''),
        'wsgi.errors': sys.stderr, 'wsgi.multithread': False, 'wsgi.multiprocess': False,
        'wsgi.run_once': False,
    }
    status = []
    body = b''.join(application(environ, lambda s, headers, exc_info=None: status.append(s)))
    if not status or not status[0].startswith('200'):
        raise SystemExit('GET /write/%s/ answered %r: %s' % (label, status, body[:2000]))
    return body.decode('utf-8')


def setup(label):
    import django
    django.setup()
    from entrypoint_site.writes import write_everywhere
    return write_everywhere(label)


def models(label):
    from entrypoint_site.writes import write_everywhere
    return write_everywhere(label)


if __name__ == '__main__':
    mode, label = sys.argv[1:3]
    sys.stdout.write(globals()[mode](label) + '\n')
