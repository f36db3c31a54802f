// Drop files and folders here, or choose them with the keyboard (a file picker and a folder picker).
import { useState } from "preact/hooks";

export interface Picked {
  file: File;
  path: string;
}

/** Every file under a dropped entry (folders are walked; each readEntries call gives up to 100). */
async function walk(entry: FileSystemEntry, prefix = ""): Promise<Picked[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    return [{ file, path: prefix + file.name }];
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const out: Picked[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return out;
    for (const child of batch) out.push(...(await walk(child, `${prefix}${entry.name}/`)));
  }
}

async function fromDrop(data: DataTransfer): Promise<Picked[]> {
  const entries = [...data.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => Boolean(e));
  if (entries.length === 0) return [...data.files].map((file) => ({ file, path: file.name }));
  const nested = await Promise.all(entries.map((e) => walk(e)));
  return nested.flat();
}

function fromInput(input: HTMLInputElement): Picked[] {
  const files = [...(input.files ?? [])].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
  input.value = "";
  return files;
}

export function DropZone({ onFiles }: { onFiles: (files: Picked[]) => void }) {
  const [over, setOver] = useState(false);
  const drop = async (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (e.dataTransfer) onFiles(await fromDrop(e.dataTransfer));
  };
  return (
    <div
      class={over ? "dropzone over" : "dropzone"}
      data-testid="dropzone"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
    >
      <p>Drop files or folders here</p>
      <p class="pickers">
        <label class="button">
          Choose files
          <input type="file" multiple class="visually-hidden" aria-label="Choose files to upload"
            onChange={(e) => onFiles(fromInput(e.target as HTMLInputElement))} />
        </label>
        <label class="button">
          Choose a folder
          <input type="file" multiple class="visually-hidden" aria-label="Choose a folder to upload"
            {...{ webkitdirectory: "" }} onChange={(e) => onFiles(fromInput(e.target as HTMLInputElement))} />
        </label>
      </p>
      <p class="muted">Files up to 4 MB go in one request; bigger ones in parallel parts straight to S3.</p>
    </div>
  );
}
