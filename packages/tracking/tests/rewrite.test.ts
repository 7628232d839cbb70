import { parse, serialize, type DefaultTreeAdapterMap } from "parse5";
import { describe, expect, it } from "vitest";
import { planTracking, trackableUrl, type TrackingPlan } from "../src/index.ts";

type Node = DefaultTreeAdapterMap["node"];
type Element = DefaultTreeAdapterMap["element"];

const OPEN = "https://t.example/t/o/OPEN";
const click = (index: number): string => `https://t.example/t/c/CLICK${index}`;
const urls = { open: OPEN, click };

async function track(html: string, options: Partial<Parameters<typeof planTracking>[1]> = {}) {
  const plan = await planTracking(html, { clicks: true, opens: true, ...options });
  return { plan, html: plan.render(urls) };
}

function elements(node: Node): Element[] {
  const found: Element[] = [];
  const visit = (current: Node): void => {
    if ("tagName" in current) found.push(current);
    const children = "childNodes" in current ? current.childNodes : [];
    const content = "content" in current ? [current.content as Node] : [];
    for (const child of [...children, ...content]) visit(child);
  };
  visit(node);
  return found;
}

/** Links written the way a browser reads them, so both sides compare alike. */
function normalised(html: string): string {
  const document = parse(html);
  for (const element of elements(document)) {
    for (const attribute of element.attrs) {
      if (attribute.name === "href")
        attribute.value = trackableUrl(attribute.value) ?? attribute.value;
    }
  }
  return serialize(document);
}

/**
 * Parses the tracked HTML, takes the pixel out and puts each tracked href back to the stored
 * link, then serialises: the result must equal the original document's serialisation.
 */
function untrack(tracked: string, plan: TrackingPlan): string {
  const document = parse(tracked);
  for (const element of elements(document)) {
    if (
      element.tagName === "img" &&
      element.attrs.some((a) => a.name === "src" && a.value === OPEN)
    ) {
      const parent = element.parentNode!;
      parent.childNodes.splice(parent.childNodes.indexOf(element), 1);
    }
    for (const attribute of element.attrs) {
      const match = /^https:\/\/t\.example\/t\/c\/CLICK(\d+)$/.exec(attribute.value);
      if (attribute.name === "href" && match) attribute.value = plan.links[Number(match[1])]!;
    }
  }
  return normalised(serialize(document));
}

const NEWSLETTER = [
  "<!DOCTYPE html>\r\n",
  "<html lang=en><head><meta charset='utf-8'><title>Hi &amp; welcome</title>\r\n",
  '<style>a[href^="https"] { color: red }</style></head>\r\n',
  '<BODY class="x"><!-- a comment with </body> and <a href="https://no.example/"> inside -->\r\n',
  "<p>Read <A HREF = 'https://example.com/a?x=1&amp;y=2' class=c>this</A>,",
  ' <a class=b href=https://example.com/b>that</a>, <a href="  HTTP://Example.com/C#frag ">upper</a>',
  ' and <a href="https://example.com/a?x=1&amp;y=2">the same again</a>.</p>\r\n',
  '<p><a href="mailto:me@example.com">mail</a> <a href="tel:+15551234">call</a>',
  ' <a href="#top">top</a> <a href="/relative">rel</a> <a href="javascript:void(0)">js</a>',
  ' <a href="ftp://example.com/f">ftp</a> <a name=anchor>no href</a></p>\r\n',
  '<map><area shape=rect coords=0,0,1,1 href="https://example.com/area"></map>\r\n',
  "<script>var s = '<a href=\"https://script.example/\">'; // </body></script>\r\n",
  '<textarea><a href="https://textarea.example/"></textarea>\r\n',
  '<svg><a href="https://example.com/svg"><text>svg</text></a></svg>\r\n',
  "<p>caf\u00e9 \u2603 &nbsp; &copy; &#x1F600; unclosed <b>bold <i>both</b> end\r\n",
  '<p><a href="https://unsubscribe.example/u?id=1">unsubscribe</a></p>\r\n',
  "</BODY>\r\n</html>\r\n",
].join("");

