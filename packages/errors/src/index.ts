export * from "./codes.ts";
export * from "./coded-error.ts";
export * from "./text.ts";
export * from "./shapes.ts";
