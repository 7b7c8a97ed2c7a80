# The operator's image: `tandem operator` on a slim Debian, as a non-root user.
# Build from a clean clone (the context is the whole checkout; a .build/ folder would be sent too):
#   docker build -t REGISTRY/tandem:0.1.0-dev .
# No image is built or published by this project's tests: its machines have no container runtime
# (docs/install.md).

# The toolchain the project is built and tested with (swift --version: 6.3.1) on the same Debian
# release as the runtime stage, so the binary and its glibc match.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
# The Swift runtime linked in statically: the runtime image needs no Swift libraries.
RUN swift build -c release --product tandem --static-swift-stdlib \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/tandem" /out/tandem

FROM ${RUNTIME_IMAGE}
# ca-certificates: HTTPS to a Prometheus server (--prometheus-url); the API server's CA comes
# from the ServiceAccount's mounted ca.crt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/tandem /usr/local/bin/tandem
# 65532: the chart's runAsUser (charts/tandem/values.yaml, podSecurityContext).
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tandem", "operator"]
