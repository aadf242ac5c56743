import { useEffect, useRef, useState } from 'preact/hooks';

// Every call to the query API goes through here: it sends the read key (README "How the web UI
// sends the key": Authorization: Bearer, kept in sessionStorage under raceway.key) and turns
// answers into errors that say what to do.

const KEY_STORAGE = 'raceway.key';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const listeners = new Set<Listener>();
let keyWanted = false;
let keyVersion = 0;
/** Since when (epoch ms) the collector has not answered, or null while it answers. */
let unreachableSince: number | null = null;

function notify() {
  for (const listener of listeners) listener();
}

export function storedKey(): string | null {
  try {
    return window.sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

/** Keeps the key for this tab and retries every view's calls with it. */
export function setKey(key: string): void {
  window.sessionStorage.setItem(KEY_STORAGE, key);
  keyWanted = false;
  keyVersion += 1;
  notify();
}

/** Whether the collector asked for a key, and a counter that changes when one is given. */
export function useKeyState(): { wanted: boolean; version: number } {
  const [, force] = useState(0);
  useEffect(() => {
    const listener = () => force((n) => n + 1);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return { wanted: keyWanted, version: keyVersion };
}

/**
 * Whether the collector answers: since when it has not (epoch ms), or null. Every call
 * updates it, so the views' refreshes notice both the collector going away and coming back.
 */
export function useReachability(): number | null {
  useKeyState();
  return unreachableSince;
}

function setReachable(reachable: boolean): void {
  if (reachable === (unreachableSince === null)) return;
  unreachableSince = reachable ? null : Date.now();
  notify();
}

/** GET `path` (under /api) as JSON. */
export async function apiGet<T>(path: string, signal?: AbortSignal): Promise<T> {
  const key = storedKey();
  let response: Response;
  try {
    response = await fetch(path, {
      headers: key ? { authorization: `Bearer ${key}`, accept: 'application/json' } : {},
      signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    setReachable(false);
    throw new ApiError(
      0,
      'unreachable',
      'The collector cannot be reached. Is it still running? Start it with `npx raceway serve`, then retry.',
    );
  }
  // A proxy in front of a stopped collector answers 502 or 504 itself.
  setReachable(response.status !== 502 && response.status !== 504);
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  if (!response.ok) {
    const { error, message } = (body ?? {}) as { error?: string; message?: string };
    if (response.status === 401) {
      if (!keyWanted) {
        keyWanted = true;
        notify();
      }
      throw new ApiError(401, error ?? 'unauthorized', 'This collector needs a read key.');
    }
    throw new ApiError(
      response.status,
      error ?? 'http_error',
      message ?? `The collector answered HTTP ${response.status} to ${path}.`,
    );
  }
  return body as T;
}

export interface Resource<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
}

/**
 * Loads `path` (null: nothing to load) and reloads it when the path or the key changes, and
 * every `pollMs` while the page is visible. Keeps the last data while a reload runs.
 */
export function useApi<T>(
  path: string | null,
  {
    pollMs,
    keepWhileLoading = false,
  }: {
    pollMs?: number;
    /** Keep showing the previous path's data while a new path loads (a sliding time range). */
    keepWhileLoading?: boolean;
  } = {},
): Resource<T> {
  const { version } = useKeyState();
  const [state, setState] = useState<Resource<T>>({ data: null, error: null, loading: true });
  const pathRef = useRef(path);
  useEffect(() => {
    if (pathRef.current !== path) {
      pathRef.current = path;
      if (!keepWhileLoading) setState({ data: null, error: null, loading: true });
    }
    if (path === null) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const data = await apiGet<T>(path, controller.signal);
        setState({ data, error: null, loading: false });
      } catch (error) {
        if ((error as Error).name === 'AbortError') return;
        setState((previous) => ({ ...previous, error: error as ApiError, loading: false }));
      }
      if (pollMs !== undefined && !controller.signal.aborted) {
        timer = setTimeout(() => {
          if (document.visibilityState === 'visible') void load();
          else timer = setTimeout(load, pollMs);
        }, pollMs);
      }
    };
    void load();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [path, pollMs, version, keepWhileLoading]);
  return state;
}
