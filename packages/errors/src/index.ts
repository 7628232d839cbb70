export * from "./codes.ts";
export * from "./coded-error.ts";
