import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** How often pages refresh: 2 s, or sessionStorage `sluice.pollMs` (the browser tests shorten it). */
export function pollInterval(): number {
  const override = Number(sessionStorage.getItem('sluice.pollMs'));
  return Number.isFinite(override) && override >= 200 ? override : 2000;
}

export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  /** Load again now (after an action). */
  readonly refresh: () => void;
}

/**
 * Loads `load()` now and every few seconds while the page is shown (not while the tab is hidden),
 * keeping the last good answer while a refresh fails. `deps` restart it.
 */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], live = true): Polled<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const refresh = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    setState({ data: undefined, error: undefined, loading: true });
  }, deps);

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const data = await loadRef.current(controller.signal);
        if (!controller.signal.aborted) setState({ data, error: undefined, loading: false });
      } catch (error) {
        if (!controller.signal.aborted) setState((s) => ({ data: s.data, error, loading: false }));
      }
      if (live && !controller.signal.aborted) timer = setTimeout(() => void whenVisible(run), pollInterval());
    };
    void run();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, refresh };
}

/** Runs `f` now, or when the tab is next shown. */
function whenVisible(f: () => Promise<void>): Promise<void> {
  if (document.visibilityState !== 'hidden') return f();
  return new Promise((resolve) => {
    const onShow = () => {
      document.removeEventListener('visibilitychange', onShow);
      void f().then(resolve);
    };
    document.addEventListener('visibilitychange', onShow);
  });
}
