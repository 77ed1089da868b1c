// Models and tools: the served model (GET /model/info), LoRA adapters served per request
// (GET /v1/models, POST /v1/load_lora_adapter, /v1/unload_lora_adapter), the adapters jobs
// trained (GET /training/jobs), and every tool with its schema and a form to run it.

import { getJson, postJson } from "./api.js";
import { refreshModels } from "./chat.js";
import { el, pretty } from "./dom.js";
import { clearErrors, showErrors } from "./field_errors.js";
import { schemaForm } from "./schema_form.js";

const $ = (id) => document.getElementById(id);
let served = new Set(); // adapter names GET /v1/models lists
let trained = []; // jobs that left an adapter

const MODEL_FIELDS = [
  ["model_path", "path"],
  ["model_type", "type"],
  ["base_model_name", "base"],
  ["parameters", "parameters"],
  ["device", "device"],
  ["dtype", "dtype"],
  ["quantization", "quantization"],
  ["loaded_at", "loaded at"],
];

export async function showModel() {
  try {
    const info = await getJson("/model/info");
    $("model-info").replaceChildren(
      ...MODEL_FIELDS.flatMap(([key, label]) => [
        el("dt", {}, label),
        el(
          "dd",
          {},
          typeof info[key] === "number" ? info[key].toLocaleString() : (info[key] ?? "–"),
        ),
      ]),
    );
    $("served-model").textContent = `serving ${info.model_path}`;
  } catch (error) {
    $("model-info").replaceChildren(el("p", { class: "error" }, error.message));
  }
}

// Run a row's action, then show the adapters as they are now; the refusal beside the button.
async function act(button, call) {
  button.disabled = true;
  const slot = button.closest("tr").querySelector(".row-error");
  slot.textContent = "";
  try {
    await call();
    await refreshAdapters();
  } catch (error) {
    slot.textContent = error.message;
    button.disabled = false;
  }
}

function showTrained() {
  $("adapters-trained-body").replaceChildren(
    ...trained.map((job) => {
      const loaded = served.has(job.job_id);
      const load = el("button", { type: "button", disabled: loaded }, loaded ? "loaded" : "load");
      load.addEventListener("click", () =>
        act(load, () =>
          postJson("/v1/load_lora_adapter", { lora_name: job.job_id, lora_path: job.adapter_path }),
        ),
      );
      return el(
        "tr",
        { dataset: { job: job.job_id } },
        el("td", {}, el("code", {}, job.job_id)),
        el("td", {}, job.progress.state),
        el("td", {}, el("code", {}, job.adapter_path)),
        el("td", {}, load, el("small", { class: "row-error error" })),
      );
    }),
  );
}

export async function refreshAdapters() {
  const { data } = await getJson("/v1/models");
  const adapters = data.slice(1); // the first entry is the base model
  served = new Set(adapters.map((model) => model.id));
  $("adapters-served-body").replaceChildren(
    ...adapters.map((model) => {
      const unload = el("button", { type: "button" }, "unload");
      unload.addEventListener("click", () =>
        act(unload, () => postJson("/v1/unload_lora_adapter", { lora_name: model.id })),
      );
      return el(
        "tr",
        { dataset: { adapter: model.id } },
        el("td", {}, el("code", {}, model.id)),
        el("td", {}, new Date(model.created * 1000).toLocaleString()),
        el("td", {}, unload, el("small", { class: "row-error error" })),
      );
    }),
  );
  if (!adapters.length) {
    $("adapters-served-body").replaceChildren(
      el("tr", {}, el("td", { colspan: 3, class: "muted" }, "none")),
    );
  }
  showTrained();
  await refreshModels();
}

// Called with the job history whenever it changes (training.js).
export function setTrainedJobs(jobs) {
  trained = jobs.filter((job) => job.adapter_path);
  showTrained();
}

function toolEntry(name, schema, chat) {
  const form = schemaForm(schema.parameters);
  const outcome = el("pre", { class: "tool-outcome" });
  const run = el("form", { class: "tool-run" }, form.element, el("button", {}, "run"), outcome);
  run.addEventListener("submit", async (event) => {
    event.preventDefault();
    outcome.className = "tool-outcome";
    outcome.textContent = "running…";
    try {
      const { result } = await postJson("/tools/execute", {
        tool_name: name,
        arguments: form.read(),
      });
      outcome.className = "tool-outcome tool-result";
      outcome.textContent = pretty(result);
    } catch (error) {
      outcome.className = "tool-outcome tool-error";
      outcome.textContent = error.message;
    }
  });
  return el(
    "details",
    { class: "tool", dataset: { tool: name } },
    el(
      "summary",
      {},
      el("code", {}, name),
      chat
        ? el("span", { class: "badge" }, "chat")
        : el("span", { class: "badge muted" }, "not in chats"),
      " ",
      el("span", { class: "muted" }, schema.description),
    ),
    el("pre", { class: "schema" }, pretty(schema.parameters)),
    run,
  );
}

export async function initModels() {
  const form = $("adapter-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      lora_name: form.elements.lora_name.value.trim(),
      lora_path: form.elements.lora_path.value.trim(),
    };
    try {
      await postJson("/v1/load_lora_adapter", body);
      clearErrors(form);
      form.reset();
      await refreshAdapters();
    } catch (error) {
      showErrors(form, error, body);
    }
  });
  const listed = await getJson("/tools");
  const chat = new Set(listed.chat_tools);
  $("tool-list").replaceChildren(
    ...listed.tools.map((name) => toolEntry(name, listed.tool_schemas[name], chat.has(name))),
  );
  await Promise.all([showModel(), refreshAdapters()]);
}
