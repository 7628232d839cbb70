/** The one open pixel: a transparent 1×1 GIF (42 bytes), the same answer for every token. */
export const TRACKING_PIXEL_GIF: Buffer = Buffer.from(
  "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7",
  "base64",
);
