import { Marked, type Tokens } from 'marked';

// docs/troubleshooting.md as a page of the web UI (dist/ui/docs/troubleshooting.html), built
// with it: the collector serves the troubleshooting of its own version, offline, and the UI's
// diagnostics link to its sections (ui/src/troubleshooting-links.ts).

/** Where the docs' links to other pages of the repository lead (they are not served). */
const REPOSITORY = 'https://github.com/raceway-dev/raceway/blob/main/docs/';

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .trim()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/**
 * The page's HTML. Every heading has GitHub's anchor (the links of docs/ keep working), and a
 * heading that names diagnostic kinds (`callee_missing`) has each kind as an anchor too: the
 * UI links by kind, which does not change when the heading's wording does.
 */
export function renderTroubleshooting(markdown: string): string {
  const marked = new Marked({
    renderer: {
      heading({ tokens, depth, text }: Tokens.Heading) {
        const kinds = tokens.flatMap((t) => (t.type === 'codespan' ? [t.text] : []));
        const anchors = kinds
          .slice(1)
          .map((kind) => `<a id="${escapeHtml(kind)}"></a>`)
          .join('');
        const id = kinds[0] ?? slug(text);
        const alias = kinds[0] ? `<a id="${escapeHtml(slug(text))}"></a>` : '';
        return `<h${depth} id="${escapeHtml(id)}">${alias}${anchors}${this.parser.parseInline(tokens)}</h${depth}>\n`;
      },
      link({ href, title, tokens }: Tokens.Link) {
        const external = /^[a-z]+:/i.test(href) || href.startsWith('#');
        const target = external ? href : `${REPOSITORY}${href}`;
        const titled = title ? ` title="${escapeHtml(title)}"` : '';
        return `<a href="${escapeHtml(target)}"${titled}>${this.parser.parseInline(tokens)}</a>`;
      },
    },
  });
  const body = marked.parse(markdown, { async: false });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Troubleshooting · Raceway</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }
code { font: 0.9em ui-monospace, monospace; background: #f0f2f4; padding: 0.1em 0.3em; border-radius: 4px; }
table { border-collapse: collapse; } td, th { border: 1px solid #d0d7de; padding: 0.3em 0.6em; vertical-align: top; }
:target { background: #fff8c5; }
nav a { margin-right: 1rem; }
</style>
</head>
<body>
<nav><a href="/">Raceway</a></nav>
<main>
${body}</main>
</body>
</html>
`;
}

/** The anchors of a rendered page (its elements' ids). */
export function anchorsOf(html: string): string[] {
  return [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]!);
}
