import type { TraceDetail } from '../types.js';

// "Download JSON": the trace as the UI read it from the API (every page merged into one span
// tree), saved as a file, for a bug report or a diff.

export function DownloadTrace({ trace, complete }: { trace: TraceDetail; complete: boolean }) {
  const save = () => {
    const body = JSON.stringify({ ...trace, next_cursor: null }, null, 2);
    const url = URL.createObjectURL(new Blob([body], { type: 'application/json' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `trace-${trace.trace_id}.json`;
    document.body.append(link);
    link.click();
    link.remove();
    // The browser has taken the file once the click is handled.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  };
  return (
    <button
      type="button"
      data-testid="download-trace"
      disabled={!complete}
      title={complete ? undefined : 'Waiting for the rest of the trace'}
      onClick={save}
    >
      Download JSON
    </button>
  );
}
