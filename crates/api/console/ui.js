// What every screen of the console shares: building DOM, calling the REST API with the key
// of the session, addresses, dialogs that ask before a destructive action, and feedback while
// work runs. The API key lives in sessionStorage only and goes in the Authorization header,
// never in a URL.

export const KEY = "latch.api_key";
export const main = document.getElementById("main");

/// Who is signed in (`GET /v1/me`), or null.
export const session = { me: null, onRefused: () => {}, onNavigate: () => {} };

let ids = 0;

export class Problem extends Error {
  constructor(status, body) {
    super(readable(body && body.detail ? body.detail : `The server answered ${status}.`));
    this.status = status;
    this.body = body || {};
  }
}

/// A server message for people: API field names in back quotes read as plain words.
export function readable(text) {
  return String(text).replace(/`([^`]*)`/g, "$1");
}

/// An element; attributes named on… are listeners, `text` its text. Null children are left out.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...present(children));
  return node;
}

/// The children worth showing: `replaceChildren(null)` would show the word "null".
export function present(children) {
  return children.flat().filter((child) => child !== null && child !== undefined && child !== false);
}

/// Puts `children` on the screen in place of what was there.
export function show(...children) {
  main.replaceChildren(...present(children));
}

export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

export async function api(method, path, body, headers = {}) {
  const sent = { Authorization: `Bearer ${sessionStorage.getItem(KEY)}`, ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new Problem(0, { detail: "Latch could not be reached. Check the connection and try again." });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401 && path !== "/v1/me") {
    session.onRefused();
    throw new Problem(401, data);
  }
  if (!response.ok) throw new Problem(response.status, data);
  return data;
}

/// Every page of a list, following `next_cursor` (for choices that must be complete).
export async function everything(path) {
  const items = [];
  let cursor = null;
  do {
    const joiner = path.includes("?") ? "&" : "?";
    const page = await api("GET", `${path}${joiner}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

export function can(scope) {
  const me = session.me;
  return !!me && (me.scopes.includes("admin") || me.scopes.includes(scope));
}

export function alertBox() {
  return el("p", { role: "alert" });
}

export function showError(box, error) {
  box.textContent = error instanceof Problem ? error.message : "Latch could not be reached.";
}

/// A problem's field errors beside the fields they name (marked invalid, the first one
/// focused); the box says what no field shows.
export function showFieldErrors(fields, box, problem) {
  const listed = (problem.body && problem.body.errors) || [];
  const unplaced = [];
  let first = null;
  for (const item of listed) {
    const field = fields.find((candidate) => candidate.path === item.field);
    if (field) {
      field.error.textContent = readable(item.message);
      field.input.setAttribute("aria-invalid", "true");
      first = first || field.input;
    } else unplaced.push(item);
  }
  if (!(problem instanceof Problem)) box.textContent = "Latch could not be reached.";
  else if (!listed.length) box.textContent = problem.message;
  else if (unplaced.length) box.textContent = unplaced.map((item) => `${readable(item.field)}: ${readable(item.message)}`).join(" ");
  else box.textContent = "Check the marked fields.";
  if (first) first.focus();
}

/// Clears what `showFieldErrors` marked.
export function clearFieldErrors(fields, box) {
  box.textContent = "";
  for (const field of fields) {
    field.error.textContent = "";
    field.input.removeAttribute("aria-invalid");
  }
}

export function when(text) {
  return text ? new Date(text).toLocaleString() : "never";
}

export const statusText = {
  valid: "valid",
  invalid: "invalid",
  unreachable: "unreachable",
  error: "error",
  reauthorization_required: "reauthorization required",
  unverified: "unverified",
  degraded: "degraded",
};

// Addresses ------------------------------------------------------------------------------

/// Shows the screen at `path` (under /console/) and records it in the history, so that
/// reload, Back and a shared link land there.
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else if (path !== location.pathname + location.search) history.pushState(null, "", path);
  session.onNavigate();
}

