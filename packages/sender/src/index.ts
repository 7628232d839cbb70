export { runWorker, type Outcome, type WorkerOptions, type WorkerReport } from "./worker.ts";
export * from "./send-handler.ts";
