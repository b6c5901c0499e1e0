FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RELAY_HOST=0.0.0.0 RELAY_PORT=8080 \
    RELAY_CONFIG=/etc/relay/rules.yaml RELAY_DATABASE_URL=sqlite:////var/lib/relay/relay.db

RUN useradd --system --uid 10001 --home-dir /var/lib/relay --create-home relay
WORKDIR /app

# The dependency layer: built from pyproject.toml alone, so a change to the code reuses it and
# only the small layer below is rebuilt.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps))" \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm -rf /tmp/requirements.txt /root/.cache

# The code.
COPY README.md ./
COPY relay ./relay
RUN pip install --no-cache-dir --no-deps . && rm -rf /root/.cache
COPY rules.yaml /etc/relay/rules.yaml

USER relay
VOLUME ["/var/lib/relay"]
EXPOSE 8080
# follows RELAY_PORT: the port is read when the check runs, not fixed when the image is built
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('RELAY_PORT', '8080'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status == 200 else 1)"]
CMD ["relay", "serve"]
