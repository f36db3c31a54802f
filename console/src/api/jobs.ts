// Jobs and their runs (tasks), with the run's logs.
import { api, type Schemas, unwrap } from "./client";
import { deletedName, type LogLine, logLinesOf, runOf, type RunView } from "./compat";
import type { Page } from "./projects";

export type Job = Schemas["JobOut"];
export type JobCreate = Schemas["JobCreate"];
export type JobUpdate = Schemas["JobUpdate"];
export type StreamIn = Schemas["StreamIn"];

export async function listJobs(projectid: string, cursor: string | null): Promise<Page<Job>> {
  const params = { path: { projectid }, query: { cursor, limit: 50 } };
  const r = await unwrap(api().GET("/api/v1/project/{projectid}/jobs", { params }));
  return { items: r.data, next_cursor: r.next_cursor };
}

export async function getJob(projectid: string, id: string): Promise<Job> {
  return (await unwrap(api().GET("/api/v1/project/{projectid}/jobs/{id}", { params: { path: { projectid, id } } }))).data;
}

export async function createJob(projectid: string, body: JobCreate): Promise<Job> {
  return (await unwrap(api().POST("/api/v1/project/{projectid}/jobs", { params: { path: { projectid } }, body }))).data;
}

export async function updateJob(projectid: string, id: string, body: JobUpdate): Promise<Job> {
  const init = { params: { path: { projectid, id } }, body };
  return (await unwrap(api().PUT("/api/v1/project/{projectid}/jobs/{id}", init))).data;
}

export async function deleteJob(projectid: string, id: string, name: string): Promise<string> {
  const r = await unwrap(api().DELETE("/api/v1/project/{projectid}/jobs/{id}", { params: { path: { projectid, id } } }));
  return deletedName((r as { data?: unknown }).data, name); // compat.ts 5
}

export async function setActive(projectid: string, id: string, activate: boolean): Promise<void> {
  const init = { params: { path: { projectid, id } }, body: { activate } };
  await unwrap(api().POST("/api/v1/project/{projectid}/jobs/{id}/activate", init));
}

export async function syncNow(projectid: string, id: string): Promise<RunView> {
  const r = await unwrap(api().POST("/api/v1/project/{projectid}/jobs/{id}/sync", { params: { path: { projectid, id } } }));
  return runOf(r.data);
}

export async function cancelRun(projectid: string, id: string): Promise<void> {
  await unwrap(api().POST("/api/v1/project/{projectid}/jobs/{id}/cancel", { params: { path: { projectid, id } } }));
}

export async function listRuns(projectid: string, jobid: string, cursor: string | null, limit = 20): Promise<Page<RunView>> {
  const params = { path: { projectid, jobid }, query: { cursor, limit } };
  const r = await unwrap(api().GET("/api/v1/project/{projectid}/jobs/{jobid}/tasks", { params }));
  return { items: r.data.map(runOf), next_cursor: r.next_cursor };
}

/** One run: the tasks list has no single-run route, so the run is found page by page (newest first). */
export async function findRun(projectid: string, jobid: string, runId: string): Promise<RunView | null> {
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages++) {
    const page: Page<RunView> = await listRuns(projectid, jobid, cursor, 100);
    const run = page.items.find((r) => r.id === runId);
    if (run) return run;
    if (!page.next_cursor) return null;
    cursor = page.next_cursor;
  }
  return null;
}

export async function runLogs(
  projectid: string,
  jobid: string,
  id: string,
  cursor: string | null,
  limit = 100,
): Promise<Page<LogLine>> {
  const params = { path: { projectid, jobid, id }, query: { cursor, limit } };
  const r = await unwrap(api().GET("/api/v1/project/{projectid}/jobs/{jobid}/task/{id}/logs", { params }));
  return { items: logLinesOf(r.data), next_cursor: r.next_cursor ?? null };
}
