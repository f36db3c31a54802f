// The app: the session (GET /auth on start), then one page per path.
import { useEffect, useState } from "preact/hooks";
import { whoAmI } from "./api/auth";
import type { Schemas } from "./api/client";
import { Layout } from "./components/Layout";
import { Loading } from "./components/ui";
import type { ConsoleConfig } from "./config";
import { ProjectPages } from "./pages/ProjectPages";
import { Projects } from "./pages/Projects";
import { SignIn, SignUp } from "./pages/SignIn";
import { NotFound } from "./pages/NotFound";
import { match, navigate, usePath } from "./router";
import { SessionContext } from "./session";

const PUBLIC = ["/sign-in", "/sign-up"];

export function App({ config }: { config: ConsoleConfig }) {
  const path = usePath();
  const [user, setUser] = useState<Schemas["WhoAmI"] | null | undefined>(undefined);
  useEffect(() => {
    whoAmI().then(setUser, () => setUser(null));
    const signedOut = () => setUser(null);
    window.addEventListener("ingestplane:signed-out", signedOut);
    return () => window.removeEventListener("ingestplane:signed-out", signedOut);
  }, []);
  useEffect(() => {
    if (user === null && !PUBLIC.includes(path)) {
      navigate(`/sign-in?next=${encodeURIComponent(path + location.search)}`, true);
    }
  }, [user, path]);
  if (user === undefined) return <Loading what="the console" />;
  return (
    <SessionContext.Provider value={{ user, setUser }}>
      <Layout config={config}>{user ? <Signed path={path} /> : <Public path={path} />}</Layout>
    </SessionContext.Provider>
  );
}

function Public({ path }: { path: string }) {
  return path === "/sign-up" ? <SignUp /> : <SignIn />;
}

function Signed({ path }: { path: string }) {
  if (path === "/" || path === "/projects" || PUBLIC.includes(path)) return <Projects />;
  const project = match("/projects/:pid", path) ?? matchPrefix(path);
  if (project) return <ProjectPages projectId={project.pid} path={path} />;
  return <NotFound what="page" />;
}

function matchPrefix(path: string): { pid: string } | null {
  const m = /^\/projects\/([^/]+)\//.exec(path);
  return m ? { pid: decodeURIComponent(m[1]) } : null;
}
