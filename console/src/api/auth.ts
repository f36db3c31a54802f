// People: sign up, sign in (the API sets the HttpOnly session cookie), who am I, sign out.
import { api, type Schemas, unwrap } from "./client";

export async function signUp(body: Schemas["SignupRequest"]): Promise<Schemas["UserOut"]> {
  return (await unwrap(api().POST("/signup", { body }))).data;
}

export async function signIn(body: Schemas["LoginRequest"]): Promise<Schemas["LoginOut"]> {
  return (await unwrap(api().POST("/login", { body }))).data;
}

export async function whoAmI(): Promise<Schemas["WhoAmI"]> {
  return (await unwrap(api().GET("/auth"))).data;
}

export async function signOut(): Promise<void> {
  await unwrap(api().POST("/logout"));
}
