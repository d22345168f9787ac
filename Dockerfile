# The agent image: Node 24 (LTS), built in one stage and run from a second one that holds no
# compiler and no dev dependencies, as the unprivileged `node` user (uid 1000).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY packages/client/tsconfig.json packages/client/
COPY src ./src
COPY bin ./bin
COPY scripts/bundle.mjs ./scripts/
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production MURMUR_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
# node_modules/murmur-sidecar-client links here (the workspace): examples/ import the client by name.
COPY --from=build /app/packages/client/package.json ./packages/client/
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# Mount points owned by the runtime user: a named volume mounted here starts with this owner.
RUN mkdir -p /data /keys && chown node:node /data /keys
USER node
VOLUME ["/data"]
# 7400: libp2p (TCP) and membership datagrams (UDP), 7401: the sidecar (when started with --http 0.0.0.0:7401).
EXPOSE 7400 7400/udp 7401
# Healthy when the sidecar answers /v1/agent/self (`murmur status`; it sends MURMUR_HTTP_TOKEN or
# the file MURMUR_HTTP_TOKEN_FILE if the agent needs a token for reads). Port 7401 on loopback
# reaches a sidecar bound to 127.0.0.1 or 0.0.0.0; an agent on another port needs its own check.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "bin/murmur", "status", "--http", "127.0.0.1:7401"]
ENTRYPOINT ["node", "bin/murmur"]
CMD ["agent"]
