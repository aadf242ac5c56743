import type { AnchorHTMLAttributes } from 'preact';
import { useEffect, useState } from 'preact/hooks';

// History routing: every view and every filter is a URL (/traces?service=order, /traces/<id>
// ?events=a,b). The collector answers any such path with index.html (src/web-ui.ts).

export interface Location {
  path: string;
  query: URLSearchParams;
}

const CHANGE = 'raceway:navigate';

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

/** Goes to `href` without a reload; `replace` for filter edits that should not pile up. */
export function navigate(href: string, { replace = false } = {}): void {
  if (href === `${window.location.pathname}${window.location.search}`) return;
  if (replace) window.history.replaceState(null, '', href);
  else window.history.pushState(null, '', href);
  window.dispatchEvent(new Event(CHANGE));
}

/** The current location; re-renders on navigation and on the browser's back/forward. */
export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => setLocation(current());
    window.addEventListener(CHANGE, update);
    window.addEventListener('popstate', update);
    return () => {
      window.removeEventListener(CHANGE, update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return location;
}

/** `path` with the given query parameters; empty and undefined values are left out. */
export function href(path: string, params: Record<string, string | number | undefined> = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') query.set(key, String(value));
  }
  const text = query.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** The query as a plain object, for editing one parameter and keeping the others. */
export function queryObject(query: URLSearchParams): Record<string, string> {
  return Object.fromEntries(query.entries());
}

type AnchorProps = AnchorHTMLAttributes<HTMLAnchorElement> & { href: string };

/** An <a> that navigates in the page (a modified click still opens a new tab). */
export function Link(props: AnchorProps) {
  const { href: to, onClick, ...rest } = props;
  return (
    <a
      {...rest}
      href={to}
      onClick={(event) => {
        onClick?.(event);
        if (event.defaultPrevented || event.button !== 0) return;
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    />
  );
}
