// One run: its counts, per table and per file (paginated), its rejects, and its log (paged, and
// followed while the run is running).
import { useEffect, useState } from "preact/hooks";
import { type RunView, runFiles, type TableSummary } from "../api/compat";
import { findRun } from "../api/jobs";
import { ErrorNotice, Loading, Pager, StateBadge, TableWrap } from "../components/ui";
import { fmtCount, fmtDuration, fmtTime } from "../lib/format";
import { useCursorPages, useLoad } from "../lib/hooks";
import { Link } from "../router";
import { isActiveRun } from "./Jobs";
import { LogViewer } from "./LogViewer";
import { NotFound } from "./NotFound";
import { useProject } from "../lib/project";

export function RunPage({ jobId, runId }: { jobId: string; runId: string }) {
  const { project } = useProject();
  const [poll, setPoll] = useState(0);
  const run = useLoad(() => findRun(project.id, jobId, runId), [project.id, jobId, runId], poll);
  const running = isActiveRun(run.value?.state);
  useEffect(() => setPoll(running ? 2000 : 0), [running]);
  if (run.error) return <ErrorNotice error={run.error} />;
  if (run.value === undefined) return <Loading what="the run" />;
  if (run.value === null) return <NotFound what="run" />;
  const r = run.value;
  return (
    <section>
      <p class="crumbs">
        <Link href={`/projects/${project.id}/jobs`}>Jobs</Link> / <Link href={`/projects/${project.id}/jobs/${jobId}`}>Job</Link>
      </p>
      <h1>Run {r.id}</h1>
      <dl class="facts">
        <dt>Status</dt><dd><StateBadge state={r.state} /></dd>
        <dt>Trigger</dt><dd>{r.trigger ?? "—"} {r.started_by && `by ${r.started_by}`}</dd>
        <dt>Started</dt><dd>{fmtTime(r.start_time)}</dd>
        <dt>Ended</dt><dd>{fmtTime(r.end_time)}</dd>
        <dt>Duration</dt><dd>{fmtDuration(r.runtime_ms)}</dd>
        {r.error && <><dt>Error</dt><dd class="error">{r.error}</dd></>}
      </dl>
      <Totals run={r} />
      <h2>Tables</h2>
      {r.tables.length === 0 && <p class="muted">{running ? "Planning…" : "No tables."}</p>}
      {r.tables.map((t) => <TableSection key={t.table_name} jobId={jobId} run={r} table={t} />)}
      <h2>Log</h2>
      <LogViewer projectId={project.id} jobId={jobId} runId={r.id} follow={running} />
    </section>
  );
}

function Totals({ run }: { run: RunView }) {
  const s = run.stats;
  return (
    <TableWrap label="Run counts">
      <table class="counts" aria-label="Run counts">
        <thead><tr><th>Read</th><th>Inserted</th><th>Updated</th><th>Rejected</th><th>Errors</th></tr></thead>
        <tbody>
          <tr>
            <td>{fmtCount(s?.read)}</td><td>{fmtCount(s?.inserted)}</td><td>{fmtCount(s?.updated)}</td>
            <td>{fmtCount(s?.rejected)}</td><td>{fmtCount(s?.errors)}</td>
          </tr>
        </tbody>
      </table>
    </TableWrap>
  );
}

function TableSection({ jobId, run, table }: { jobId: string; run: RunView; table: TableSummary }) {
  const { project } = useProject();
  const pages = useCursorPages();
  const files = useLoad(() => runFiles(project.id, jobId, run, table.table_name, pages.cursor),
    [project.id, jobId, run.id, run.state, table.table_name, pages.cursor]);
  const rejects = (files.value?.items ?? []).filter((f) => (f.rejected ?? 0) > 0 || f.errors > 0 || f.error || f.message);
  return (
    <section class="card" aria-label={`Table ${table.table_name}`}>
      <h3>{table.table_name} <StateBadge state={table.state} /></h3>
      <p class="muted">{fmtTime(table.started_at)} → {fmtTime(table.ended_at)}</p>
      <p>
        Read <strong>{fmtCount(table.read)}</strong>, inserted <strong>{fmtCount(table.inserted)}</strong>, updated{" "}
        <strong>{fmtCount(table.updated)}</strong>, rejected <strong>{fmtCount(table.rejected)}</strong>, errors{" "}
        <strong>{fmtCount(table.errors)}</strong>
      </p>
      <ErrorNotice error={files.error} />
      {files.value && (
        <TableWrap label={`Files of ${table.table_name}`}>
          <table>
            <thead><tr><th>File</th><th>Read</th><th>Inserted</th><th>Rejected</th><th>Errors</th></tr></thead>
            <tbody>
              {files.value.items.map((f) => (
                <tr key={f.file_id}>
                  <td>{f.name ?? f.file_id}</td><td>{fmtCount(f.read)}</td><td>{fmtCount(f.inserted)}</td>
                  <td>{fmtCount(f.rejected)}</td><td>{fmtCount(f.errors)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager label={`Files of ${table.table_name}`} page={pages.page} hasNext={Boolean(files.value?.next_cursor)}
        onNext={() => pages.next(files.value?.next_cursor ?? null)} onPrevious={pages.previous} />
      <h4>Rejects</h4>
      {table.rejected === 0 && table.errors === 0 && rejects.length === 0 ? (
        <p class="muted">No rejected rows or file errors.</p>
      ) : (
        <ul class="rejects">
          {rejects.map((f) => (
            <li key={f.file_id}>
              <strong>{f.name ?? f.file_id}</strong>: {fmtCount(f.rejected)} rejected, {fmtCount(f.errors)} errors
              {(f.message || f.error) && <> — {f.message ?? f.error}</>}
            </li>
          ))}
          {rejects.length === 0 && <li>{fmtCount(table.rejected)} rows rejected; the log says where.</li>}
        </ul>
      )}
    </section>
  );
}
