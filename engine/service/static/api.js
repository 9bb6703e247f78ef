// Calls to the engine service with its bearer token, and its errors as short messages.

const TOKEN_KEY = "beautynet.engine-token";
export const LIVE_PROTOCOL = "beautynet.live";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let askForToken = null; // (wasWrong: boolean) => Promise<string>, set by the page

export function onTokenNeeded(ask) {
  askForToken = ask;
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") return body.error;
  } catch {
    // not JSON: fall through to the status line
  }
  return `the engine answered ${response.status} ${response.statusText}`.trim();
}

// fetch() with the token; a 401 asks for the token (once, or again when it was wrong).
export async function call(path, options = {}) {
  for (;;) {
    const headers = new Headers(options.headers || {});
    if (token()) headers.set("Authorization", `Bearer ${token()}`);
    let response;
    try {
      response = await fetch(path, { ...options, headers });
    } catch {
      throw new ApiError(0, "The engine service cannot be reached. Is it still running?");
    }
    if (response.status === 401 && askForToken) {
      sessionStorage.setItem(TOKEN_KEY, await askForToken(token() !== ""));
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
    return response;
  }
}

// Browsers cannot set headers on a WebSocket: the token travels as a subprotocol.
export function liveProtocols() {
  if (!token()) return [LIVE_PROTOCOL];
  const bytes = new TextEncoder().encode(token());
  const encoded = btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
  return [LIVE_PROTOCOL, `bearer.${encoded}`];
}

export function liveUrl(params) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/v1/live?${new URLSearchParams(params)}`;
}
