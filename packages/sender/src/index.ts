export {
  runWorker,
  type Handler,
  type HandlerContext,
  type Outcome,
  type WorkerOptions,
  type WorkerReport,
} from "./worker.ts";
export * from "./send-handler.ts";
export * from "./sent-copy.ts";
export * from "./bounces.ts";
export { imapSettingsOf, type SecretOpener } from "./imap-settings.ts";
export * from "./service.ts";
export { startImapService, type ImapService, type ImapServiceOptions } from "./imap-service.ts";
