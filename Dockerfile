# LLM Bridge as a container: a static binary (the SQLite driver is pure Go,
# so CGO is off) on a distroless, non-root image.
#
#   docker build -t llmbridge .
#   docker run -p 1219:1219 -e ACCESS_API_KEYS=... -e OPENAI_API_KEY=... -v llmbridge-data:/data llmbridge
#
# compose.yaml runs two replicas behind one port with PostgreSQL and Redis.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/llmbridge ./server

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/llmbridge /llmbridge
# All state (SQLite usage store, request log, usage spool) lives in /data.
VOLUME ["/data"]
WORKDIR /data
ENV LLMBRIDGE_ADDR=0.0.0.0:1219 \
    LLMBRIDGE_DB=/data/llmbridge.db \
    LLMBRIDGE_LOG_FILE=/data/logs/requests.log
EXPOSE 1219
USER nonroot:nonroot
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 CMD ["/llmbridge", "healthcheck"]
ENTRYPOINT ["/llmbridge"]
