import { useEffect, useState } from 'preact/hooks';
import { type ApiError, apiGet, useKeyState } from './api.js';
import { mergePages, outlineSpans } from './trace-pages.js';
import type { Span, TraceDetail, TraceOutline } from './types.js';

// A trace opens with its outline (its spans without their events: small, the first screen's
// waterfall), then its events come in pages (`next_cursor`, up to 5,000 events each). The UI
// reads every page, up to MAX_EVENTS, and merges the span trees of the outline and the pages
// into one: a span whose events fall on two pages appears on both.

const PAGE = 5000;
const MAX_EVENTS = 200_000;

export interface LoadedTrace {
  data: TraceDetail | null;
  error: ApiError | null;
  /** More events are stored than the UI read (MAX_EVENTS). */
  cut: boolean;
  /** Pages are still coming: the view shows what has arrived. */
  loadingMore: boolean;
}

export function useTrace(traceId: string): LoadedTrace {
  const { version } = useKeyState();
  const [state, setState] = useState<LoadedTrace>({
    data: null,
    error: null,
    cut: false,
    loadingMore: false,
  });
  useEffect(() => {
    const controller = new AbortController();
    setState({ data: null, error: null, cut: false, loadingMore: false });
    (async () => {
      const base = `/api/traces/${encodeURIComponent(traceId)}`;
      // Both asked at once: the collector builds them one after the other, the outline first.
      const outline = apiGet<TraceOutline>(`${base}/outline`, controller.signal);
      const firstPage = apiGet<TraceDetail>(`${base}?limit=${PAGE}`, controller.signal);
      firstPage.catch(() => {}); // Awaited below; an outline that fails is the error shown.
      const { spans: outlineTree, events_read: _, cut: outlineCut, ...summary } = await outline;
      const pages: Span[][] = [outlineSpans(outlineTree)];
      const show = (more: boolean, cut: boolean) =>
        setState({
          data: {
            ...summary,
            spans: mergePages(pages),
            events_returned: 0,
            next_cursor: null,
          },
          error: null,
          cut,
          loadingMore: more,
        });
      // The first screen: the waterfall of every span, before any event arrived.
      show(true, outlineCut);
      let cursor: string | null | undefined = null;
      let events = 0;
      do {
        const page: TraceDetail = cursor
          ? await apiGet(
              `${base}?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`,
              controller.signal,
            )
          : await firstPage;
        pages.push(page.spans);
        events += page.events_returned;
        cursor = page.next_cursor;
        const more = !!cursor && events < MAX_EVENTS;
        show(more, outlineCut || (!!cursor && !more));
      } while (cursor && events < MAX_EVENTS);
    })().catch((error: ApiError) => {
      if (error.name !== 'AbortError')
        setState({ data: null, error, cut: false, loadingMore: false });
    });
    return () => controller.abort();
  }, [traceId, version]);
  return state;
}
