import { useEffect, useRef, useState } from 'preact/hooks';
import { setKey } from '../api.js';

/** Asks for the collector's read key once, when an /api call answered 401. */
export function KeyPrompt() {
  const [value, setValue] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <div class="modal-backdrop">
      <form
        class="modal"
        aria-labelledby="key-title"
        onSubmit={(event) => {
          event.preventDefault();
          if (value.trim() !== '') setKey(value.trim());
        }}
      >
        <h2 id="key-title">Read key</h2>
        <p>
          This collector requires a key to read its data (<code>--read-key</code>, or an ingest key
          when no read key is set). It is kept for this tab only.
        </p>
        <input
          ref={input}
          type="password"
          autocomplete="off"
          aria-label="Read key"
          name="key"
          value={value}
          onInput={(event) => setValue((event.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit">Use key</button>
      </form>
    </div>
  );
}
