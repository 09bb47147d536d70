# syntax=docker/dockerfile:1
# hybrid-e2e for in-cluster runs (deploy/job.yaml): a static binary on a distroless base, non-root.
#
#   docker build -t ghcr.io/hybrid-e2e/hybrid-e2e:0.1.0 .
#
# Stage 1 builds against musl so the binary needs no libc (TLS is rustls with ring: no OpenSSL).
# The suites and fixtures are embedded in the binary at build time.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p hybrid-e2e \
 && cp target/x86_64-unknown-linux-musl/release/hybrid-e2e /hybrid-e2e

# Stage 2: nothing but the binary (distroless static: CA certificates, /etc/passwd, no shell).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /hybrid-e2e /usr/local/bin/hybrid-e2e
# 65532 is distroless's `nonroot`; deploy/job.yaml sets the same ids.
USER 65532:65532
WORKDIR /reports
ENTRYPOINT ["/usr/local/bin/hybrid-e2e"]
CMD ["run"]
