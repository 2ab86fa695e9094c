# Backprop Playground: a slim image that runs the installed wheel as a non-root user.
# tests/ship/test_wheel.py mirrors these steps (build the wheel, install it into a fresh
# environment, start the command, probe the health check), since no Docker engine runs in CI.

# ---- build: the wheel (carries app/, static/ and templates/) ----------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY app ./app
COPY static ./static
COPY templates ./templates
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# ---- run: only Python, the wheel and its dependencies; no compilers, no sources ----------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PLAYGROUND_HOST=0.0.0.0 \
    PLAYGROUND_PORT=8000 \
    PLAYGROUND_DATA_DIR=/data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin playground \
    && mkdir -p /data && chown playground /data
USER playground
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4)"]
CMD ["backprop-playground"]
