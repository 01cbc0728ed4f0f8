# supplyline in a container: a build stage and a small runtime stage.
#
#   docker build -t supplyline .
#   docker run -d --name supplyline \
#     -v "$PWD/supplyline.toml:/etc/supplyline/supplyline.toml:ro" \
#     -v supplyline-data:/var/lib/supplyline \
#     -p 127.0.0.1:8080:8080 supplyline
#
# The database lives in the volume /var/lib/supplyline; the process runs as
# the unprivileged user supplyline (uid 10001). In the mounted config, set
# [web] listen = "0.0.0.0:8080" to reach the desk through the published port
# (with a TLS proxy in front: cookies are Secure on a non-loopback listen).
# Health and metrics are served on 9090 (/healthz, /readyz, /metrics).

FROM rust:1.95-slim-trixie AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin supplyline \
 && strip target/release/supplyline

FROM debian:trixie-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/supplyline \
      --create-home --shell /usr/sbin/nologin supplyline \
 && chmod 0700 /var/lib/supplyline \
 && mkdir -p /etc/supplyline
COPY --from=build /src/target/release/supplyline /usr/local/bin/supplyline
USER supplyline:supplyline
WORKDIR /var/lib/supplyline
VOLUME ["/var/lib/supplyline"]
ENV SUPPLYLINE_DATABASE_URL=sqlite:///var/lib/supplyline/supplyline.db \
    SUPPLYLINE_METRICS_LISTEN=0.0.0.0:9090 \
    SUPPLYLINE_LOG_FORMAT=json
EXPOSE 8080 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9090/healthz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["supplyline", "--config", "/etc/supplyline/supplyline.toml"]
CMD ["serve"]
