import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RewritingStream } from "parse5-html-rewriting-stream";

/** The part of parse5's start-tag token used here (its type lives in parse5-sax-parser). */
interface StartTag {
  tagName: string;
  attrs: ReadonlyArray<{ name: string; value: string; prefix?: string }>;
  sourceCodeLocation?: {
    startOffset: number;
    attrs?: Record<string, { startOffset: number; endOffset: number }>;
  } | null;
}

/** A link index must fit a click token (two bytes). Links beyond it stay untracked. */
export const MAX_TRACKED_LINKS = 0xffff;

export interface TrackingPlanOptions {
  /** Rewrite http(s) links into click redirects. */
  clicks: boolean;
  /** Insert one open pixel. */
  opens: boolean;
  /**
   * URLs that stay as written even when clicks are tracked: the message's `List-Unsubscribe`
   * targets, so an unsubscribe never depends on the tracker (and a scanner's visit to it is
   * not reported as a click).
   */
  untrackedUrls?: Iterable<string>;
}

/** Where each recipient's own tracking URLs go. */
export interface TrackingUrls {
  /** The open pixel's `src`. */
  open: string;
  /** The redirect for link number `index` (its position in `TrackingPlan.links`). */
  click: (index: number) => string;
}

type Segment = string | { link: number } | { pixel: true };

/**
 * The HTML split once at the points that differ per recipient. `render` only joins strings,
 * so a message to 100 recipients is parsed once.
 */
export class TrackingPlan {
  readonly #segments: readonly Segment[];
  /** The tracked links in document order; a click token carries the index into this list. */
  readonly links: readonly string[];
  readonly hasPixel: boolean;

  constructor(segments: readonly Segment[], links: readonly string[]) {
    this.#segments = segments;
    this.links = links;
    this.hasPixel = segments.some((segment) => typeof segment === "object" && "pixel" in segment);
  }

  /** True when there is nothing to track: the recipients can all get the original bytes. */
  get empty(): boolean {
    return this.links.length === 0 && !this.hasPixel;
  }

  render(urls: TrackingUrls): string {
    let html = "";
    for (const segment of this.#segments) {
      if (typeof segment === "string") html += segment;
      else if ("link" in segment) html += escapeAttribute(urls.click(segment.link));
      else html += pixelTag(urls.open);
    }
    return html;
  }
}

/**
 * Finds the links to track and the pixel's place with parse5's rewriting stream. Every token is
 * kept as its raw source text; a tracked link changes only the characters of its `href` value
 * (quotes, attribute order, entities and whitespace elsewhere are untouched), and the pixel goes
 * right before the first `</body>` (at the end when there is none).
 */
export async function planTracking(
  html: string,
  options: TrackingPlanOptions,
): Promise<TrackingPlan> {
  const untracked = new Set<string>();
  for (const url of options.untrackedUrls ?? []) {
    const parsed = trackableUrl(url);
    if (parsed !== undefined) untracked.add(parsed);
  }
  const segments: Segment[] = [];
  const links: string[] = [];
  let pixelPlaced = !options.opens;

  // Output is cut from the input by the tokens' source offsets, so every byte the tokenizer
  // passes over unchanged (or drops, like a tag cut off by the end of input) is kept as written.
  let copied = 0;
  const copyUntil = (offset: number): void => {
    if (offset > copied) segments.push(html.slice(copied, offset));
    copied = Math.max(copied, offset);
  };
  const rewriter = new RewritingStream();
  rewriter.on("startTag", (tag: StartTag) => {
    const href = options.clicks && links.length < MAX_TRACKED_LINKS ? linkHref(tag) : undefined;
    const url = href === undefined ? undefined : trackableUrl(href.value);
    if (href === undefined || url === undefined || untracked.has(url)) return;
    const value = attributeValue(html.slice(href.start, href.end));
    copyUntil(href.start + value.start);
    segments.push({ link: links.length });
    copied = href.start + value.end;
    links.push(url);
  });
  rewriter.on(
    "endTag",
    (tag: { tagName: string; sourceCodeLocation?: { startOffset: number } | null }) => {
      if (pixelPlaced || tag.tagName !== "body" || !tag.sourceCodeLocation) return;
      copyUntil(tag.sourceCodeLocation.startOffset);
      segments.push({ pixel: true });
      pixelPlaced = true;
    },
  );

  // The listeners only record positions; the stream's own output (the unchanged source) is drained.
  await pipeline(Readable.from([html]), rewriter, async (output: AsyncIterable<unknown>) => {
    for await (const chunk of output) void chunk;
  });
  copyUntil(html.length);
  if (!pixelPlaced) segments.push({ pixel: true });
  return new TrackingPlan(mergeStrings(segments), links);
}

/** The URL a browser would follow, when it is absolute http(s); undefined otherwise. */
export function trackableUrl(href: string): string | undefined {
  // Browsers strip leading/trailing C0 controls and spaces before parsing an href.
  // eslint-disable-next-line no-control-regex
  const trimmed = href.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "");
  if (!/^https?:/i.test(trimmed)) return undefined;
  try {
    const url = new URL(trimmed);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function linkHref(tag: StartTag): { value: string; start: number; end: number } | undefined {
  if (tag.tagName !== "a" && tag.tagName !== "area") return undefined;
  const attribute = tag.attrs.find((attr) => attr.name === "href" && attr.prefix === undefined);
  const location = tag.sourceCodeLocation?.attrs?.href;
  if (attribute === undefined || location === undefined) return undefined;
  return { value: attribute.value, start: location.startOffset, end: location.endOffset };
}

/** Where the value sits inside `href=...` as written: quoted, unquoted or empty. */
function attributeValue(attribute: string): { start: number; end: number } {
  const equals = attribute.indexOf("=");
  let start = equals + 1;
  while (/\s/.test(attribute[start] ?? "")) start += 1;
  const quote = attribute[start];
  if (quote === '"' || quote === "'") return { start: start + 1, end: attribute.length - 1 };
  return { start, end: attribute.length };
}

function pixelTag(src: string): string {
  return `<img src="${escapeAttribute(src)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">`;
}

function escapeAttribute(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

function mergeStrings(segments: readonly Segment[]): Segment[] {
  const merged: Segment[] = [];
  for (const segment of segments) {
    const last = merged.at(-1);
    if (typeof segment === "string" && typeof last === "string")
      merged[merged.length - 1] = last + segment;
    else merged.push(segment);
  }
  return merged;
}
