export * from "./errors.ts";
export * from "./policy.ts";
export * from "./verify.ts";
export * from "./outcome.ts";
export * from "./pool.ts";
