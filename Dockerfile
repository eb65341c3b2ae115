# syntax=docker/dockerfile:1
# Tactful: build with the full toolchain, then ship only dist/, templates/ and production dependencies.

# Node 24, the current LTS line (Tactful supports 20.19+, 22 and 24).
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build -------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV SCARF_ANALYTICS=false \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Dependencies first, so the layer is cached until the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci

COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY templates ./templates
RUN npm run build \
 && npm prune --omit=dev \
 && npm cache clean --force

# ---- runtime -----------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000 \
    SCARF_ANALYTICS=false \
    NPM_CONFIG_UPDATE_NOTIFIER=false

COPY --from=build --chown=node:node /app/package.json /app/package-lock.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# Read at runtime from ../templates relative to dist/.
COPY --from=build --chown=node:node /app/templates ./templates

# Writable places for DATA_DIR (.data) and OUTBOX_DIR (outbox); the app runs as `node`. Production
# requires DATABASE_URL and SMTP_URL, so the embedded PostgreSQL and .eml files only serve a try
# with NODE_ENV=development.
RUN mkdir -p /app/.data /app/outbox && chown node:node /app/.data /app/outbox

USER node
EXPOSE 3000

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "dist/main.js"]
