FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RELAY_HOST=0.0.0.0 RELAY_PORT=8080 \
    RELAY_CONFIG=/etc/relay/rules.yaml RELAY_DATABASE_URL=sqlite:////var/lib/relay/relay.db

RUN useradd --system --uid 10001 --home-dir /var/lib/relay --create-home relay
WORKDIR /app
COPY pyproject.toml README.md ./
COPY relay ./relay
RUN pip install --no-cache-dir . && rm -rf /root/.cache
COPY rules.yaml /etc/relay/rules.yaml

USER relay
VOLUME ["/var/lib/relay"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
CMD ["relay", "serve"]
