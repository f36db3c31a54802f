// A run's log: pages of lines, oldest first; while the run is running it follows new lines.
import { useEffect, useRef, useState } from "preact/hooks";
import type { LogLine } from "../api/compat";
import { runLogs } from "../api/jobs";
import { CheckField, ErrorNotice } from "../components/ui";
import { fmtTime } from "../lib/format";

interface Props {
  projectId: string;
  jobId: string;
  runId: string;
  follow: boolean;
}

const PAGE = 100;

export function LogViewer({ projectId, jobId, runId, follow }: Props) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [more, setMore] = useState(false);
  const [following, setFollowing] = useState(true);
  // Where the last page read started and how many of its lines are shown: a later read of that page
  // finds the lines written since.
  const tail = useRef<{ cursor: string | null; seen: number; next: string | null }>({ cursor: null, seen: 0, next: null });
  const busy = useRef(false);

  const readOn = async () => {
    if (busy.current) return;
    busy.current = true;
    try {
      const start = tail.current.next ?? tail.current.cursor;
      const skip = tail.current.next ? 0 : tail.current.seen;
      const page = await runLogs(projectId, jobId, runId, start, PAGE);
      const fresh = page.items.slice(skip);
      setLines((old) => [...old, ...fresh]);
      tail.current = { cursor: start, seen: skip + fresh.length, next: page.next_cursor };
      setMore(Boolean(page.next_cursor));
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      busy.current = false;
    }
  };
  useEffect(() => {
    setLines([]);
    tail.current = { cursor: null, seen: 0, next: null };
    void readOn();
  }, [runId]);
  useEffect(() => {
    if (!follow || !following) return;
    const timer = setInterval(() => void readOn(), 2000);
    return () => clearInterval(timer);
  }, [follow, following, runId]);
  return (
    <div class="log">
      {follow && <CheckField label="Follow the log" checked={following} onValue={setFollowing} />}
      <ErrorNotice error={error} />
      <ol class="log-lines" aria-label="Log lines" aria-live={follow && following ? "polite" : "off"}>
        {lines.map((l, i) => (
          <li key={i} class={`level-${(l.level ?? "info").toLowerCase()}`}>
            <time>{fmtTime(l.time)}</time> <span class="level">{l.level}</span> {l.stream && <span class="muted">[{l.stream}]</span>}{" "}
            {l.message} {l.file && <span class="muted">({l.file})</span>}
          </li>
        ))}
      </ol>
      {lines.length === 0 && <p class="muted">No log lines yet.</p>}
      {more && (
        <button type="button" onClick={() => void readOn()}>
          Load more log lines
        </button>
      )}
    </div>
  );
}
