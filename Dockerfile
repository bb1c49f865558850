# arksync: one small container next to PostgreSQL.
#   docker build -t arksync .
#   docker run -e DATABASE_URL=postgres://arksync:secret@db:5432/arksync -p 5000:5000 arksync
# Configured only by environment variables (see docs/configuration.md); migrations run at
# start (or run `arksync migrate` once before rolling out replicas).

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so code changes do not rebuild them.
COPY Cargo.toml Cargo.lock ./
# Every [[bench]] the manifest names needs a file for the manifest to parse.
RUN mkdir -p src benches examples \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && for b in $(awk '/^\[\[bench\]\]/ {bench = 1; next} bench && /^name/ {gsub(/"/, "", $3); print $3; bench = 0}' Cargo.toml); do \
         echo 'fn main() {}' > "benches/$b.rs"; done \
    && cargo build --release --locked --bin arksync \
    && rm -rf src benches examples
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin arksync

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/arksync --create-home --shell /usr/sbin/nologin arksync
COPY --from=build /src/target/release/arksync /usr/local/bin/arksync
USER arksync
WORKDIR /var/lib/arksync
ENV ARKSYNC_LISTEN=0.0.0.0:5000 \
    ARKSYNC_DATA_DIR=/var/lib/arksync \
    LOG_FORMAT=json
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/arksync", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/arksync"]
CMD ["serve"]
