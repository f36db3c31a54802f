// The project's jobs: source and destination, schedule, active toggle, last run state and time,
// sync now and cancel.
import { useEffect, useState } from "preact/hooks";
import { jobConnector } from "../api/compat";
import { cancelRun, type Job, listJobs, setActive, syncNow } from "../api/jobs";
import { CheckField, ErrorNotice, Loading, Notice, Pager, StateBadge, TableWrap } from "../components/ui";
import { fmtTime } from "../lib/format";
import { useCursorPages, useLoad } from "../lib/hooks";
import { Link } from "../router";
import { useProject } from "../lib/project";

export const ACTIVE_STATES = ["queued", "running", "starting", "cancelling", "stopping"];
export const isActiveRun = (state: string | null | undefined) => ACTIVE_STATES.includes((state ?? "").toLowerCase());

export function Jobs() {
  const { project, canWrite } = useProject();
  const pages = useCursorPages();
  const [poll, setPoll] = useState(0);
  const list = useLoad(() => listJobs(project.id, pages.cursor), [project.id, pages.cursor], poll);
  const running = list.value?.items.some((j) => isActiveRun(j.last_run_state) || j.current_run_id) ?? false;
  useEffect(() => setPoll(running ? 3000 : 0), [running]);
  return (
    <section>
      <div class="title-row">
        <h1>Jobs</h1>
        {canWrite && <Link class="button primary" href={`/projects/${project.id}/jobs/new`}>New job</Link>}
      </div>
      <ErrorNotice error={list.error} />
      {list.loading && <Loading what="jobs" />}
      {list.value?.items.length === 0 && (
        <p class="muted">No jobs yet. A job syncs a source into a destination, on demand or on a schedule.</p>
      )}
      {list.value && list.value.items.length > 0 && (
        <TableWrap label="Jobs">
          <table>
            <thead>
              <tr><th>Name</th><th>Source → destination</th><th>Frequency</th><th>Active</th><th>Last run</th>{canWrite && <th>Actions</th>}</tr>
            </thead>
            <tbody>
              {list.value.items.map((job) => <JobRow key={job.id} job={job} onChange={list.reload} />)}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager label="Jobs" page={pages.page} hasNext={Boolean(list.value?.next_cursor)}
        onNext={() => pages.next(list.value?.next_cursor ?? null)} onPrevious={pages.previous} />
    </section>
  );
}

export function JobActions({ job, onChange }: { job: Job; onChange: () => Promise<void> }) {
  const { project } = useProject();
  const [error, setError] = useState<unknown>(null);
  const [started, setStarted] = useState("");
  const act = async (action: () => Promise<unknown>) => {
    setError(null);
    setStarted("");
    try {
      await action();
      await onChange();
    } catch (err) {
      setError(err);
    }
  };
  const running = Boolean(job.current_run_id) || isActiveRun(job.last_run_state);
  return (
    <div class="job-actions">
      <CheckField label={`Active: ${job.name}`} role="switch" checked={job.activate}
        onValue={(on) => act(() => setActive(project.id, job.id, on))} />
      <button type="button" disabled={running} onClick={() => act(async () => setStarted((await syncNow(project.id, job.id)).id))}>
        Sync {job.name} now
      </button>
      {running && (
        <button type="button" onClick={() => act(() => cancelRun(project.id, job.id))}>
          Cancel run of {job.name}
        </button>
      )}
      {started && <Notice kind="ok">Run {started} started.</Notice>}
      <ErrorNotice error={error} />
    </div>
  );
}

function JobRow({ job, onChange }: { job: Job; onChange: () => Promise<void> }) {
  const { project, canWrite } = useProject();
  const source = jobConnector(job.source);
  const destination = jobConnector(job.destination);
  return (
    <tr>
      <td><Link href={`/projects/${project.id}/jobs/${job.id}`}>{job.name}</Link></td>
      <td>{source.name} <span class="muted">({source.type})</span> → {destination.name} <span class="muted">({destination.type})</span></td>
      <td>{job.frequency}</td>
      <td>{job.activate ? "yes" : "no"}</td>
      <td>
        <StateBadge state={job.last_run_state} /> <span class="muted">{fmtTime(job.last_run_time)}</span>
      </td>
      {canWrite && <td><JobActions job={job} onChange={onChange} /></td>}
    </tr>
  );
}
