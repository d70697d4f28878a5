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
USER tunefolio
EXPOSE 8000
