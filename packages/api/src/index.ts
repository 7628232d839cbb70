export {
  buildApp,
  type ApiInstance,
  type AppOptions,
  type RouteContext,
  type RouteModule,
} from "./app.ts";
export {
  type ApiConfig,
  ApiConfigError,
  DEFAULT_API_CONFIG,
  type TrackingConfig,
  apiConfigFromEnv,
  trackingConfigFromEnv,
  trustProxyFromEnv,
} from "./config.ts";
export { ApiProblem, PROBLEMS, type ProblemCode } from "./problems.ts";
export { startServer, type RunningServer } from "./server.ts";
