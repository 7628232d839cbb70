import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import type { Permission, VerifierConfig } from "@imap-proxy/auth";
import { type Database, pruneIdempotencyKeys } from "@imap-proxy/db";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  type onRequestAsyncHookHandler,
} from "fastify";
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { MailboxDirectory, VerifiedTokens, authenticate } from "./auth.ts";
import { type ApiConfig, DEFAULT_API_CONFIG, type TrackingConfig, bodyLimitFor } from "./config.ts";
import { ApiProblem, handleError, sendProblem } from "./problems.ts";
import { ROUTES } from "./routes/index.ts";

export type ApiInstance = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** What a route file receives besides the app. */
export interface RouteContext {
  db: Database;
  config: ApiConfig;
  directory: MailboxDirectory;
  /** PUBLIC_URL and TRACKING_SECRET; undefined: tracking is refused (400). */
  tracking: TrackingConfig | undefined;
  /** onRequest hooks for a route that needs a token granting any of `permissions`. */
  guard: (...permissions: [Permission, ...Permission[]]) => onRequestAsyncHookHandler[];
}

/** One route file: registers its route(s) on the app. */
export type RouteModule = (app: ApiInstance, context: RouteContext) => void;

export interface AppOptions {
  db: Database;
  verifier: VerifierConfig;
  config?: Partial<ApiConfig>;
  /** Fastify's logger option (pino); default: off. */
  logger?: FastifyServerOptions["logger"];
  /** Route files besides the built-in ones. */
  routes?: readonly RouteModule[];
  tracking?: TrackingConfig;
  /** Fastify's `trustProxy` (TRUST_PROXY): which proxies' X-Forwarded-For is believed. */
  trustProxy?: boolean | string[];
}

/** Idempotency keys are kept at least this long. */
export const IDEMPOTENCY_KEY_RETENTION_MS = 24 * 3600_000;

export async function buildApp(options: AppOptions): Promise<ApiInstance> {
  const config: ApiConfig = { ...DEFAULT_API_CONFIG, ...options.config };
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: bodyLimitFor(config.maxMessageBytes),
    // One line per request from the onResponse hook below: no URLs with queries, no bodies.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    trustProxy: options.trustProxy ?? false,
    // Tracking tokens are ~47 characters; a longer made-up one still gets the pixel.
    routerOptions: { maxParamLength: 1024 },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new ApiProblem("not_found", `No route ${request.method} ${request.url}.`)),
  );
  // JSON only: without this, text/plain bodies would reach the routes.
  app.removeContentTypeParser("text/plain");
  app.decorateRequest("auth", undefined);

  app.addHook("onResponse", async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? "(none)",
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        mailboxId: request.auth?.mailboxId,
      },
      "request",
    );
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "imap-proxy",
        version: "1.0.0",
        description: "Queue mail through a registered mailbox's SMTP server.",
      },
      components: {
        securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  // Per token: counted after authentication, before the body is read.
  const windowMs = Math.ceil((config.rateLimitBurst / config.rateLimitPerSecond) * 1000);
  await app.register(rateLimit, {
    global: false,
    max: config.rateLimitBurst,
    timeWindow: windowMs,
    keyGenerator: (request) => request.auth?.tokenId ?? request.ip,
    errorResponseBuilder: (_request, context) =>
      new ApiProblem(
        "rate_limited",
        `At most ${context.max} requests per ${windowMs / 1000} s per token; retry after ${context.after}.`,
      ),
  });

  const directory = new MailboxDirectory(options.db);
  const tokens = new VerifiedTokens(options.verifier);
  const context: RouteContext = {
    db: options.db,
    config,
    directory,
    tracking: options.tracking,
    guard: (...permissions) => [authenticate(tokens, directory, permissions), app.rateLimit()],
  };
  for (const route of [...ROUTES, ...(options.routes ?? [])]) route(app, context);

  const prune = setInterval(() => {
    pruneIdempotencyKeys(options.db, IDEMPOTENCY_KEY_RETENTION_MS).catch((error: unknown) =>
      app.log.warn({ code: (error as { code?: string }).code }, "pruning idempotency keys failed"),
    );
  }, 3600_000);
  prune.unref();
  app.addHook("onClose", (_instance, done) => {
    clearInterval(prune);
    done();
  });

  return app;
}
