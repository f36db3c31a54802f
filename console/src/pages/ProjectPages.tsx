// Everything inside one project: it is loaded once (a stranger's project is "not found"), its tabs,
// and the page of the path. The caller's role decides which write actions are shown.
import { getProject } from "../api/projects";
import { ProjectContext, type ProjectScope } from "../lib/project";
import { ErrorNotice, Loading } from "../components/ui";
import { useLoad } from "../lib/hooks";
import { Link, match } from "../router";
import { ApiKeys } from "./ApiKeys";
import { ConnectorForm } from "./ConnectorForm";
import { Connectors } from "./Connectors";
import { JobForm } from "./JobForm";
import { JobPage } from "./JobPage";
import { Jobs } from "./Jobs";
import { Members } from "./Members";
import { NotFound } from "./NotFound";
import { ProjectSettings } from "./ProjectSettings";
import { RunPage } from "./RunPage";
import { SyncPage } from "./SyncPage";
import { Syncs } from "./Syncs";
import { isApiError } from "../api/compat";

const TABS: [string, string][] = [
  ["jobs", "Jobs"],
  ["sources", "Sources"],
  ["destinations", "Destinations"],
  ["syncs", "Upload syncs"],
  ["members", "Members"],
  ["api-keys", "API keys"],
  ["settings", "Settings"],
];

export function ProjectPages({ projectId, path }: { projectId: string; path: string }) {
  const loaded = useLoad(() => getProject(projectId), [projectId]);
  if (isApiError(loaded.error, 404) || isApiError(loaded.error, 403)) return <NotFound what="project" />;
  if (loaded.error) return <ErrorNotice error={loaded.error} />;
  if (!loaded.value) return <Loading what="the project" />;
  const project = loaded.value;
  const scope: ProjectScope = {
    project,
    canWrite: project.role !== "viewer",
    isAdmin: project.role === "admin",
    reload: loaded.reload,
  };
  const base = `/projects/${project.id}`;
  const tabs = TABS.filter(([slug]) => slug !== "api-keys" || scope.isAdmin);
  return (
    <ProjectContext.Provider value={scope}>
      <div class="project-head">
        <p class="crumbs">
          <Link href="/">Projects</Link> / <strong>{project.name}</strong> <span class="badge">{project.role}</span>
        </p>
        <nav class="tabs" aria-label="Project">
          {tabs.map(([slug, label]) => (
            <Link key={slug} href={`${base}/${slug}`} aria-current={path.startsWith(`${base}/${slug}`) ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
      </div>
      <ProjectPage path={path.slice(base.length) || "/jobs"} />
    </ProjectContext.Provider>
  );
}

function ProjectPage({ path }: { path: string }) {
  for (const kind of ["source", "destination"] as const) {
    const plural = `${kind}s`;
    if (path === `/${plural}`) return <Connectors kind={kind} />;
    if (path === `/${plural}/new`) return <ConnectorForm kind={kind} />;
    const edit = match(`/${plural}/:id`, path);
    if (edit) return <ConnectorForm kind={kind} id={edit.id} />;
  }
  if (path === "/jobs" || path === "/") return <Jobs />;
  if (path === "/jobs/new") return <JobForm />;
  const run = match("/jobs/:jid/runs/:rid", path);
  if (run) return <RunPage jobId={run.jid} runId={run.rid} />;
  const edit = match("/jobs/:jid/edit", path);
  if (edit) return <JobForm jobId={edit.jid} />;
  const job = match("/jobs/:jid", path);
  if (job) return <JobPage jobId={job.jid} />;
  if (path === "/syncs") return <Syncs />;
  const sync = match("/syncs/:sid", path);
  if (sync) return <SyncPage syncId={Number(sync.sid)} />;
  if (path === "/members") return <Members />;
  if (path === "/api-keys") return <ApiKeys />;
  if (path === "/settings") return <ProjectSettings />;
  return <NotFound what="page" />;
}
