# tracemend's container image: the collector (`tracemend`, the entrypoint), the repair
# engine (`tracemend-repair`) and the symbol indexer (`tracemend-symbols`) on Debian
# bookworm-slim, running as an unprivileged user. docs/container.md explains the build,
# the run, and what mounting the Docker socket for the repair engine implies.
#
#   docker build -t tracemend .                  # from source (needs BuildKit: cache mounts)
#   docker build --target prebuilt ...           # binaries from target/docker-prebuilt/ (CI)
#
# Stage order matters to the legacy builder (no BuildKit), which builds every stage up to
# the target in file order: `prebuilt` comes before the Rust builder so that a
# `--target prebuilt` build never needs the Rust image or cache mounts.

ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1.95-bookworm

# ---- runtime-base: everything of the final image except the binaries ----
FROM ${RUNTIME_IMAGE} AS runtime-base
# ca-certificates: TLS exporters trust the system roots; git: the repair engine and the
# symbol indexer clone and read repositories. Installed only when missing, so a base
# image that already has them (scripts/make-base-images.sh) needs no network here.
RUN if ! command -v git >/dev/null || [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates git \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 tracemend \
    && useradd --system --uid 10001 --gid tracemend --home-dir /var/lib/tracemend \
         --create-home --shell /usr/sbin/nologin tracemend
COPY config/default.yaml /etc/tracemend/default.yaml
COPY config/repair.yaml /etc/tracemend/repair.example.yaml
# The container's config is the built-in default with every listener (and the metrics
# endpoint) on all interfaces: `localhost` in a container is unreachable through a
# published port. The greps fail the build if default.yaml no longer reads as expected.
RUN sed -e 's/endpoint: localhost:/endpoint: 0.0.0.0:/' \
      -e '/^service:$/a\  telemetry:\n    metrics:\n      address: 0.0.0.0:8888' \
      /etc/tracemend/default.yaml > /etc/tracemend/config.yaml \
    && grep -q 'endpoint: 0.0.0.0:4317' /etc/tracemend/config.yaml \
    && grep -q 'endpoint: 0.0.0.0:4318' /etc/tracemend/config.yaml \
    && grep -q 'endpoint: 0.0.0.0:13133' /etc/tracemend/config.yaml \
    && grep -q 'address: 0.0.0.0:8888' /etc/tracemend/config.yaml
USER 10001:10001
WORKDIR /var/lib/tracemend
# Compiled WASM modules are cached here (see README, `wasm/<name>`); a volume keeps them.
ENV XDG_CACHE_HOME=/var/lib/tracemend/.cache
# OTLP gRPC, OTLP HTTP, health_check, own metrics, repair engine intake.
EXPOSE 4317 4318 13133 8888 8787
# The image has no curl: bash's /dev/tcp speaks just enough HTTP to health_check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/13133 && printf 'GET / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["tracemend"]
CMD ["--config", "/etc/tracemend/config.yaml"]

# ---- prebuilt: binaries built outside the image (CI reuses the test run's build) ----
FROM runtime-base AS prebuilt
COPY target/docker-prebuilt/tracemend target/docker-prebuilt/tracemend-repair target/docker-prebuilt/tracemend-symbols /usr/local/bin/
# The binaries run on this base and accept the image's config.
RUN tracemend validate --config /etc/tracemend/config.yaml

# ---- builder: a release build with the cargo registry and target dirs cached ----
FROM ${RUST_IMAGE} AS builder
# wasm-host/build.rs compiles the embedded guests for wasm32-wasip2.
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
# The target dirs live in cache mounts, so the binaries are copied out in the same RUN.
# Each is split: the stripped binary for the image, its DWARF in a .debug file that the
# `debug-info` stage exports (the debuglink lets gdb find it when placed beside).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    --mount=type=cache,target=/src/guest-crates/target \
    cargo build --release --locked --bin tracemend --bin tracemend-repair --bin tracemend-symbols \
    && mkdir -p /out/bin /out/debug \
    && for bin in tracemend tracemend-repair tracemend-symbols; do \
         objcopy --only-keep-debug "target/release/$bin" "/out/debug/$bin.debug" \
         && objcopy --strip-debug --strip-unneeded \
              --add-gnu-debuglink="/out/debug/$bin.debug" "target/release/$bin" "/out/bin/$bin" \
         || exit 1; \
       done

# ---- debug-info: the split-out DWARF, for `docker build --target debug-info -o ...` ----
FROM scratch AS debug-info
COPY --from=builder /out/debug/ /

# ---- runtime: the default target ----
FROM runtime-base AS runtime
COPY --from=builder /out/bin/ /usr/local/bin/
RUN tracemend validate --config /etc/tracemend/config.yaml
