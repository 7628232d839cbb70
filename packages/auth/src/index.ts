export * from "./errors.ts";
export * from "./permissions.ts";
export * from "./duration.ts";
export * from "./tokens.ts";
export * from "./config.ts";
