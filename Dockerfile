# Docket: the same steps as `make run` (install from the lock, migrate, serve), as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DOCKET_DATA_DIR=/data \
    DOCKET_SECURE_COOKIES=true \
    PATH=/app/.venv/bin:$PATH

RUN useradd --create-home --uid 10001 docket && mkdir -p /data /app && chown docket:docket /data /app
WORKDIR /app
USER docket

COPY --chown=docket:docket requirements.lock pyproject.toml ./
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir --disable-pip-version-check -r requirements.lock
COPY --chown=docket:docket service ./service
COPY --chown=docket:docket web ./web
COPY --chown=docket:docket alembic ./alembic
COPY --chown=docket:docket alembic.ini ./
RUN .venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps -e .

VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"

# Migrations run before the server starts, never inside it (DESIGN §6).
CMD ["sh", "-c", "docket migrate && exec docket serve --host 0.0.0.0 --port 8000"]
