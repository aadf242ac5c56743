// Search within one trace: by service, route, span name or attribute (`key=value`); Enter and
// the arrows go from match to match, each unfolded, selected and scrolled into view.

export interface TraceSearchProps {
  query: string;
  count: number;
  /** The match being shown (0-based), and whether it is the selected span already. */
  at: number;
  shown: boolean;
  onQuery: (query: string) => void;
  onGo: (index: number) => void;
}

export function TraceSearch({ query, count, at, shown, onQuery, onGo }: TraceSearchProps) {
  // Enter goes to the match in the count first, then on from match to match.
  const next = shown ? at + 1 : at;
  return (
    <form
      class="trace-search"
      aria-label="Find in this trace"
      onSubmit={(event) => {
        event.preventDefault();
        onGo(next);
      }}
    >
      <label>
        Find in trace{' '}
        <input
          type="search"
          data-testid="trace-search"
          placeholder="service, route, span, key=value"
          value={query}
          onInput={(event) => onQuery((event.currentTarget as HTMLInputElement).value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter') {
              event.preventDefault();
              onGo(event.shiftKey ? at - 1 : next);
            }
          }}
        />
      </label>{' '}
      <span class="muted" data-testid="trace-search-count" aria-live="polite">
        {query === '' ? '' : count === 0 ? 'no match' : `${Math.min(at + 1, count)} of ${count}`}
      </span>{' '}
      <button
        type="button"
        disabled={count === 0}
        aria-label="Previous match"
        onClick={() => onGo(at - 1)}
      >
        ↑
      </button>
      <button
        type="button"
        disabled={count === 0}
        aria-label="Next match"
        onClick={() => onGo(next)}
      >
        ↓
      </button>
    </form>
  );
}
