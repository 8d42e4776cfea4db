"""The page footer's query count: every query of the request on every alias,
those the templates run too (a queryset evaluated while the page renders).

The footer in base.html holds PLACEHOLDER; QueryCountMiddleware, the
innermost middleware, replaces it once the view has returned its response,
which render() has rendered by then: it sums each alias's query log (kept
because settings.DEBUG is on).  One class for the old middleware interface
(MIDDLEWARE_CLASSES, Django 1.0 to 1.9) and the new one (MIDDLEWARE, 1.10 on).
"""
from django.conf import settings

from djpatch_multidb import connections

PLACEHOLDER = '<!-- queries of this request -->'


def queries_per_alias():
    """[(alias, number of queries it ran in this request)] for the aliases that ran any."""
    served = []
    for alias in sorted(settings.DATABASES):
        count = len(connections[alias].queries)
        if count:
            served.append((alias, count))
    return served


def footer(served):
    cells = ['<span class="alias">%s: %d</span>' % pair for pair in served]
    return '<span id="total">%d</span> (%s)' % (sum([n for a, n in served]),
                                                ', '.join(cells) or 'none')


class QueryCountMiddleware(object):

    def __init__(self, get_response=None):
        self.get_response = get_response

    def __call__(self, request):
        return self.process_response(request, self.get_response(request))

    def process_response(self, request, response):
        if getattr(response, 'streaming', False) or \
                'html' not in response.get('Content-Type', ''):
            return response
        placeholder = PLACEHOLDER.encode('ascii')
        content = response.content
        if placeholder not in content:
            return response
        text = footer(queries_per_alias()).encode('ascii')
        response.content = content.replace(placeholder, text)
        if response.has_header('Content-Length'):
            response['Content-Length'] = str(len(response.content))
        return response
