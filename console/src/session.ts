// Who is signed in: the app's one piece of shared state, read by the layout and the pages.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Schemas } from "./api/client";

export interface Session {
  user: Schemas["WhoAmI"] | null;
  setUser: (user: Schemas["WhoAmI"] | null) => void;
}

export const SessionContext = createContext<Session>({ user: null, setUser: () => {} });

export const useSession = () => useContext(SessionContext);
