# gradscope server + viewer. Build from the repository root:
#   docker build -f docker/server.Dockerfile -t gradscope-server .
#   docker run -p 6174:6174 -v gradscope-data:/data -e GRADSCOPE_TOKEN=change-me gradscope-server
# The store lives on the /data volume. Binding 0.0.0.0 inside the container requires a token.

FROM node:24-slim AS build
WORKDIR /src
# python3, make and g++ build better-sqlite3 when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
RUN npm i -g pnpm@12.4.2
COPY . .
RUN pnpm install --frozen-lockfile \
 && pnpm build \
 && pnpm deploy --filter gradscope --prod /app

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
RUN groupadd --system gradscope \
 && useradd --system --gid gradscope --home-dir /app gradscope \
 && mkdir -p /data \
 && chown gradscope:gradscope /data
USER gradscope
VOLUME ["/data"]
EXPOSE 6174
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:6174/api/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/main.js"]
CMD ["serve", "/data/runs.gradscope", "--create", "--host", "0.0.0.0", "--port", "6174"]
