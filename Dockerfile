# Trawl in a container: built from source, run as an unprivileged user, data in /data.
#   docker build -t trawl .
#   docker run -p 127.0.0.1:8080:8080 -e TRAWL__API__API_KEYS=change-me -v trawl-data:/data trawl

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin trawl \
 && install -D target/release/trawl /out/trawl

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data trawl \
 && mkdir -p /data /etc/trawl \
 && chown trawl /data
COPY --from=build /out/trawl /usr/local/bin/trawl
COPY configs/docker.toml /etc/trawl/trawl.toml
USER trawl
WORKDIR /data
ENV TRAWL_CONFIG=/etc/trawl/trawl.toml
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["trawl"]
CMD ["serve"]
