// Data loading for pages: one call's state (loading, error, value), reloadable, optionally polled.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api/client";

export interface Loaded<T> {
  value: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[], pollMs = 0): Loaded<T> {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const next = await load();
      if (mine === generation.current) {
        setValue(next);
        setError(undefined);
      }
    } catch (e) {
      if (mine === generation.current) setError(e);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    setLoading(true);
    setValue(undefined);
    void reload();
  }, [reload]);
  useEffect(() => {
    if (!pollMs) return;
    const timer = setInterval(() => void reload(), pollMs);
    return () => clearInterval(timer);
  }, [reload, pollMs]);
  return { value, error, loading, reload };
}

/** Cursor pages: the cursor of each page seen, so "Previous" goes back without the API's help. */
export function useCursorPages(): {
  cursor: string | null;
  page: number;
  next: (cursor: string | null) => void;
  previous: () => void;
  reset: () => void;
} {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  return {
    cursor: stack[stack.length - 1],
    page: stack.length,
    next: (cursor) => cursor && setStack([...stack, cursor]),
    previous: () => stack.length > 1 && setStack(stack.slice(0, -1)),
    reset: () => setStack([null]),
  };
}

/** A user action's state: which one runs (to disable buttons), and its error (with field messages). */
export function useAction() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState("");
  const run = async (what: string, action: () => Promise<unknown>): Promise<boolean> => {
    setBusy(what);
    setError(null);
    try {
      await action();
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy("");
    }
  };
  const fields: Record<string, string> = error instanceof ApiError ? error.fields : {};
  return { error, busy, run, fields };
}
