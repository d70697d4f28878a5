FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY tracker ./tracker
COPY decision ./decision
COPY manage.py ./
# gunicorn reads it from the working directory: prometheus multiprocess mode for /metrics.
COPY gunicorn.conf.py ./
RUN pip install . && useradd --create-home tunefolio && mkdir -p /app/var && chown tunefolio /app/var
# Static files are part of the image, collected with the production storage (hashed, compressed)
# at build time: at run time the app's user cannot, and need not, write them. The secret and the
# hosts here only let the settings load; collectstatic uses neither.
RUN DJANGO_SETTINGS_MODULE=config.settings.production DJANGO_SECRET_KEY=collectstatic-only \
    DJANGO_ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput
USER tunefolio
EXPOSE 8000
