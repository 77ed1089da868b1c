// The app's public REST API, as the console calls it: the API key, error bodies, SSE streams.

const KEY_ITEM = "mcp-tune-api-key";
// The API sits one level above the console (/ui/ → /), also behind a path prefix.
const ROOT = new URL("../", import.meta.url);

export class ApiError extends Error {
  // REST errors are {"detail": text | [{loc, msg}]}, /v1 errors {"error": {message, param}}.
  constructor(status, body) {
    const detail = body?.detail ?? body?.error?.message ?? `HTTP ${status}`;
    const text = Array.isArray(detail)
      ? detail.map((issue) => `${issue.loc.join(".")}: ${issue.msg}`).join("; ")
      : String(detail);
    super(text);
    this.status = status;
    this.detail = detail;
    this.param = body?.error?.param ?? null;
  }
}

let keyRequest = null;

// One dialog for every request that got a 401 meanwhile; resolves once a key is entered.
function askForKey(reason) {
  if (keyRequest) return keyRequest;
  const dialog = document.getElementById("key-dialog");
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  document.getElementById("key-error").textContent = reason;
  keyRequest = new Promise((resolve) => {
    form.addEventListener(
      "submit",
      (event) => {
        event.preventDefault();
        sessionStorage.setItem(KEY_ITEM, input.value.trim());
        input.value = "";
        dialog.close();
        keyRequest = null;
        document.getElementById("forget-key").hidden = false;
        resolve();
      },
      { once: true },
    );
  });
  dialog.showModal();
  return keyRequest;
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
  location.reload();
}

export function hasKey() {
  return sessionStorage.getItem(KEY_ITEM) !== null;
}

async function errorBody(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// fetch with the key; on 401 ask for a key and try again. Returns the Response (for streams).
export async function request(path, { method = "GET", body } = {}) {
  for (;;) {
    const headers = {};
    const key = sessionStorage.getItem(KEY_ITEM);
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(new URL(path.replace(/^\//, ""), ROOT), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      const error = new ApiError(401, await errorBody(response));
      await askForKey(`${error.message}. This app needs an API key.`);
      continue;
    }
    if (!response.ok) throw new ApiError(response.status, await errorBody(response));
    return response;
  }
}

export async function getJson(path) {
  return (await request(path)).json();
}

export async function postJson(path, body = {}) {
  return (await request(path, { method: "POST", body })).json();
}

// The `data:` events of a server-sent event stream, parsed as JSON, until [DONE].
export async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice("data: ".length);
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  }
}
