// Consent in a popup, followed through the connect session it runs.

import { el, api, Problem, readable } from "./{{ui.js}}";

/// Runs a connect session: a popup opens Latch's page for it (`connect_url`), from which the
/// person continues to the consent screen. The console follows the session by polling it: once
/// the popup is at the upstream it is another browsing context (every Latch page sends
/// Cross-Origin-Opener-Policy), which can neither reach this window nor be watched from it. A
/// blocked popup is said so, with Try again; Cancel ends the session. Status and buttons go in
/// `place`. The session as it ended.
export async function consent(path, request, place, upstream) {
  const session = await api("POST", path, request);
  const open = () => window.open(session.connect_url, "latch-consent", "popup,width=640,height=720");
  const cancel = el("button", {
    type: "button",
    text: "Cancel",
    onclick: async () => {
      cancel.disabled = true;
      try {
        await api("POST", `/v1/connect-sessions/${session.id}/cancel`);
      } catch {
        // It ended meanwhile: the next poll says how.
      }
    },
  });
  const show = (blocked) => {
    place.className = "outcome working";
    place.replaceChildren(
      el("p", {
        text: blocked
          ? `Your browser blocked the window for the consent in ${upstream}. Allow pop-ups for this site, then try again.`
          : `Waiting for the consent in ${upstream}…`,
      }),
      ...(blocked ? [el("button", { type: "button", text: "Try again", onclick: () => show(!open()) })] : []),
      cancel,
    );
  };
  show(!open());
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = await api("GET", `/v1/connect-sessions/${session.id}`);
      if (now.status !== "pending") return now;
    }
  } finally {
    place.className = "outcome";
    place.replaceChildren();
  }
}

/// Connects a credential again through a new consent; throws when it did not complete.
export async function reconnect(credential, place) {
  const ended = await consent(`/v1/credentials/${credential.id}/reconnect`, {}, place, credential.connector);
  if (ended.status !== "completed") throw new Problem(400, { detail: `Not reconnected: ${readable(ended.error || ended.status)}.` });
}
