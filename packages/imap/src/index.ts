export * from "./errors.ts";
export * from "./policy.ts";
export * from "./verify.ts";
export * from "./report.ts";
export * from "./sent-copy.ts";
export * from "./bounce-reader.ts";
export type { ImapFlow } from "imapflow";
