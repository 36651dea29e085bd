# hh-relay container image: built with the Swift toolchain, run on a slim Debian with only
# what the binary needs. Static Swift standard library: no toolchain in the runtime image.
#   docker build -t hh-relay .
#   docker run -p 8080:8080 -e HH_RELAY_HOST=0.0.0.0 hh-relay

FROM swift:6.3-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends \
        libsqlite3-dev libssl-dev libv4l-dev libasound2-dev libturbojpeg0-dev libspeexdsp-dev pkg-config \
        libpocketsphinx-dev libespeak-ng-dev \
    && rm -rf /var/lib/apt/lists/*
COPY Package.swift ./
COPY Sources ./Sources
COPY Benchmarks ./Benchmarks
COPY Training ./Training
COPY Tests ./Tests
RUN swift build -c release --product hh-relay --static-swift-stdlib \
    && mkdir -p /staging \
    && cp .build/release/hh-relay /staging/ \
    && cp -r .build/release/HealthHelper_Relay.resources /staging/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libsqlite3-0 ca-certificates curl tzdata \
        libpocketsphinx3 libsphinxbase3 pocketsphinx-en-us libespeak-ng1 espeak-ng-data \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/hh-relay --create-home relay
COPY --from=build /staging/ /usr/local/bin/
USER relay
WORKDIR /var/lib/hh-relay
ENV HH_RELAY_HOST=0.0.0.0 HH_RELAY_PORT=8080 HH_RELAY_DATA_DIR=/var/lib/hh-relay/data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/hh-relay"]
CMD ["serve"]