/// A link to a console address: a real link (it opens in a new tab too), followed in place.
export function link(text, path, attributes = {}) {
  return el("a", {
    href: path,
    text,
    ...attributes,
    onclick: (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      navigate(path);
    },
  });
}

// Dialogs and feedback ------------------------------------------------------------------

/// A modal dialog put on the page; `close()` takes it away again.
export function modal(label, ...children) {
  const dialog = el("dialog", { "aria-label": label }, ...children);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/// Closes every open dialog (the key was refused, or the screen changed).
export function closeDialogs() {
  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.close();
    dialog.remove();
  }
}

/// Asks before a destructive action: resolves true only when the person presses `action`.
/// Cancel has the focus, so a stray Enter does nothing.
export function confirmAction({ title, text, action }) {
  return new Promise((resolve) => {
    let answer = false;
    const cancel = el("button", { type: "button", text: "Cancel", onclick: () => dialog.close() });
    const dialog = modal(
      title,
      el("h2", { text: title }),
      el("p", { text }),
      el(
        "div",
        { class: "actions" },
        cancel,
        el("button", {
          type: "button",
          class: "danger",
          text: action,
          onclick: () => {
            answer = true;
            dialog.close();
          },
        }),
      ),
    );
    dialog.addEventListener("close", () => resolve(answer));
    cancel.focus();
  });
}

/// Runs `work` with `controls` disabled and `said` telling what is going on; the first
/// control shows it is busy. Pressing again while it runs does nothing.
export async function busy(controls, said, text, work) {
  const list = present([controls]);
  for (const control of list) control.disabled = true;
  if (list[0]) list[0].setAttribute("aria-busy", "true");
  if (said) {
    said.className = "outcome working";
    said.textContent = text;
  }
  try {
    return await work();
  } finally {
    for (const control of list) control.disabled = false;
    if (list[0]) list[0].removeAttribute("aria-busy");
    if (said && said.classList.contains("working")) {
      said.className = "outcome";
      said.textContent = "";
    }
  }
}

/// A result for the person: good ones and bad ones look and read differently.
export function outcome(box, good, text) {
  box.className = `outcome ${good ? "good" : "bad"}`;
  box.textContent = `${good ? "✓" : "✗"} ${text}`;
}

/// What an empty list says, with the first thing to do.
export function emptyState(text, action) {
  return el("div", { class: "empty" }, el("p", { text }), action || null);
}

/// A text to copy, in a fixed-width font, with Copy and a word when it is copied.
export function copyable(text, label) {
  const output = el("output", { class: "copyable", text, "aria-label": label });
  const said = el("span", { role: "status" });
  return el(
    "div",
    { class: "copy" },
    output,
    el("button", {
      type: "button",
      text: "Copy",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(text);
          said.textContent = "Copied";
        } catch {
          const range = document.createRange();
          range.selectNodeContents(output);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          said.textContent = "Selected: press Ctrl+C (⌘C) to copy";
        }
      },
    }),
    said,
  );
}

/// A list that shows one page and a "Show more" button while the server has more.
/// `fetchPage(cursor)` answers `{items, next_cursor}`; `render(item)` one item's node, put
/// in `list`; the button goes after `below` (a table's body: the table). Resolves with the
/// first page's items.
export async function pagedList(list, fetchPage, render, { more = "Show more", error, below = list } = {}) {
  const button = el("button", { type: "button", class: "more", text: more });
  const count = el("p", { class: "help", role: "status" });
  const footer = el("div", { class: "actions" }, button, count);
  let shown = 0;
  const load = async (cursor) => {
    const page = await fetchPage(cursor);
    list.append(...page.items.map(render));
    shown += page.items.length;
    button.hidden = !page.next_cursor;
    count.textContent = page.next_cursor ? `${shown} shown; more follow.` : "";
    button.onclick = () =>
      busy(button, null, "", () => load(page.next_cursor)).catch((problem) => error && showError(error, problem));
    return page.items;
  };
  below.after(footer);
  return load(null);
}

/// A field's label, marked (by the style sheet) when the field must be filled in.
export function label(forId, text, required) {
  return el("label", { for: forId, class: required ? "required" : null, text });
}
