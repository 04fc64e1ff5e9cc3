# The ttsync image: one image for workers (and the TikTok emulator, for dry runs).
# Built by docker-compose.yml; nothing in the repository needs Docker to build or test.

FROM node:20-slim AS build
WORKDIR /app
# Dependencies first, so source edits do not invalidate the npm layer. npm ci installs
# exactly package-lock.json and fails if it disagrees with package.json.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY scripts ./scripts
# tsc to dist/, then the prebuilt workflow bundle (dist/workflow-bundle.js) that production
# workers load instead of bundling workflows/ at every start.
RUN npm run build

FROM node:20-slim
ENV NODE_ENV=production \
    TTSYNC_DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The local-folder storage default and emulator state live on a volume, owned by the
# unprivileged user the process runs as.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
CMD ["node", "bin/ttsync.js", "worker"]
