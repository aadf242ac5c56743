// The anchors of the troubleshooting page, read from docs/troubleshooting.md when the UI is
// built (ui/docs-page.ts): a diagnostic kind the page documents is linked to its section.
import anchors from 'virtual:troubleshooting-anchors';

export const TROUBLESHOOTING_ANCHORS: ReadonlySet<string> = new Set(anchors);
