// Every place where the console reads two shapes of one answer: the shape the API gives today and the
// contract's shape (issue 12, `contracts` branch). Each reader takes the contract's shape first and
// falls back to today's, so the console works before and after that change. Nothing else in the
// console reads these fields directly.
import { ApiError, type Schemas, untyped } from "./client";

/** A discovered stream (as both shapes carry it). */
export interface DiscoveredStream {
  stream_name: string;
  namespace?: string | null;
  columns: { name: string; type: string }[];
  selected: boolean;
  sync_mode: string;
  supported_sync_modes?: string[];
  destination_sync_mode: string;
  supported_destination_sync_modes?: string[];
  primary_key: string[];
  cursor_field?: string | null;
}

// 1. Discovery: `data.streams_config.streams` (contract) or `data.streams` (today).
export function streamsOf(data: unknown): DiscoveredStream[] {
  const d = (data ?? {}) as { streams_config?: { streams?: unknown }; streams?: unknown };
  const streams = d.streams_config?.streams ?? d.streams;
  return Array.isArray(streams) ? (streams as DiscoveredStream[]) : [];
}

export interface TableSummary {
  table_name: string;
  state?: string | null;
  read: number;
  inserted: number;
  updated: number;
  rejected: number;
  errors: number;
  started_at?: string | null;
  ended_at?: string | null;
  /** Today's tasks carry each table's files; the contract's carry none (see runFiles). */
  files?: RunFile[];
}

export interface RunView {
  id: string;
  /** The run's state (queued, running, succeeded, failed, cancelled...). */
  state: string;
  trigger?: string | null;
  started_by?: string | null;
  start_time?: string | null;
  end_time?: string | null;
  runtime_ms: number | null;
  error?: string | null;
  stats?: Schemas["RunStats"] | null;
  tables: TableSummary[];
}

// 2. Runs (tasks): `runtime` (contract, integer ms) or `runtime_ms` (today); `status` (contract) beside
//    `state` (today, kept as an extra): the state is read first, it is the finer of the two.
/** A task item of either shape (declared here, not taken from the generated types, which change). */
interface RunLike extends Omit<RunView, "state" | "runtime_ms" | "tables"> {
  state?: string;
  status?: string;
  runtime?: number | null;
  runtime_ms?: number | null;
  tables?: TableSummary[];
}

export function runOf(item: unknown): RunView {
  const r = item as RunLike;
  const runtime = typeof r.runtime === "number" ? r.runtime : (r.runtime_ms ?? null);
  return {
    id: String(r.id),
    state: String(r.state ?? r.status ?? "unknown"),
    trigger: r.trigger,
    started_by: r.started_by,
    start_time: r.start_time,
    end_time: r.end_time,
    runtime_ms: runtime,
    error: r.error,
    stats: r.stats,
    tables: (r.tables ?? []) as TableSummary[],
  };
}

export interface LogLine {
  level?: string;
  time?: string;
  message?: string;
  stream?: string | null;
  file?: string | null;
}

// 3. Logs: `data: {"task_logs": [...]}` (contract) or `data: [...]` (today).
export function logLinesOf(data: unknown): LogLine[] {
  if (Array.isArray(data)) return data as LogLine[];
  const lines = (data as { task_logs?: unknown } | null)?.task_logs;
  return Array.isArray(lines) ? (lines as LogLine[]) : [];
}

export interface RunFile {
  file_id: string;
  name?: string | null;
  table_name?: string;
  read: number;
  inserted?: number;
  updated?: number;
  rejected?: number;
  errors: number;
  message?: string | null;
  error?: string | null;
}

export interface FilePage {
  items: RunFile[];
  next_cursor: string | null;
}

// 4. A run's files: today inside each table of the task; in the contract on their own paginated route
//    GET .../jobs/{jobid}/task/{id}/files?table=&limit=&cursor= (not in the OpenAPI document yet).
export async function runFiles(
  projectId: string,
  jobId: string,
  run: RunView,
  table: string,
  cursor: string | null,
  limit = 20,
): Promise<FilePage> {
  const summary = run.tables.find((t) => t.table_name === table);
  if (summary?.files) {
    const start = cursor ? Number(cursor) : 0;
    const items = summary.files.slice(start, start + limit).map((f) => ({ ...f, table_name: table }));
    const next = start + limit < summary.files.length ? String(start + limit) : null;
    return { items, next_cursor: next };
  }
  const query = new URLSearchParams({ table, limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  const path = `/api/v1/project/${enc(projectId)}/jobs/${enc(jobId)}/task/${enc(run.id)}/files?${query}`;
  const page = await untyped<{ data?: RunFile[]; next_cursor?: string | null }>("GET", path);
  return { items: page.data ?? [], next_cursor: page.next_cursor ?? null };
}

// 5. Deletes (sources, destinations, jobs): `data: {"name"}` (contract) or `data: null` (today).
export function deletedName(data: unknown, fallback: string): string {
  const name = (data as { name?: unknown } | null)?.name;
  return typeof name === "string" && name ? name : fallback;
}

// 6. A job's source and destination: the contract adds `type`, `version` and the masked `config`;
//    today they have `id`, `name`, `type`, `version`. The console shows name and type only, and takes
//    `id` when it is there (today) or finds the connector by name (contract).
export interface JobConnector {
  id?: string;
  name: string;
  type?: string | null;
  version?: string | null;
  config?: Record<string, unknown>;
}

export function jobConnector(value: unknown): JobConnector {
  const v = (value ?? {}) as JobConnector;
  return { id: v.id, name: String(v.name ?? ""), type: v.type, version: v.version, config: v.config };
}

export function isApiError(error: unknown, status: number): error is ApiError {
  return error instanceof ApiError && error.status === status;
}

function enc(value: string): string {
  return encodeURIComponent(value);
}
