// Uploads files into an upload sync: small files in one request, big ones through presigned S3
// multipart uploads with parallel parts. Progress per file and overall; a multipart upload that a
// reload interrupted resumes when the same file is dropped again (its upload id is kept in
// localStorage, and the parts S3 already has are skipped).
import type { Schemas } from "../api/client";
import { abortUpload, completeUpload, getUpload, startUpload, type Upload, uploadDirect } from "../api/syncs";

export const DIRECT_LIMIT = 4 * 1024 * 1024; // the API's direct-upload limit (MAX_DIRECT_UPLOAD_BYTES)
const PART_CONCURRENCY = 4;
const FILE_CONCURRENCY = 2;

export interface Item {
  key: string;
  file: File;
  name: string; // the base name the sync stores
  shown: string; // the path as dropped (folder/name)
  sent: number;
  status: "queued" | "uploading" | "done" | "failed";
  message: string;
  resumed: boolean;
}

interface Saved {
  upload_id: string;
  part_size: number;
}

const storageKey = (project: string, sync: number, f: File) =>
  `ingestplane.upload.${project}.${sync}.${f.name}.${f.size}.${f.lastModified}`;

/** Interrupted multipart uploads of this sync, as "name (size)" for the page to mention. */
export function interrupted(project: string, sync: number): string[] {
  const prefix = `ingestplane.upload.${project}.${sync}.`;
  return Object.keys(localStorage)
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length).replace(/\.\d+\.\d+$/, ""));
}

export class UploadQueue {
  items: Item[] = [];
  private running = 0;

  constructor(
    private project: string,
    private sync: number,
    private onUpdate: () => void,
  ) {}

  add(files: { file: File; path: string }[]): void {
    for (const { file, path } of files) {
      this.items.push({
        key: crypto.randomUUID(),
        file,
        name: file.name,
        shown: path || file.name,
        sent: 0,
        status: "queued",
        message: "",
        resumed: false,
      });
    }
    this.onUpdate();
    this.pump();
  }

  get total(): number {
    return this.items.reduce((n, i) => n + i.file.size, 0);
  }

  get sent(): number {
    return this.items.reduce((n, i) => n + i.sent, 0);
  }

  get busy(): boolean {
    return this.items.some((i) => i.status === "queued" || i.status === "uploading");
  }

  private pump(): void {
    while (this.running < FILE_CONCURRENCY) {
      const next = this.items.find((i) => i.status === "queued");
      if (!next) return;
      this.running++;
      next.status = "uploading";
      void this.upload(next).finally(() => {
        this.running--;
        this.onUpdate();
        this.pump();
      });
    }
  }

  private async upload(item: Item): Promise<void> {
    try {
      if (item.file.size <= DIRECT_LIMIT) {
        await uploadDirect(this.project, this.sync, item.file, item.name, item.key, (n) => this.progress(item, n));
      } else {
        await this.multipart(item);
      }
      item.sent = item.file.size;
      item.status = "done";
      item.message = "uploaded";
    } catch (error) {
      item.status = "failed";
      item.message = (error as Error).message;
    }
  }

  private progress(item: Item, sent: number): void {
    item.sent = Math.min(sent, item.file.size);
    this.onUpdate();
  }

  private async resumable(item: Item): Promise<Upload | null> {
    const raw = localStorage.getItem(storageKey(this.project, this.sync, item.file));
    if (!raw) return null;
    try {
      const saved = JSON.parse(raw) as Saved;
      const upload = await getUpload(this.project, this.sync, saved.upload_id);
      if (upload.status === "open") return upload;
    } catch {
      // gone or expired: start again
    }
    localStorage.removeItem(storageKey(this.project, this.sync, item.file));
    return null;
  }

  private async multipart(item: Item): Promise<void> {
    const key = storageKey(this.project, this.sync, item.file);
    let upload = await this.resumable(item);
    item.resumed = upload !== null;
    if (!upload) {
      upload = await startUpload(this.project, this.sync, { file_name: item.name, size: item.file.size });
      localStorage.setItem(key, JSON.stringify({ upload_id: upload.upload_id, part_size: upload.part_size } satisfies Saved));
    }
    const done = new Map<number, string>((upload.received ?? []).map((p) => [p.part_number, p.etag]));
    const sentOf = new Map<number, number>();
    for (const [n] of done) sentOf.set(n, partBytes(n, upload.part_size, item.file.size));
    const report = () => this.progress(item, [...sentOf.values()].reduce((a, b) => a + b, 0));
    report();
    for (const urls of await this.partUrls(upload)) {
      const todo = urls.filter((p) => !done.has(p.part_number));
      await parallel(todo, PART_CONCURRENCY, async (part) => {
        const start = (part.part_number - 1) * upload.part_size;
        const blob = item.file.slice(start, Math.min(start + upload.part_size, item.file.size));
        const etag = await putPart(part.url, blob, (n) => {
          sentOf.set(part.part_number, n);
          report();
        });
        done.set(part.part_number, etag);
      });
    }
    const parts: Schemas["PartETag"][] = [...done].sort((a, b) => a[0] - b[0]).map(([part_number, etag]) => ({ part_number, etag }));
    await completeUpload(this.project, this.sync, upload.upload_id, parts);
    localStorage.removeItem(key);
  }

  /** Part URLs come up to 1,000 an answer; `next_part` asks for the following ones. */
  private async partUrls(first: Upload): Promise<Schemas["PartUrl"][][]> {
    const batches = [first.parts ?? []];
    let next = first.next_part;
    while (next) {
      const more = await getUpload(this.project, this.sync, first.upload_id, next);
      batches.push(more.parts ?? []);
      next = more.next_part;
    }
    return batches;
  }

  /** Abort every unfinished multipart upload of this sync that this page started. */
  async abortAll(): Promise<void> {
    for (const item of this.items.filter((i) => i.status !== "done")) {
      const raw = localStorage.getItem(storageKey(this.project, this.sync, item.file));
      if (raw) await abortUpload(this.project, this.sync, (JSON.parse(raw) as Saved).upload_id).catch(() => {});
      localStorage.removeItem(storageKey(this.project, this.sync, item.file));
    }
  }
}

function partBytes(partNumber: number, partSize: number, size: number): number {
  return Math.max(0, Math.min(partSize, size - (partNumber - 1) * partSize));
}

/** PUT one part to its presigned URL; S3's ETag header (exposed by the bucket's CORS) names it. */
function putPart(url: string, blob: Blob, onProgress: (sent: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onerror = () => reject(new Error("a part upload was interrupted"));
    xhr.onload = () => {
      const etag = xhr.getResponseHeader("ETag");
      if (xhr.status >= 200 && xhr.status < 300 && etag) {
        onProgress(blob.size);
        resolve(etag);
      } else reject(new Error(etag ? `S3 answered ${xhr.status}` : "S3 gave no ETag (check the bucket's CORS)"));
    };
    xhr.send(blob);
  });
}

async function parallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let index = 0;
  const worker = async () => {
    while (index < items.length) await work(items[index++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
