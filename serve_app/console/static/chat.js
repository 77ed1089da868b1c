// The chat playground. Each reply streams from POST /v1/chat/completions (the only chat route
// that streams, and the one that takes an adapter by `model`); the console runs the reply's tool
// calls with POST /tools/execute and asks again, round by round, as an OpenAI client does. It
// keeps the limits /chat keeps: only tools GET /tools lists as chat tools (the operator's
// tools.chat_capabilities) can be offered, and rounds stop at generation.max_tool_rounds.

import { events, getJson, postJson, request } from "./api.js";
import { el, pretty } from "./dom.js";

const $ = (id) => document.getElementById(id);
let history = []; // the conversation, in OpenAI's message format
let schemas = {}; // tool name → function schema
let maxRounds = 0;

function number(input) {
  return input.value === "" ? undefined : input.valueAsNumber;
}

function log(node) {
  $("chat-log").append(node);
  node.scrollIntoView({ block: "end" });
  return node;
}

function setBusy(busy) {
  $("chat-log").dataset.state = busy ? "busy" : "idle";
  $("chat-send").disabled = busy;
}

function offeredTools() {
  if (!$("chat-use-tools").checked) return [];
  return [...$("chat-tools").querySelectorAll("input:checked")].map((box) => box.value);
}

function toolCard(call, round) {
  const outcome = el("pre", { class: "tool-pending" }, "running…");
  log(
    el(
      "div",
      { class: "tool-call", dataset: { round, tool: call.function.name } },
      el(
        "div",
        {},
        el("span", { class: "badge" }, `round ${round}`),
        " ",
        el("code", {}, call.function.name),
      ),
      el("pre", { class: "tool-args" }, call.function.arguments),
      outcome,
    ),
  );
  return outcome;
}

// Run one call; the tool message the model reads next (the result, or the error to correct).
async function runCall(call, round) {
  const outcome = toolCard(call, round);
  const name = call.function.name;
  const message = { role: "tool", tool_call_id: call.id, name };
  try {
    const args = JSON.parse(call.function.arguments || "{}");
    const { result } = await postJson("/tools/execute", { tool_name: name, arguments: args });
    outcome.className = "tool-result";
    outcome.textContent = pretty(result);
    return { ...message, content: JSON.stringify(result) };
  } catch (error) {
    outcome.className = "tool-error";
    outcome.textContent = error.message;
    return { ...message, content: JSON.stringify({ error: error.message }) };
  }
}

// Stream one reply into a new bubble; its text and tool calls.
async function streamReply(tools, round) {
  const system = $("chat-system").value.trim();
  const body = {
    model: $("chat-model").value,
    messages: system ? [{ role: "system", content: system }, ...history] : history,
    temperature: number($("chat-temperature")),
    max_tokens: number($("chat-max-tokens")),
    stream: true,
  };
  if (tools.length)
    body.tools = tools.map((name) => ({ type: "function", function: schemas[name] }));
  const text = el("div", { class: "text" });
  const bubble = log(el("div", { class: "msg assistant streaming", dataset: { round } }, text));
  let content = "";
  const calls = [];
  try {
    const response = await request("/v1/chat/completions", { method: "POST", body });
    for await (const chunk of events(response)) {
      if (chunk.error) throw new Error(chunk.error.message); // the stream failed after 200
      const delta = chunk.choices[0].delta;
      if (delta.content) {
        content += delta.content;
        text.textContent = content;
      }
      for (const call of delta.tool_calls ?? []) calls[call.index] = call;
    }
  } finally {
    bubble.classList.remove("streaming");
  }
  if (!content && calls.length) bubble.remove();
  return { content, calls };
}

async function turn() {
  const tools = offeredTools();
  for (let round = 1; ; round++) {
    const { content, calls } = await streamReply(tools, round);
    if (!calls.length) {
      history.push({ role: "assistant", content });
      return;
    }
    if (round > maxRounds) {
      history.push({ role: "assistant", content });
      const asked = calls.map((call) => call.function.name).join(", ");
      log(
        el(
          "p",
          { class: "note" },
          `stopped after ${maxRounds} tool rounds; the model still asked for ${asked}`,
        ),
      );
      return;
    }
    history.push({ role: "assistant", content, tool_calls: calls });
    history.push(...(await Promise.all(calls.map((call) => runCall(call, round)))));
  }
}

async function send(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text || $("chat-log").dataset.state === "busy") return;
  const before = history.length;
  input.value = "";
  $("chat-error").textContent = "";
  setBusy(true);
  const bubble = log(el("div", { class: "msg user" }, text));
  history.push({ role: "user", content: text });
  try {
    await turn();
  } catch (error) {
    history.length = before; // the turn failed: send it again, or change the settings
    bubble.classList.add("failed");
    $("chat-error").textContent = error.message;
  } finally {
    setBusy(false);
  }
}

// The model picker: the base model and every adapter served per request (GET /v1/models).
export async function refreshModels() {
  const select = $("chat-model");
  const chosen = select.value;
  const { data } = await getJson("/v1/models");
  select.replaceChildren(
    ...data.map((model, index) =>
      el(
        "option",
        { value: model.id },
        index === 0 ? `${model.id} (base)` : `${model.id} (LoRA adapter)`,
      ),
    ),
  );
  if (data.some((model) => model.id === chosen)) select.value = chosen;
}

export async function initChat(config) {
  maxRounds = config.generation.max_tool_rounds;
  $("chat-temperature").value = config.generation.temperature;
  $("chat-max-tokens").value = config.generation.max_new_tokens;
  $("chat-system").value = config.generation.system_prompt ?? "";
  $("chat-form").addEventListener("submit", send);
  $("chat-input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("chat-form").requestSubmit();
    }
  });
  $("chat-clear").addEventListener("click", () => {
    history = [];
    $("chat-log").replaceChildren();
    $("chat-error").textContent = "";
  });
  $("chat-use-tools").addEventListener("change", (event) => {
    $("chat-tools").disabled = !event.target.checked;
  });
  const listed = await getJson("/tools");
  schemas = listed.tool_schemas;
  const chat = new Set(listed.chat_tools);
  $("chat-tools").append(
    ...listed.tools.map((name) =>
      el(
        "label",
        {
          class: "inline",
          title: chat.has(name)
            ? schemas[name].description
            : "kept from chats by tools.chat_capabilities",
        },
        el("input", {
          type: "checkbox",
          value: name,
          checked: chat.has(name),
          disabled: !chat.has(name),
        }),
        name,
      ),
    ),
  );
  setBusy(false);
  await refreshModels();
}
