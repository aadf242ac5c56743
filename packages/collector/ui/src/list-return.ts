// Where "Traces" leads back to: the trace list with the filters it had when a trace was opened
// from it (kept for this tab), so that the way back does not lose the search.

const KEY = 'raceway.traces-list';

export function rememberTracesList(search: string): void {
  try {
    window.sessionStorage.setItem(KEY, search);
  } catch {
    // Storage refused (private mode): the way back is the plain list.
  }
}

/** `/traces` with the filters last used in this tab. */
export function tracesListHref(): string {
  try {
    const search = window.sessionStorage.getItem(KEY);
    return search ? `/traces${search.startsWith('?') ? search : `?${search}`}` : '/traces';
  } catch {
    return '/traces';
  }
}
