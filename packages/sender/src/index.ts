export { runWorker, type Outcome, type WorkerOptions, type WorkerReport } from "./worker.ts";
