// Sign in and sign up. The API sets the session cookie; its messages (wrong credentials, a weak
// password, a taken name) are shown as they come, by their field where they name one.
import { useState } from "preact/hooks";
import { signIn, signUp, whoAmI } from "../api/auth";
import { ApiError } from "../api/client";
import { ErrorNotice, Notice, TextField } from "../components/ui";
import { Link, navigate } from "../router";
import { useSession } from "../session";

const POLICY = "At least 8 characters with an upper-case letter, a lower-case letter, a digit and a symbol.";

function nextPath(): string {
  const next = new URLSearchParams(location.search).get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/sign-") ? next : "/";
}

function useSubmit() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async (e: Event, action: () => Promise<void>) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fields = error instanceof ApiError ? error.fields : {};
  return { error, busy, run, fields };
}

export function SignIn() {
  const { setUser } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const form = useSubmit();
  const submit = (e: Event) =>
    form.run(e, async () => {
      await signIn({ username, password });
      setUser(await whoAmI());
      navigate(nextPath(), true);
    });
  const created = new URLSearchParams(location.search).get("created");
  return (
    <section class="narrow">
      <h1>Sign in</h1>
      {created && <Notice kind="ok">Account {created} created. Sign in to continue.</Notice>}
      <form onSubmit={submit} noValidate>
        <TextField label="Username or email" value={username} onValue={setUsername} autoComplete="username" error={form.fields.username} />
        <TextField label="Password" type="password" value={password} onValue={setPassword} autoComplete="current-password" error={form.fields.password} />
        <ErrorNotice error={form.error} />
        <button class="primary" type="submit" disabled={form.busy}>
          Sign in
        </button>
      </form>
      <p>
        No account yet? <Link href="/sign-up">Sign up</Link>
      </p>
    </section>
  );
}

export function SignUp() {
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const form = useSubmit();
  const submit = (e: Event) =>
    form.run(e, async () => {
      const user = await signUp({ email, username, password });
      navigate(`/sign-in?created=${encodeURIComponent(user.username)}`);
    });
  return (
    <section class="narrow">
      <h1>Sign up</h1>
      <form onSubmit={submit} noValidate>
        <TextField label="Email" type="email" value={email} onValue={setEmail} autoComplete="email" error={form.fields.email} />
        <TextField label="Username" value={username} onValue={setUsername} autoComplete="username" error={form.fields.username}
          hint="3 to 64 letters, digits, '.', '_' or '-'." />
        <TextField label="Password" type="password" value={password} onValue={setPassword} autoComplete="new-password"
          error={form.fields.password} hint={POLICY} />
        <ErrorNotice error={form.error} />
        <button class="primary" type="submit" disabled={form.busy}>
          Create account
        </button>
      </form>
      <p>
        Have an account? <Link href="/sign-in">Sign in</Link>
      </p>
    </section>
  );
}
