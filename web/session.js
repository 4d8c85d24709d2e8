// Sign-in at the user pool /config.json names: the user pools API's JSON 1.1 operations
// (X-Amz-Target) POSTed straight to its endpoint, as the AWS SDKs do (Cognito's own endpoint on
// AWS, moto's locally), for an app client without a secret. The tokens live in this tab's
// sessionStorage (gone when the tab closes); the password is never kept, only sent once.

const STORAGE_KEY = "text2image.session";
const TARGET_PREFIX = "AWSCognitoIdentityProviderService.";
// An ID token with less than this left is refreshed before an API call: the call, and the run
// it waits for, must not outlive the token.
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

export const NEW_PASSWORD_REQUIRED = "NEW_PASSWORD_REQUIRED";

// Cognito refused (kind: its exception name, such as NotAuthorizedException).
export class SignInError extends Error {
  constructor(kind, message) {
    super(message || kind);
    this.kind = kind;
  }
}

// The user must sign in (again); the message says why.
export class SignedOut extends Error {}

// A JWT's claims, read without checking the signature: only to know whose it is and when it
// expires; the API checks the token itself.
export function claimsOf(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(payload.padEnd(payload.length + (4 - payload.length % 4) % 4, "=")), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export class Session {
  constructor(auth) {
    this.auth = auth;  // config.json's auth: region, userPoolId, clientId, endpoint
    this.tokens = this.load();
  }

  load() {
    try {
      const tokens = JSON.parse(sessionStorage.getItem(STORAGE_KEY));
      return tokens && tokens.idToken && tokens.refreshToken ? tokens : null;
    } catch (error) {
      return null;
    }
  }

  get signedIn() {
    return this.tokens !== null;
  }

  get username() {
    return this.tokens ? this.tokens.username : "";
  }

  async call(operation, body) {
    const response = await fetch(this.auth.endpoint, {
      method: "POST",
      headers: {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET_PREFIX + operation},
      body: JSON.stringify({ClientId: this.auth.clientId, ...body}),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      // JSON 1.1 errors: "__type" names the exception, sometimes namespaced ("ns#Name").
      throw new SignInError(String(answer.__type || `HTTP ${response.status}`).split("#").pop(), answer.message || answer.Message);
    }
    return answer;
  }

  keep(result) {
    const claims = claimsOf(result.IdToken);
    this.tokens = {
      idToken: result.IdToken,
      refreshToken: result.RefreshToken || (this.tokens && this.tokens.refreshToken),  // a refresh keeps the one it used unless rotated
      username: claims["cognito:username"],
      expires: claims.exp * 1000,
    };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.tokens));
  }

  // Signed in: null. A further step (NEW_PASSWORD_REQUIRED...): {name, session, username}.
  outcome(answer, username) {
    if (answer.AuthenticationResult) {
      this.keep(answer.AuthenticationResult);
      return null;
    }
    const parameters = answer.ChallengeParameters || {};
    return {name: answer.ChallengeName, session: answer.Session, username: parameters.USERNAME || username};
  }

  async signIn(username, password) {
    const answer = await this.call("InitiateAuth", {AuthFlow: "USER_PASSWORD_AUTH", AuthParameters: {USERNAME: username, PASSWORD: password}});
    return this.outcome(answer, username);
  }

  // A user an administrator created signs in first with a temporary password, then sets their own.
  async setNewPassword(challenge, password) {
    const answer = await this.call("RespondToAuthChallenge", {
      ChallengeName: NEW_PASSWORD_REQUIRED,
      Session: challenge.session,
      ChallengeResponses: {USERNAME: challenge.username, NEW_PASSWORD: password},
    });
    return this.outcome(answer, challenge.username);
  }

  // The ID token for an API call, refreshed first when it is about to expire.
  async idToken() {
    if (!this.tokens) throw new SignedOut("Please sign in.");
    if (this.tokens.expires - Date.now() < REFRESH_MARGIN_MS) {
      try {
        const answer = await this.call("InitiateAuth", {AuthFlow: "REFRESH_TOKEN_AUTH", AuthParameters: {REFRESH_TOKEN: this.tokens.refreshToken}});
        this.keep(answer.AuthenticationResult);
      } catch (error) {
        this.forget();
        throw new SignedOut("Your session has ended; please sign in again.");
      }
    }
    return this.tokens.idToken;
  }

  forget() {
    this.tokens = null;
    sessionStorage.removeItem(STORAGE_KEY);
  }

  // Forgets the tokens at once, then asks Cognito to revoke the refresh token (RevokeToken), so a
  // copy of it is no use either; the user is signed out here whatever Cognito answers.
  async signOut() {
    const refreshToken = this.tokens && this.tokens.refreshToken;
    this.forget();
    if (refreshToken) await this.call("RevokeToken", {Token: refreshToken}).catch(() => undefined);
  }
}

// An API call; signed in (``session`` a Session; null where the API takes no sign-in), with the
// user's ID token (refreshed when about to expire). A 401 means the token no longer passes: the
// session is forgotten and the user signs in again (SignedOut).
export async function signedInFetch(session, path, options = {}) {
  const headers = {...(options.headers || {})};
  if (session) headers.Authorization = await session.idToken();
  const response = await fetch(path, {...options, headers});
  if (response.status === 401 && session) {
    session.forget();
    throw new SignedOut("Your session has ended; please sign in again.");
  }
  return response;
}

// Over the user's daily quota (a run, or a batch refused whole): the API's message, and when it
// resets in the user's own time.
export function quotaText(body, lead = "Daily quota reached") {
  const resets = new Date(body.resets_at);
  const local = Number.isNaN(resets.getTime()) ? "" : ` It resets at ${resets.toLocaleString()}.`;
  return `${lead}: ${body.message}.${local}`;
}
