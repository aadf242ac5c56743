import { useEffect, useState } from 'preact/hooks';
import { type ApiError, apiGet } from './api.js';
import { href } from './router.js';

// The pages of a cursor-paged listing after its first one, loaded on demand ("Load more").
// The first page is polled by the view; the older pages are kept as loaded until the listing's
// path (its filters) changes.

interface Page<T> {
  items: T[];
  next: string | null;
}

export interface OlderPages<T> {
  items: T[];
  /** The cursor of the next page to load, or null when everything is loaded. */
  next: string | null;
  loading: boolean;
  error: ApiError | null;
  loadMore(): void;
}

/**
 * @param path the listing's URL without a cursor
 * @param firstNext the `next_cursor` of the polled first page (undefined while it loads)
 * @param read what one page of the listing holds
 * @param key what the loaded pages belong to (default `path`): a sliding time range changes
 *   the path every minute, not the listing the older pages continue
 */
export function useOlderPages<T, P>(
  path: string,
  firstNext: string | null | undefined,
  read: (page: P) => Page<T>,
  key: string = path,
): OlderPages<T> {
  const [state, setState] = useState<{ path: string; pages: Page<T>[] }>({
    path: key,
    pages: [],
  });
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const pages = state.path === key ? state.pages : [];
  useEffect(() => {
    setState({ path: key, pages: [] });
    setError(null);
  }, [key]);

  const last = pages[pages.length - 1];
  const next = last ? last.next : (firstNext ?? null);
  const loadMore = () => {
    if (next === null || loading) return;
    const [base, query] = path.split('?') as [string, string | undefined];
    const params = Object.fromEntries(new URLSearchParams(query ?? ''));
    setLoading(true);
    apiGet<P>(href(base, { ...params, cursor: next }))
      .then((answer) => {
        const page = read(answer);
        setState((s) => (s.path === key ? { path: key, pages: [...s.pages, page] } : s));
        setError(null);
      })
      .catch((e: ApiError) => setError(e))
      .finally(() => setLoading(false));
  };
  return { items: pages.flatMap((p) => p.items), next, loading, error, loadMore };
}
