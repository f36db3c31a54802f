// The console's building blocks: labelled fields, notices, confirmations, copy, pages, progress.
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError } from "../api/client";

export function messageOf(error: unknown): string {
  if (error instanceof ApiError || error instanceof Error) return error.message;
  return String(error);
}

interface FieldProps {
  label: string;
  error?: string;
  hint?: string;
  required?: boolean;
  children: (id: string, describedBy: string | undefined) => ComponentChildren;
}

/** A label, the control (given its id), a hint and the field's error, linked for assistive tech. */
export function Field({ label, error, hint, required, children }: FieldProps) {
  const id = useId();
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={error ? "field invalid" : "field"}>
      <label for={id} class={required ? "required" : undefined}>
        {label}
      </label>
      {children(id, described || undefined)}
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${id}-error`} class="error" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

interface InputProps {
  label: string;
  type?: "text" | "password" | "email" | "number";
  autoComplete?: string;
  readOnly?: boolean;
  required?: boolean;
  placeholder?: string;
  min?: string;
  list?: string;
  value: string;
  onValue: (value: string) => void;
  error?: string;
  hint?: string;
}

export function TextField({ label, value, onValue, error, hint, required, ...rest }: InputProps) {
  return (
    <Field label={label} error={error} hint={hint} required={Boolean(required)}>
      {(id, describedBy) => (
        <input
          id={id}
          value={value}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={describedBy}
          aria-required={required ? "true" : undefined}
          onInput={(e) => onValue((e.target as HTMLInputElement).value)}
          {...(rest as Record<string, unknown>)}
        />
      )}
    </Field>
  );
}

interface SelectProps {
  label: string;
  value: string;
  options: (string | { value: string; label: string })[];
  onValue: (value: string) => void;
  error?: string;
  hint?: string;
  disabled?: boolean;
  required?: boolean;
}

export function SelectField({ label, value, options, onValue, error, hint, disabled, required }: SelectProps) {
  return (
    <Field label={label} error={error} hint={hint} required={required}>
      {(id, describedBy) => (
        <select
          id={id}
          value={value}
          disabled={disabled}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={describedBy}
          onChange={(e) => onValue((e.target as HTMLSelectElement).value)}
        >
          {options.map((o) =>
            typeof o === "string" ? (
              <option key={o} value={o}>
                {o}
              </option>
            ) : (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ),
          )}
        </select>
      )}
    </Field>
  );
}

interface CheckProps {
  label: string;
  checked: boolean;
  onValue: (checked: boolean) => void;
  disabled?: boolean;
  hint?: string;
  error?: string;
  role?: "switch";
}

export function CheckField({ label, checked, onValue, disabled, hint, error, role }: CheckProps) {
  const id = useId();
  return (
    <div class={error ? "field check invalid" : "field check"}>
      <input
        id={id}
        type="checkbox"
        role={role}
        checked={checked}
        disabled={disabled}
        aria-describedby={hint ? `${id}-hint` : undefined}
        onChange={(e) => onValue((e.target as HTMLInputElement).checked)}
      />
      <label for={id}>{label}</label>
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      {error && (
        <small class="error" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

export function Notice({ kind, children }: { kind: "error" | "ok" | "info"; children: ComponentChildren }) {
  return (
    <div class={`notice ${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

export function ErrorNotice({ error }: { error: unknown }) {
  return error ? <Notice kind="error">{messageOf(error)}</Notice> : null;
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

interface ConfirmProps {
  label: string;
  title: string;
  children: ComponentChildren;
  confirmLabel?: string;
  onConfirm: () => Promise<void> | void;
  danger?: boolean;
}

/** A button that asks first, in a modal <dialog> (Esc or Cancel closes it; focus stays inside). */
export function ConfirmButton({ label, title, children, confirmLabel, onConfirm, danger = true }: ConfirmProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    try {
      await onConfirm();
    } finally {
      setBusy(false);
      dialog.current?.close();
    }
  };
  return (
    <>
      <button type="button" class={danger ? "danger" : ""} onClick={() => dialog.current?.showModal()}>
        {label}
      </button>
      <dialog ref={dialog} aria-label={title}>
        <h2>{title}</h2>
        <div>{children}</div>
        <div class="actions">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" class={danger ? "danger" : "primary"} disabled={busy} onClick={confirm}>
            {confirmLabel ?? label}
          </button>
        </div>
      </dialog>
    </>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setCopied(true);
  };
  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(false), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  return (
    <button type="button" onClick={copy} aria-live="polite">
      {copied ? "Copied" : label}
    </button>
  );
}

interface PagerProps {
  page: number;
  hasNext: boolean;
  onNext: () => void;
  onPrevious: () => void;
  label: string;
}

export function Pager({ page, hasNext, onNext, onPrevious, label }: PagerProps) {
  if (page === 1 && !hasNext) return null;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={page === 1} onClick={onPrevious}>
        Previous page
      </button>
      <span>Page {page}</span>
      <button type="button" disabled={!hasNext} onClick={onNext}>
        Next page
      </button>
    </nav>
  );
}

export function Progress({ value, max, label }: { value: number; max: number; label: string }) {
  const percent = max > 0 ? Math.min(100, Math.floor((value / max) * 100)) : 100;
  return (
    <div class="progress">
      <progress value={percent} max={100} aria-label={label} aria-valuetext={`${percent}%`} />
      <span>{percent}%</span>
    </div>
  );
}

export function StateBadge({ state }: { state: string | null | undefined }) {
  const s = (state ?? "none").toLowerCase();
  return <span class={`badge s-${s.replace(/[^a-z]/g, "")}`}>{state ?? "never run"}</span>;
}

export function TableWrap({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
