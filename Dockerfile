# Minimal image for now: the operations issue turns this into the small,
# non-root, health-checked production image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/arksync --create-home arksync
COPY --from=build /src/target/release/arksync /usr/local/bin/arksync
USER arksync
ENV ARKSYNC_LISTEN=0.0.0.0:5000
EXPOSE 5000
# Configure with DATABASE_URL (an external PostgreSQL); migrations run at start.
ENTRYPOINT ["/usr/local/bin/arksync", "serve"]
