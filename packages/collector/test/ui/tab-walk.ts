import type { Page } from 'playwright-core';

// Walks a page's Tab order as a keyboard user does: every element the browser lets Tab focus
// (tabIndex >= 0, not disabled, rendered, not inert; SVG elements with a tabindex too) is
// collected, then Tab is pressed from the top of the page and the focused element read after
// each press. Elements kept out of the Tab order on purpose (tabIndex -1: the rows and
// controls of a grid the arrow keys move through) are no stops; the widget that manages them
// must be one.

// The page's globals, in the functions this file runs in the browser (the package is typed
// for Node, without the DOM).
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not this package's
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: as above
declare const window: any;

export interface TabWalk {
  /** Every element Tab should reach, described as {@link describeInPage} does. */
  focusable: string[];
  /** Those no Tab press focused. */
  missed: string[];
  /**
   * Elements kept out of the Tab order that no reached widget manages: an interactive element
   * with tabIndex -1 whose composite ancestor (grid, listbox, tree…) is not reached either.
   */
  orphaned: string[];
  /** The element that kept the focus press after press, when one did (a focus trap). */
  trappedOn: string | null;
  /** What each press focused ("(page)" when the focus left the document's elements). */
  stops: string[];
}

/** More presses than focusable elements: a date-time field is six stops, a scroller one. */
const EXTRA_PRESSES = 20;
/** Presses on one element that make a trap: a date-time field's six parts are six presses. */
const TRAP_PRESSES = 8;

/**
 * Installs `window.__tabWalk` in the page: the focusable elements as of now, how to describe
 * one, and a record of what each press focused.
 */
function installInPage(): number {
  // Composite widgets: they hold the focus and move it (or a selection) among their items.
  const COMPOSITE =
    '[role=grid],[role=treegrid],[role=listbox],[role=tree],[role=menu],[role=menubar],[role=tablist],[role=radiogroup],[role=toolbar]';
  const INTERACTIVE =
    'a[href],button,input,select,textarea,summary,[role=button],[role=link],[role=checkbox],[role=row],[role=option],[role=treeitem],[role=tab],[role=menuitem]';
  // biome-ignore lint/suspicious/noExplicitAny: a DOM element
  type El = any;
  const rendered = (el: El) =>
    el.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true }) &&
    el.closest('[inert]') === null;
  const focusable = (el: El) => el.tabIndex >= 0 && !el.matches(':disabled') && rendered(el);

  /** `tag#id.class[data-testid=…] "name"` under its nearest landmark, section or widget. */
  const describe = (el: El): string => {
    if (!el || el === document.body || el === document.documentElement) return '(page)';
    const part = (e: El) => {
      let text = e.localName;
      if (e.id) text += `#${e.id}`;
      for (const c of [...e.classList].slice(0, 2)) text += `.${c}`;
      for (const attr of ['data-testid', 'name', 'role', 'data-service', 'data-event-id']) {
        const value = e.getAttribute(attr);
        if (value) text += `[${attr}=${value}]`;
      }
      return text;
    };
    const name = (el.getAttribute('aria-label') ?? el.getAttribute('title') ?? el.textContent ?? '')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 40);
    const landmark = el.parentElement?.closest(
      `header,nav,main h1 ~ *,section[aria-label],aside,form,[data-testid],${COMPOSITE}`,
    );
    return `${landmark ? `${part(landmark)} > ` : ''}${part(el)}${name ? ` "${name}"` : ''}`;
  };

  const elements: El[] = [...document.querySelectorAll('*')].filter(focusable);
  const seen = new Set<El>();
  // Kept out of the Tab order while interactive: a composite ancestor must take the focus.
  const orphans = [...document.querySelectorAll(INTERACTIVE)]
    .filter((el: El) => el.tabIndex < 0 && !el.matches(':disabled') && rendered(el))
    .map((el: El) => ({ el, widget: el.closest(COMPOSITE) }));
  window.__tabWalk = {
    elements,
    describe,
    /** Notes the focused element; answers its description. */
    record(): string {
      const active = document.activeElement;
      seen.add(active);
      return describe(active);
    },
    missed: (): string[] => elements.filter((el: El) => !seen.has(el)).map(describe),
    orphaned: (): string[] =>
      orphans
        .filter(({ widget }: El) => widget === null || ![...seen].some((s) => widget.contains(s)))
        .map(({ el }: El) => describe(el)),
  };
  return elements.length;
}

/**
 * Walks the Tab order of the page as it is now. The focus is first taken back to the top of
 * the page, as after a load.
 */
export async function walkTabOrder(page: Page): Promise<TabWalk> {
  const count = await page.evaluate(installInPage);
  await page.evaluate(() => {
    // Focusing the body makes the top of the page the point sequential navigation starts
    // from, whatever was focused or clicked before; the tabindex it takes for that is taken
    // back at once (the body is no Tab stop).
    const body = document.body;
    body.tabIndex = -1;
    body.focus();
    body.removeAttribute('tabindex');
    window.scrollTo(0, 0);
  });
  const stops: string[] = [];
  let trappedOn: string | null = null;
  let run = 0;
  for (let press = 0; press < count + EXTRA_PRESSES; press += 1) {
    await page.keyboard.press('Tab');
    const stop = await page.evaluate(() => window.__tabWalk.record() as string);
    run = stop === stops.at(-1) ? run + 1 : 1;
    stops.push(stop);
    if (run >= TRAP_PRESSES && stop !== '(page)') {
      trappedOn = stop;
      break;
    }
    // Everything reached, and the walk came back round to the page: nothing more to see.
    if (stop === '(page)' && (await page.evaluate(() => window.__tabWalk.missed().length)) === 0)
      break;
  }
  const { focusable, missed, orphaned } = await page.evaluate(() => ({
    focusable: window.__tabWalk.elements.map(window.__tabWalk.describe) as string[],
    missed: window.__tabWalk.missed() as string[],
    orphaned: window.__tabWalk.orphaned() as string[],
  }));
  return { focusable, missed, orphaned, trappedOn, stops };
}
