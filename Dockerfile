# syntax=docker/dockerfile:1
# Multi-stage: build with the Rust toolchain (librdkafka is compiled from the rdkafka crate's
# bundled sources), run on a slim Debian as a non-root user.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY avro avro
COPY config config
COPY migrations migrations
COPY benches benches
RUN cargo build --release --locked --bin retailgen

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin retailgen
COPY --from=build /src/target/release/retailgen /usr/local/bin/retailgen
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/retailgen"]
CMD ["run"]
