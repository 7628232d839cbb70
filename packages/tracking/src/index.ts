export {
  MAX_STORED_USER_AGENT,
  QUICK_CLICK_MS,
  TRACKING_LABELS,
  ipPrefix,
  labelRequest,
  type TrackingLabel,
  type TrackingRequest,
} from "./label.ts";
export { TRACKING_PIXEL_GIF } from "./pixel.ts";
export {
  MAX_TRACKED_LINKS,
  TrackingPlan,
  planTracking,
  trackableUrl,
  type TrackingPlanOptions,
  type TrackingUrls,
} from "./rewrite.ts";
export {
  InvalidTrackingSecretError,
  MIN_TRACKING_SECRET_BYTES,
  TrackingKeys,
  type TrackingTarget,
} from "./token.ts";
