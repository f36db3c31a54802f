// One job: its settings, actions (active, sync now, cancel, edit, delete) and its run history.
import { useEffect, useState } from "preact/hooks";
import { jobConnector } from "../api/compat";
import { deleteJob, getJob, listRuns } from "../api/jobs";
import { ConfirmButton, ErrorNotice, Loading, Pager, StateBadge, TableWrap } from "../components/ui";
import { fmtCount, fmtDuration, fmtTime } from "../lib/format";
import { type Loaded, useCursorPages, useLoad } from "../lib/hooks";
import type { RunView } from "../api/compat";
import type { Page } from "../api/projects";
import type { Job } from "../api/jobs";
import { Link, navigate } from "../router";
import { isActiveRun, JobActions } from "./Jobs";
import { useProject } from "../lib/project";

export function JobPage({ jobId }: { jobId: string }) {
  const { project, canWrite } = useProject();
  const [poll, setPoll] = useState(0);
  const job = useLoad(() => getJob(project.id, jobId), [project.id, jobId], poll);
  const pages = useCursorPages();
  const runs = useLoad(() => listRuns(project.id, jobId, pages.cursor), [project.id, jobId, pages.cursor], poll);
  const active = Boolean(job.value?.current_run_id) || (runs.value?.items.some((r) => isActiveRun(r.state)) ?? false);
  useEffect(() => setPoll(active ? 2000 : 0), [active]);
  const [error, setError] = useState<unknown>(null);
  if (job.error) return <ErrorNotice error={job.error} />;
  if (!job.value) return <Loading what="the job" />;
  const j = job.value;
  const base = `/projects/${project.id}/jobs`;
  const source = jobConnector(j.source);
  const destination = jobConnector(j.destination);
  const remove = async () => {
    try {
      await deleteJob(project.id, j.id, j.name);
      navigate(base);
    } catch (err) {
      setError(err);
    }
  };
  const reload = async () => {
    await Promise.all([job.reload(), runs.reload()]);
  };
  return (
    <section>
      <p class="crumbs"><Link href={base}>Jobs</Link></p>
      <h1>Job {j.name}</h1>
      <dl class="facts">
        <dt>Source</dt><dd>{source.name} ({source.type})</dd>
        <dt>Destination</dt><dd>{destination.name} ({destination.type})</dd>
        <dt>Frequency</dt><dd>{j.frequency} <span class="muted">({j.schedule_expression})</span></dd>
        <dt>Active</dt><dd>{j.activate ? "yes" : "no"}</dd>
        <dt>Streams</dt><dd>{j.streams_config.streams.filter((s) => s.selected).map((s) => s.stream_name).join(", ") || "none selected"}</dd>
        <dt>Last run</dt><dd><StateBadge state={j.last_run_state} /> {fmtTime(j.last_run_time)}</dd>
      </dl>
      {canWrite && (
        <div class="actions">
          <JobActions job={j} onChange={reload} />
          <Link class="button" href={`${base}/${j.id}/edit`}>Edit job</Link>
          <ConfirmButton label="Delete job" title={`Delete the job ${j.name}?`} confirmLabel="Delete" onConfirm={remove}>
            <p>Its schedule is removed; its runs stay readable. A job with a run in progress cannot be deleted: cancel it first.</p>
          </ConfirmButton>
        </div>
      )}
      <ErrorNotice error={error} />
      <RunsTable job={j} runs={runs} pages={pages} />
    </section>
  );
}

function RunsTable({ job, runs, pages }: {
  job: Job;
  runs: Loaded<Page<RunView>>;
  pages: ReturnType<typeof useCursorPages>;
}) {
  const { project } = useProject();
  const base = `/projects/${project.id}/jobs`;
  const j = job;
  return (
    <>
      <h2>Runs</h2>
      <ErrorNotice error={runs.error} />
      {runs.loading && <Loading what="runs" />}
      {runs.value?.items.length === 0 && <p class="muted">No runs yet.</p>}
      {runs.value && runs.value.items.length > 0 && (
        <TableWrap label="Runs">
          <table>
            <thead>
              <tr><th>Run</th><th>Status</th><th>Started</th><th>Duration</th><th>Read</th><th>Inserted</th><th>Updated</th><th>Rejected</th><th>Errors</th></tr>
            </thead>
            <tbody>
              {runs.value.items.map((r) => (
                <tr key={r.id}>
                  <td><Link href={`${base}/${j.id}/runs/${r.id}`}>{r.id}</Link> <span class="muted">{r.trigger}</span></td>
                  <td><StateBadge state={r.state} /></td>
                  <td>{fmtTime(r.start_time)}</td>
                  <td>{fmtDuration(r.runtime_ms)}</td>
                  <td>{fmtCount(r.stats?.read)}</td>
                  <td>{fmtCount(r.stats?.inserted)}</td>
                  <td>{fmtCount(r.stats?.updated)}</td>
                  <td>{fmtCount(r.stats?.rejected)}</td>
                  <td>{fmtCount(r.stats?.errors)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager label="Runs" page={pages.page} hasNext={Boolean(runs.value?.next_cursor)}
        onNext={() => pages.next(runs.value?.next_cursor ?? null)} onPrevious={pages.previous} />
    </>
  );
}
