# The action's image: one static-ish Rust binary on a small Debian base.
#
# Built by .github/workflows/release.yml and pushed to ghcr.io; action.yml pulls it. The runner's
# rules for Docker actions apply to the final stage: no USER (it runs as root so it can read the
# mounted workspace), no WORKDIR (the runner sets it to the workspace), an exec-form ENTRYPOINT
# with an absolute path. The builder uses absolute paths instead of WORKDIR too.

FROM rust:1-bookworm AS builder

# rdkafka's `ssl` feature links the system OpenSSL; librdkafka builds with its own configure
# script (make, g++). Versions come with the bookworm base image.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libssl-dev pkg-config zlib1g-dev make g++ \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, in their own layer: the workspace's manifests and lock file with stub
# sources, so a source change does not rebuild ~220 crates.
COPY Cargo.toml Cargo.lock /build/
COPY sim/Cargo.toml /build/sim/
COPY crates/flink-sql/Cargo.toml /build/crates/flink-sql/
COPY crates/test-support/Cargo.toml /build/crates/test-support/
RUN mkdir -p /build/src /build/sim/src /build/crates/flink-sql/src /build/crates/test-support/src \
    && echo 'fn main() {}' > /build/src/main.rs \
    && touch /build/src/lib.rs /build/crates/flink-sql/src/lib.rs /build/crates/test-support/src/lib.rs \
    && echo 'fn main() {}' > /build/sim/src/main.rs \
    && cargo build --release --locked -p ccaf-housekeeping --manifest-path /build/Cargo.toml

# The sources. `touch` makes them newer than the stubs' build artifacts, whatever mtimes COPY
# kept, so cargo rebuilds the two local crates.
COPY crates/flink-sql /build/crates/flink-sql
COPY src /build/src
RUN touch /build/src/main.rs /build/src/lib.rs /build/crates/flink-sql/src/lib.rs \
    && cargo build --release --locked -p ccaf-housekeeping --manifest-path /build/Cargo.toml \
    && /build/target/release/ccaf-housekeeping --version

FROM debian:bookworm-slim

# ca-certificates: every HTTPS client (Confluent Cloud, AWS, GitHub) verifies against the system
# roots (rustls-native-certs, rustls-platform-verifier); libssl3: librdkafka's SASL_SSL.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*

COPY --from=builder /build/target/release/ccaf-housekeeping /usr/local/bin/ccaf-housekeeping

ENTRYPOINT ["/usr/local/bin/ccaf-housekeeping"]
