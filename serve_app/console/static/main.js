// The console's start: pages by URL hash (#chat, #training, #models), then each page's data.

import { forgetKey, getJson, hasKey } from "./api.js";
import { initChat, refreshModels } from "./chat.js";
import { initModels, refreshAdapters, setTrainedJobs, showModel } from "./models.js";
import { initTraining } from "./training.js";

const $ = (id) => document.getElementById(id);
const PAGES = ["chat", "training", "models"];
let ready = false;
// What another page changed (an adapter loaded, a job's adapter) shows when coming back.
const REFRESH = {
  chat: refreshModels,
  models: () => Promise.all([showModel(), refreshAdapters()]),
};

function showPage() {
  const asked = location.hash.slice(1);
  const page = PAGES.includes(asked) ? asked : PAGES[0];
  for (const name of PAGES) {
    $(`page-${name}`).hidden = name !== page;
    document.querySelector(`nav a[href="#${name}"]`).toggleAttribute("aria-current", name === page);
  }
  document.body.dataset.page = page;
  if (!ready) return;
  REFRESH[page]?.().catch((error) => ($("fatal").textContent = error.message));
}

async function main() {
  window.addEventListener("hashchange", showPage);
  showPage();
  $("key-dialog").addEventListener("cancel", (event) => event.preventDefault());
  $("forget-key").hidden = !hasKey();
  $("forget-key").addEventListener("click", forgetKey);
  const config = await getJson("/config");
  await Promise.all([initChat(config), initTraining(config, setTrainedJobs), initModels()]);
  ready = true;
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  $("fatal").textContent = `The console could not start: ${error.message}`;
});
