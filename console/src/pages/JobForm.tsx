// Create or edit a job: a source and a destination, the discovered streams (select, sync mode,
// destination mode, primary key, cursor), the frequency and whether it is active.
import { useEffect, useState } from "preact/hooks";
import { jobConnector } from "../api/compat";
import { type Connector, discoverStreams, listConnectors, type Stream } from "../api/connectors";
import { createJob, getJob, type Job, type StreamIn, updateJob } from "../api/jobs";
import { CheckField, ErrorNotice, Loading, SelectField, TextField } from "../components/ui";
import { useAction, useLoad } from "../lib/hooks";
import { Link, navigate } from "../router";
import { FrequencyHelper } from "./Frequency";
import { useProject } from "../lib/project";
import { StreamsTable, type StreamRow } from "./StreamsTable";

async function allConnectors(projectId: string, kind: "source" | "destination"): Promise<Connector[]> {
  const out: Connector[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: Connector[]; next_cursor: string | null } = await listConnectors(projectId, kind, cursor);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < 1000);
  return out;
}

export function JobForm({ jobId }: { jobId?: string }) {
  const { project } = useProject();
  const job = useLoad(() => (jobId ? getJob(project.id, jobId) : Promise.resolve(null)), [project.id, jobId]);
  const sources = useLoad(() => allConnectors(project.id, "source"), [project.id]);
  const destinations = useLoad(() => allConnectors(project.id, "destination"), [project.id]);
  const error = job.error ?? sources.error ?? destinations.error;
  if (error) return <ErrorNotice error={error} />;
  if (!sources.value || !destinations.value || (jobId && !job.value)) return <Loading what="the job form" />;
  return <JobEditor job={job.value ?? null} sources={sources.value} destinations={destinations.value} />;
}

function toRows(streams: (Stream | Job["streams_config"]["streams"][number])[]): StreamRow[] {
  return streams.map((s) => ({
    stream_name: s.stream_name,
    namespace: s.namespace ?? null,
    columns: (s.columns ?? []).map((c) => ({ name: String(c.name), type: String(c.type) })),
    selected: s.selected,
    sync_mode: s.sync_mode,
    destination_sync_mode: s.destination_sync_mode,
    primary_key: s.primary_key ?? [],
    cursor_field: s.cursor_field ?? null,
    supported_sync_modes: "supported_sync_modes" in s ? s.supported_sync_modes : undefined,
    supported_destination_sync_modes: "supported_destination_sync_modes" in s ? s.supported_destination_sync_modes : undefined,
  }));
}

function fromRows(rows: StreamRow[]): StreamIn[] {
  return rows.map((r) => ({
    stream_name: r.stream_name,
    namespace: r.namespace,
    columns: r.columns,
    selected: r.selected,
    sync_mode: r.sync_mode as StreamIn["sync_mode"],
    destination_sync_mode: r.destination_sync_mode as StreamIn["destination_sync_mode"],
    primary_key: r.primary_key,
    cursor_field: r.cursor_field,
  }));
}

function NeedsConnectors() {
  const { project } = useProject();
  return (
    <section>
      <h1>New job</h1>
      <p>
        A job needs a source and a destination. Create a <Link href={`/projects/${project.id}/sources/new`}>source</Link> and
        a <Link href={`/projects/${project.id}/destinations/new`}>destination</Link> first.
      </p>
    </section>
  );
}

function JobEditor({ job, sources, destinations }: { job: Job | null; sources: Connector[]; destinations: Connector[] }) {
  const { project, canWrite } = useProject();
  const [name, setName] = useState(job?.name ?? "");
  const [sourceName, setSourceName] = useState(job ? jobConnector(job.source).name : sources[0]?.name ?? "");
  const [destName, setDestName] = useState(job ? jobConnector(job.destination).name : destinations[0]?.name ?? "");
  const [frequency, setFrequency] = useState(job?.frequency ?? "manual");
  const [activate, setActivate] = useState(job?.activate ?? true);
  const [rows, setRows] = useState<StreamRow[] | null>(job ? toRows(job.streams_config.streams) : null);
  const action = useAction();
  useEffect(() => {
    if (!job) setRows(null); // another source: discover again
  }, [sourceName]);
  if (!job && (sources.length === 0 || destinations.length === 0)) return <NeedsConnectors />;
  const save = (e: Event) => {
    e.preventDefault();
    void action.run("save", async () => {
      const streams_config = rows ? { streams: fromRows(rows) } : undefined;
      const body = { name, source: { name: sourceName }, destination: { name: destName }, frequency, activate, streams_config };
      const saved = job ? await updateJob(project.id, job.id, body) : await createJob(project.id, body);
      navigate(`/projects/${project.id}/jobs/${saved.id}`);
    });
  };
  const fields = action.fields;
  const options = (list: Connector[]) => list.map((c) => ({ value: c.name, label: `${c.name} (${c.type})` }));
  return (
    <section>
      <p class="crumbs"><Link href={`/projects/${project.id}/jobs`}>Jobs</Link></p>
      <h1>{job ? `Edit job ${job.name}` : "New job"}</h1>
      <form class="card" onSubmit={save} noValidate aria-label="Job settings">
        <div class="row">
          <TextField label="Job name" value={name} onValue={setName} error={fields.name} required />
          <SelectField label="Source" value={sourceName} options={options(sources)} onValue={setSourceName} error={fields["source.name"] ?? fields.source} />
          <SelectField label="Destination" value={destName} options={options(destinations)} onValue={setDestName}
            error={fields["destination.name"] ?? fields.destination} />
        </div>
        <Streams source={sources.find((s) => s.name === sourceName)} rows={rows} onRows={setRows} error={fields.streams_config} readOnly={!canWrite} />
        <FrequencyHelper value={frequency} onValue={setFrequency} error={fields.frequency} />
        <CheckField label="Active (runs on its schedule)" checked={activate} onValue={setActivate} />
        <ErrorNotice error={action.error} />
        {canWrite && (
          <button class="primary" type="submit" disabled={action.busy !== ""}>
            {job ? "Save job" : "Create job"}
          </button>
        )}
      </form>
    </section>
  );
}

function Streams({ source, rows, onRows, error, readOnly }: {
  source: Connector | undefined;
  rows: StreamRow[] | null;
  onRows: (rows: StreamRow[]) => void;
  error?: string;
  readOnly: boolean;
}) {
  const { project } = useProject();
  const action = useAction();
  const discover = () =>
    action.run("discover", async () => {
      if (!source) throw new Error("Choose a source first.");
      onRows(toRows(await discoverStreams(project.id, source.id)));
    });
  return (
    <fieldset>
      <legend>Streams</legend>
      <button type="button" onClick={discover} disabled={action.busy !== ""}>
        {action.busy === "discover" ? "Discovering…" : rows ? "Discover streams again" : "Discover streams"}
      </button>
      <ErrorNotice error={action.error} />
      {rows && <StreamsTable rows={rows} onChange={onRows} readOnly={readOnly} />}
      {!rows && <p class="muted">Without discovery, the job takes every stream the source has, with their defaults.</p>}
      {error && <small class="error" role="alert">{error}</small>}
    </fieldset>
  );
}
