"""Server (e): the same two routes as a WSGI app, for `gunicorn -k gevent`.

ITERATIONS=... gunicorn -k gevent -w 1 -b 127.0.0.1:PORT --chdir bench/http/servers gevent_app:app
"""
import hashlib
import os

import gevent

IO_DELAY = 0.020
ITERATIONS = int(os.environ['ITERATIONS'])


def app(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/io':
        gevent.sleep(IO_DELAY)
        body = b'io'
    elif path == '/cpu':
        body = hashlib.pbkdf2_hmac('sha256', b'greenhub', b'benchmark-salt', ITERATIONS, 32).hex()[:16].encode()
    else:
        start_response('404 Not Found', [('Content-Length', '0')])
        return [b'']
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
