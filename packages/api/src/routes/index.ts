import type { RouteModule } from "../app.ts";
import { healthz } from "./healthz.ts";
import { listMessageEvents } from "./messages/events.ts";
import { getMessage } from "./messages/get.ts";
import { listMessages } from "./messages/list.ts";
import { retryMessage } from "./messages/retry.ts";
import { submitMessage } from "./messages/submit.ts";
import { openapi } from "./openapi.ts";
import { trackClick } from "./tracking/click.ts";
import { trackOpen } from "./tracking/open.ts";

/** Every route file; adding a route is one file and one line here. */
export const ROUTES: readonly RouteModule[] = [
  healthz,
  openapi,
  submitMessage,
  getMessage,
  listMessages,
  retryMessage,
  listMessageEvents,
  trackOpen,
  trackClick,
];
