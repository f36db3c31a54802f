import { Link } from "../router";

export function NotFound({ what }: { what: string }) {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        This {what} was not found, or you have no access to it. <Link href="/">Back to your projects</Link>
      </p>
    </section>
  );
}
