# The action's image: one Rust binary on a small Debian base.
#
# Built by .github/workflows/release.yml and pushed to ghcr.io; action.yml pulls it by digest. The
# runner's rules for Docker actions apply to the final stage: it runs as root (see USER below), no
# WORKDIR (the runner sets it to the workspace), an exec-form ENTRYPOINT with an absolute path. The
# builder uses absolute paths instead of WORKDIR too.
#
# Base images are pinned by digest, so a rebuild of the same commit starts from the same bytes; to
# move on, replace a digest with the one the tag names now (the tag stays beside it for humans).
# The build arguments exist for builds without a registry (scripts/image, docs/stack.md): they
# substitute a locally made base and take a binary built outside the image.
ARG RUST_IMAGE=rust:1-bookworm@sha256:93ce27a88655056a51dbdd8f5f2d7ddc071c7b0070fb288a37b5a285fc83971e
ARG BASE_IMAGE=debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251
# source: compile in the builder stage (the release); prebuilt: take `ccaf-housekeeping` from the
# root of the build context (a binary built for Debian bookworm's glibc and OpenSSL 3).
ARG BINARY_FROM=source

FROM ${RUST_IMAGE} AS builder

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
    && install -D -m 0755 /build/target/release/ccaf-housekeeping /out/ccaf-housekeeping \
    && /out/ccaf-housekeeping --version

# The two ways to get the binary; only the one BINARY_FROM names is built.
FROM builder AS binary-source

FROM scratch AS binary-prebuilt
COPY ccaf-housekeeping /out/ccaf-housekeeping

# A stage of this file, not an image: there is no tag to pin.
# hadolint ignore=DL3006
FROM binary-${BINARY_FROM} AS binary

FROM ${BASE_IMAGE}

# ca-certificates: every HTTPS client (Confluent Cloud, AWS, GitHub) verifies against the system
# roots (rustls-native-certs, rustls-platform-verifier); libssl3: librdkafka's SASL_SSL.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*

COPY --from=binary --chmod=0755 /out/ccaf-housekeeping /usr/local/bin/ccaf-housekeeping

# Root, on purpose, and said explicitly. GitHub runs a Docker action as the image's user with the
# job's workspace and its file-command files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_ENV)
# bind-mounted from the runner, owned by the runner's account (uid 1001 on GitHub's hosted
# runners, anything on self-hosted ones) and not writable by others. Any other user could neither
# write the step outputs and the summary nor read a workspace checked out by another uid, and
# GitHub's documentation says Docker actions must run as the default user, root. The process
# needs no other privilege: it only makes HTTPS and Kafka connections and writes those files.
# hadolint ignore=DL3002
USER 0:0

ENTRYPOINT ["/usr/local/bin/ccaf-housekeeping"]
