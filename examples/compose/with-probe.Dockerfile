# Replaces: hoping that pg_isready / redis-cli are in the server image (and trusting their answers): adds /probe to any image
#
# Used by docker-compose.yml beside it: BASE is the server image to extend.
ARG PROBE_IMAGE=probe
ARG BASE
FROM ${PROBE_IMAGE} AS probe

FROM ${BASE}
COPY --from=probe /probe /probe
