// The frame of every page: the header (product, who is signed in, sign out) and the main landmark.
import type { ComponentChildren } from "preact";
import { signOut } from "../api/auth";
import type { ConsoleConfig } from "../config";
import { Link, navigate } from "../router";
import { useSession } from "../session";

export function Layout({ config, children }: { config: ConsoleConfig; children: ComponentChildren }) {
  const { user, setUser } = useSession();
  const leave = async () => {
    try {
      await signOut();
    } finally {
      setUser(null);
      navigate("/sign-in");
    }
  };
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          ingestplane
        </Link>
        {config.environment && <span class="env">{config.environment}</span>}
        {user && (
          <div class="who">
            <span aria-label="Signed in as">{user.username}</span>
            <button type="button" onClick={leave}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main">{children}</main>
    </>
  );
}
