/** Text made safe for HTML content and attribute values. */
export function escape(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Marks a string as already-built HTML, so `html` does not escape it again. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** A tagged template that escapes every value but `Html` (and arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, index) => {
    const parts = Array.isArray(value) ? value : [value];
    for (const part of parts) out += part instanceof Html ? part.text : escape(part ?? '');
    out += strings[index + 1]!;
  });
  return new Html(out);
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#fff;text-decoration:none}header strong{margin-right:16px}
main{padding:16px 24px;max-width:1200px}
table{border-collapse:collapse;background:#fff;width:100%;margin:8px 0 16px}
th,td{border:1px solid #d8dde3;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5}pre{background:#fff;border:1px solid #d8dde3;padding:8px;overflow:auto;white-space:pre-wrap}
textarea{width:100%;min-height:140px;font:13px monospace}
.up{color:#1a7f37}.down{color:#c62828}.degraded{color:#b26a00}.notice{background:#e7f5e9;border:1px solid #1a7f37;padding:8px;margin:8px 0}
.error{background:#fdecea;border:1px solid #c62828;padding:8px;margin:8px 0}
form.inline{display:inline}button{margin:2px 4px 2px 0;padding:4px 10px}
`;

/** A whole page: the navigation, the title and `body`. */
export function page(title: string, body: Html): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${title} · omnibus console</title>
        <style>
          ${new Html(STYLE)}
        </style>
      </head>
      <body>
        <header>
          <strong>omnibus console</strong><a href="/">Dead letters</a><a href="/schedules">Scheduled</a
          ><a href="/sagas">Sagas</a><a href="/health">Health</a>
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`.text;
}