describe("planTracking", () => {
  it("keeps the document identical apart from the tracked hrefs and the one pixel", async () => {
    const { plan, html } = await track(NEWSLETTER, {
      untrackedUrls: ["https://unsubscribe.example/u?id=1"],
    });
    expect(plan.links).toEqual([
      "https://example.com/a?x=1&y=2",
      "https://example.com/b",
      "http://example.com/C#frag",
      "https://example.com/a?x=1&y=2",
      "https://example.com/area",
      "https://example.com/svg",
    ]);
    expect(untrack(html, plan)).toBe(normalised(NEWSLETTER));
    // Exactly one pixel, and it sits right before the real </BODY>, not the one in the comment.
    expect(html.split(OPEN)).toHaveLength(2);
    expect(html).toMatch(/<img src="https:\/\/t\.example\/t\/o\/OPEN"[^>]*>\r?\n?<\/BODY>/);
  });

  it("changes only the characters of each tracked href value, byte for byte elsewhere", async () => {
    const { plan } = await track(NEWSLETTER, { opens: false });
    // Rendering each tracked link as itself (escaped as the source wrote it) gives back the input.
    const same = plan.render({ open: OPEN, click: (index) => plan.links[index]! });
    expect(same).toBe(
      NEWSLETTER.replace("  HTTP://Example.com/C#frag ", "http://example.com/C#frag"),
    );
  });

  it("leaves mailto:, tel:, anchors, relative and List-Unsubscribe links alone", async () => {
    const { html } = await track(NEWSLETTER, {
      untrackedUrls: ["<https://unsubscribe.example/u?id=1>".slice(1, -1)],
    });
    for (const kept of [
      'href="mailto:me@example.com"',
      'href="tel:+15551234"',
      'href="#top"',
      'href="/relative"',
      'href="javascript:void(0)"',
      'href="ftp://example.com/f"',
      'href="https://unsubscribe.example/u?id=1"',
      '<a href="https://script.example/">',
      '<a href="https://textarea.example/">',
      '<a href="https://no.example/">',
    ]) {
      expect(html).toContain(kept);
    }
  });

  it("returns the input unchanged when nothing is tracked, whatever its bytes", async () => {
    const inputs = [
      NEWSLETTER,
      "\uFEFF<p>BOM first</p>",
      "plain words, no tags at all",
      '<p>unterminated <a href="https://x.example/',
      "<p>nul \u0000 char</p><!-- unterminated comment",
      "<table><tr><td>cell<td>cell</table><a href='mailto:x@y'>m</a>",
    ];
    for (const input of inputs) {
      const plan = await planTracking(input, { clicks: false, opens: false });
      expect(plan.empty).toBe(true);
      expect(plan.render(urls)).toBe(input);
    }
  });

  it("puts the pixel at the end when there is no </body>, and once only", async () => {
    const { html, plan } = await track("<p>Hello <a href=https://x.example>x</a>");
    expect(html).toBe(
      `<p>Hello <a href=${click(0)}>x</a><img src="${OPEN}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">`,
    );
    expect(plan.links).toEqual(["https://x.example/"]);
    const twoBodies = await track("<body><p>a</p></body></body>");
    expect(twoBodies.html.split(OPEN)).toHaveLength(2);
  });

  it("tracks clicks without a pixel, or a pixel without clicks, as asked", async () => {
    const clicksOnly = await track(NEWSLETTER, { opens: false });
    expect(clicksOnly.html).not.toContain(OPEN);
    expect(clicksOnly.plan.hasPixel).toBe(false);
    const opensOnly = await track(NEWSLETTER, { clicks: false });
    expect(opensOnly.plan.links).toEqual([]);
    expect(opensOnly.html.replace(/<img src="https:\/\/t\.example\/t\/o\/OPEN"[^>]*>/, "")).toBe(
      NEWSLETTER,
    );
  });

  it("escapes what it writes into attributes", async () => {
    const plan = await planTracking('<a href="https://x.example">x</a>', {
      clicks: true,
      opens: true,
    });
    const html = plan.render({
      open: 'https://t.example/o?a=1&b="2"',
      click: () => "https://t.example/c?a=1&b='2'",
    });
    expect(html).toContain('href="https://t.example/c?a=1&amp;b=&#39;2&#39;"');
    expect(html).toContain('src="https://t.example/o?a=1&amp;b=&quot;2&quot;"');
  });
});

describe("trackableUrl", () => {
  it("accepts absolute http(s) URLs as a browser would read them, nothing else", () => {
    expect(trackableUrl(" \t https://Example.COM/a b \n")).toBe("https://example.com/a%20b");
    expect(trackableUrl("HTTP://example.com")).toBe("http://example.com/");
    expect(trackableUrl("https://exa\nmple.com/")).toBe("https://example.com/");
    for (const other of [
      "mailto:a@b",
      "tel:1",
      "#x",
      "/path",
      "//example.com/x",
      "javascript:alert(1)",
      "https://",
      "data:text/html,x",
    ]) {
      expect(trackableUrl(other)).toBeUndefined();
    }
  });
});
