# syntax=docker/dockerfile:1
# QuizMaster's container image: `quizmaster serve` on 0.0.0.0:8080, SQLite data in the volume
# /var/lib/quizmaster (or any QUIZMASTER_DATABASE_URL), run as an unprivileged user.
#
#   podman build -t quizmaster .                      # compiles a release binary (10-16 min on 2 cores)
#   podman run -p 8080:8080 -v quizmaster-data:/var/lib/quizmaster quizmaster
#
# The base images are build arguments so that a mirror or a locally built image can stand in:
#   --build-arg BUILD_IMAGE=...    an image with Rust >= 1.94 and a C compiler (default rust:1-bookworm)
#   --build-arg RUNTIME_IMAGE=...  a glibc image with bash, at least as new as the build image's glibc
# To package a binary built elsewhere instead of compiling here (scripts/test-container.sh does):
#   mkdir -p prebuilt && cp target/release/quizmaster prebuilt/
#   podman build --build-arg BINARY_SOURCE=prebuilt -t quizmaster .
# The git revision `quizmaster --version` shows: --build-arg QUIZMASTER_GIT_REVISION=$(git rev-parse --short=10 HEAD)
# (.git is not part of the build context).

ARG BUILD_IMAGE=docker.io/library/rust:1-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim
# `compiled` (build from source in the first stage) or `prebuilt` (take prebuilt/quizmaster).
ARG BINARY_SOURCE=compiled

FROM ${BUILD_IMAGE} AS compiled
WORKDIR /src
COPY . .
ARG QUIZMASTER_GIT_REVISION=unknown
ENV QUIZMASTER_GIT_REVISION=${QUIZMASTER_GIT_REVISION}
# --locked: exactly the crate versions of Cargo.lock.
RUN cargo build --release --locked --bin quizmaster \
 && install -D -m 0755 target/release/quizmaster /out/quizmaster

FROM ${RUNTIME_IMAGE} AS prebuilt
COPY prebuilt/quizmaster /out/quizmaster

# Picks one of the two stages above; builders skip the stage that is not used.
FROM ${BINARY_SOURCE} AS binary

FROM ${RUNTIME_IMAGE} AS runtime
# A fixed uid/gid, so that volume ownership is predictable across rebuilds.
RUN groupadd --system --gid 10001 quizmaster \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/quizmaster --no-create-home \
      --shell /usr/sbin/nologin quizmaster \
 && mkdir -p /var/lib/quizmaster \
 && chown quizmaster:quizmaster /var/lib/quizmaster
COPY --from=binary /out/quizmaster /usr/bin/quizmaster
ENV QUIZMASTER_BIND=0.0.0.0:8080 \
    QUIZMASTER_DATABASE_URL=sqlite:///var/lib/quizmaster/quizmaster.db \
    QUIZMASTER_LOG_FORMAT=json
VOLUME ["/var/lib/quizmaster"]
WORKDIR /var/lib/quizmaster
USER quizmaster:quizmaster
EXPOSE 8080
# /readyz answers 200 once the database does. Plain bash (/dev/tcp), so the runtime image needs
# no curl. The port is QUIZMASTER_HEALTH_BIND's for `quizmaster worker`, else QUIZMASTER_BIND's.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "addr=${QUIZMASTER_HEALTH_BIND:-$QUIZMASTER_BIND}; exec 3<>/dev/tcp/127.0.0.1/${addr##*:} && printf 'GET /readyz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r -t 4 _ status _ <&3 && [ \"$status\" = 200 ]"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/quizmaster"]
CMD ["serve"]
