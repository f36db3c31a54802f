// The project a page is in: ProjectPages provides it, every project page reads it with useProject().
// Its own module so the pages and ProjectPages (which imports every page) import no circle.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Project } from "../api/projects";

export interface ProjectScope {
  project: Project;
  canWrite: boolean; // editor or admin: connectors, jobs, syncs
  isAdmin: boolean; // members, API keys, rename, delete
  reload: () => Promise<void>;
}

export const ProjectContext = createContext<ProjectScope | null>(null);

export function useProject(): ProjectScope {
  const scope = useContext(ProjectContext);
  if (!scope) throw new Error("useProject outside a project");
  return scope;
}
