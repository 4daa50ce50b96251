# Builds the coffer binary and ships it on a slim Debian with the database clients the engine uses.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin coffer

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl postgresql-client mariadb-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/coffer /usr/local/bin/coffer
ENV COFFER_LISTEN=0.0.0.0:8888 COFFER_DATA_DIR=/var/lib/coffer
VOLUME /var/lib/coffer
EXPOSE 8888
ENTRYPOINT ["coffer"]
CMD ["serve"]
