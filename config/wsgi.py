import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()

# What a worker loads up front (Django, the URLconf and with it every view and service, pandas,
# numpy) lives as long as the process. Frozen, it is left out of the cyclic garbage collector's
# full passes, which would otherwise walk all of it whenever enough objects from large requests
# (a usage batch makes tens of thousands) have piled up: tens of milliseconds in some request.
get_resolver().url_patterns  # noqa: B018 (imported now, so frozen with the rest)
gc.freeze()
