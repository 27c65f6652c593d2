# Replaces: HEALTHCHECK CMD pgrep -f 'celery worker' && [ $(( $(date +%s) - $(stat -c %Y /tmp/worker-heartbeat) )) -lt 60 ]  and a separate HTTP sidecar for Kubernetes' httpGet probes
#
# A Celery worker has no HTTP endpoint. probe serve gives it /livez (its process runs and its
# heartbeat file is younger than 60s: ../worker/heartbeat.py touches it every 2 s) and
# /readyz (the broker answers), on :8086, and runs it as PID 1's child: `docker stop` reaches
# celery, celery's exit code is the container's, and the zombies of its pool are reaped.
# Kubernetes probes it with httpGet (kubernetes.yaml); Docker with the HEALTHCHECK below.
ARG PROBE_IMAGE=probe
FROM ${PROBE_IMAGE} AS probe

FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app ./app
COPY --from=probe /probe /probe
USER 1000:1000
EXPOSE 8086

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/probe", "http", "http://127.0.0.1:8086/livez"]

ENTRYPOINT ["/probe", "serve", "--listen", ":8086", "--live", "process --cmdline 'celery -A app.worker worker'", "--live", "file /tmp/worker-heartbeat --max-age 60s", "--ready", "${REDIS_URL}", "--interval", "15s", "--"]
CMD ["celery", "-A", "app.worker", "worker", "--loglevel", "info"]
