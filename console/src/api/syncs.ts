// Upload syncs: start, list, end, their files; direct uploads and presigned multipart uploads.
import { api, apiUrl, type Schemas, toApiError, unwrap } from "./client";
import type { Page } from "./projects";

export type Sync = Schemas["SyncOut"];
export type SyncFile = Schemas["SyncFileOut"];
export type Upload = Schemas["UploadOut"];

export async function listSyncs(projectid: string, cursor: string | null): Promise<Page<Sync>> {
  const params = { path: { projectid }, query: { cursor, limit: 50 } };
  const r = await unwrap(api().GET("/api/v1/project/{projectid}/syncs", { params }));
  return { items: r.data, next_cursor: r.next_cursor };
}

export async function getSync(projectid: string, sync_id: number): Promise<Sync> {
  const params = { path: { projectid, sync_id } };
  return (await unwrap(api().GET("/api/v1/project/{projectid}/syncs/{sync_id}", { params }))).data;
}

export async function startSync(projectid: string, body: Schemas["SyncCreate"]): Promise<Sync> {
  const init = { params: { path: { projectid }, header: { "idempotency-key": crypto.randomUUID() } }, body };
  return (await unwrap(api().POST("/api/v1/project/{projectid}/syncs", init))).data;
}

export async function endSync(projectid: string, sync_id: number): Promise<Sync> {
  const params = { path: { projectid, sync_id } };
  return (await unwrap(api().POST("/api/v1/project/{projectid}/syncs/{sync_id}/end", { params }))).data;
}

export async function listSyncFiles(projectid: string, sync_id: number, cursor: string | null): Promise<Page<SyncFile>> {
  const params = { path: { projectid, sync_id }, query: { cursor, limit: 50 } };
  const r = await unwrap(api().GET("/api/v1/project/{projectid}/syncs/{sync_id}/files", { params }));
  return { items: r.data, next_cursor: r.next_cursor };
}

/** A small file in one request (multipart form). XHR, not fetch, for its upload progress events. */
export function uploadDirect(
  projectid: string,
  sync_id: number,
  file: File,
  name: string,
  key: string,
  onProgress: (sent: number) => void,
): Promise<SyncFile> {
  const form = new FormData();
  form.append("file", file, name);
  const path = `/api/v1/project/${encodeURIComponent(projectid)}/syncs/${sync_id}/files`;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", apiUrl(path));
    xhr.withCredentials = true;
    xhr.setRequestHeader("Idempotency-Key", key);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onerror = () => reject(toApiError(0, undefined, "the upload was interrupted"));
    xhr.onload = () => {
      const body = safeJson(xhr.responseText);
      if (xhr.status >= 200 && xhr.status < 300) resolve((body as { data: SyncFile }).data);
      else reject(toApiError(xhr.status, body, `HTTP ${xhr.status}`));
    };
    xhr.send(form);
  });
}

export async function startUpload(projectid: string, sync_id: number, body: Schemas["UploadStart"]): Promise<Upload> {
  const init = { params: { path: { projectid, sync_id } }, body };
  return (await unwrap(api().POST("/api/v1/project/{projectid}/syncs/{sync_id}/uploads", init))).data;
}

export async function getUpload(projectid: string, sync_id: number, upload_id: string, from_part = 1): Promise<Upload> {
  const params = { path: { projectid, sync_id, upload_id }, query: { from_part } };
  return (await unwrap(api().GET("/api/v1/project/{projectid}/syncs/{sync_id}/uploads/{upload_id}", { params }))).data;
}

export async function completeUpload(
  projectid: string,
  sync_id: number,
  upload_id: string,
  parts: Schemas["PartETag"][],
): Promise<Upload> {
  const init = { params: { path: { projectid, sync_id, upload_id } }, body: { parts } };
  return (await unwrap(api().POST("/api/v1/project/{projectid}/syncs/{sync_id}/uploads/{upload_id}/complete", init))).data;
}

export async function abortUpload(projectid: string, sync_id: number, upload_id: string): Promise<void> {
  const params = { path: { projectid, sync_id, upload_id } };
  await unwrap(api().DELETE("/api/v1/project/{projectid}/syncs/{sync_id}/uploads/{upload_id}", { params }));
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
