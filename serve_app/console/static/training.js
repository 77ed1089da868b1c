// Training: a job form (POST /training/start; the API's refusals shown beside their fields), the
// running job from GET /training/status (progress, loss curve, evaluation), stop, and history.

import { getJson, postJson } from "./api.js";
import { clearErrors, showErrors } from "./field_errors.js";
import { duration, el, percent } from "./dom.js";

const $ = (id) => document.getElementById(id);
const POLL_RUNNING_MS = 1000;
const POLL_IDLE_MS = 5000;
const CHART_HEIGHT = 260;
const STEP_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]; // whole steps
let chart = null;
let lastState = null;
let jobs = []; // GET /training/jobs, read again when the status's state changes
let timer = null;
let onJobsChanged = () => {};

// Form values as the API takes them; an empty field keeps the config's value.
function formValues(form) {
  const values = {};
  for (const field of form.elements) {
    if (!field.name) continue;
    if (field.type === "checkbox") values[field.name] = field.checked;
    else if (field.value === "") continue;
    else if (field.type === "number") values[field.name] = field.valueAsNumber;
    else values[field.name] = field.value.trim();
  }
  return values;
}

async function start(event) {
  event.preventDefault();
  const form = event.target;
  const { dataset_path, ...config_updates } = formValues(form);
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await postJson("/training/start", { config_updates, dataset_path });
    clearErrors(form);
    await poll();
  } catch (error) {
    showErrors(form, error, { dataset_path });
  } finally {
    button.disabled = false;
  }
}

async function stop() {
  $("train-stop").disabled = true;
  try {
    await postJson("/training/stop");
  } catch (error) {
    $("train-message").textContent = error.message;
  }
  await poll();
}

function drawLoss(history) {
  const box = $("loss-chart");
  const data = [history.map((point) => point.step), history.map((point) => point.loss)];
  if (!chart) {
    chart = new uPlot(
      {
        width: box.clientWidth || 600,
        height: CHART_HEIGHT,
        scales: { x: { time: false } },
        axes: [{ label: "step", incrs: STEP_TICKS }, { label: "loss" }],
        series: [{ label: "step" }, { label: "loss", stroke: "#2563eb", width: 2 }],
      },
      data,
      box,
    );
  } else {
    chart.setData(data);
  }
  box.dataset.points = history.length;
}

function evaluationRows(evaluation) {
  const { before = {}, after = {} } = evaluation;
  const categories = new Set([
    ...Object.keys(before.by_category ?? {}),
    ...Object.keys(after.by_category ?? {}),
  ]);
  const cell = (result) =>
    result ? `${percent(result.accuracy)} (lenient ${percent(result.lenient_accuracy)})` : "–";
  return [
    ...[...categories].map((name) =>
      el(
        "tr",
        {},
        el("td", {}, name),
        el("td", {}, cell(before.by_category?.[name])),
        el("td", {}, cell(after.by_category?.[name])),
      ),
    ),
    el(
      "tr",
      { class: "total" },
      el("td", {}, "all"),
      el("td", {}, cell(before.total ? before : null)),
      el("td", {}, cell(after.total ? after : null)),
    ),
    el(
      "tr",
      {},
      el("td", {}, "answer perplexity"),
      el("td", {}, before.answer_perplexity?.toFixed(3) ?? "–"),
      el("td", {}, after.answer_perplexity?.toFixed(3) ?? "–"),
    ),
  ];
}

function show(status) {
  $("train-job-id").textContent = status.job_id ?? "no job yet";
  $("train-state").textContent = status.state ?? "–";
  $("train-state").dataset.state = status.state ?? "";
  const bar = $("train-progress-bar");
  bar.style.width = `${status.progress}%`;
  bar.setAttribute("aria-valuenow", status.progress);
  $("train-progress-text").textContent = `${status.progress.toFixed(1)} %`;
  $("train-step").textContent = `${status.step} / ${status.total_steps}`;
  $("train-epoch").textContent = status.epoch;
  $("train-loss").textContent = status.loss?.toFixed(4) ?? "–";
  $("train-lr").textContent = status.learning_rate?.toExponential(2) ?? "–";
  $("train-speed").textContent = status.tokens_per_second
    ? `${Math.round(status.tokens_per_second)} tokens/s`
    : "–";
  $("train-eta").textContent = status.is_training ? duration(status.eta_seconds) : "–";
  $("train-message").textContent = status.message; // a failed job's names its error
  $("train-stop").disabled = !status.is_training || status.state === "stopping";
  drawLoss(status.loss_history);
  $("train-eval-body").replaceChildren(...evaluationRows(status.evaluation));
}

function historyRow(job) {
  const { before, after } = job.evaluation ?? {};
  const progress = job.progress;
  return el(
    "tr",
    { dataset: { job: job.job_id } },
    el("td", {}, el("code", {}, job.job_id)),
    el("td", {}, job.created_at),
    el("td", { class: "state" }, progress.state),
    el("td", {}, `${progress.step} / ${progress.total_steps}`),
    el("td", {}, progress.loss?.toFixed(4) ?? "–"),
    el(
      "td",
      {},
      before || after ? `${percent(before?.accuracy)} → ${percent(after?.accuracy)}` : "–",
    ),
    el("td", {}, job.adapter_path ? el("code", {}, job.adapter_path) : "–"),
  );
}

// A job's record on disk changes only when it starts and ends: its row shows the live status.
function showHistory(status) {
  const rows = jobs.map((job) =>
    job.job_id === status.job_id
      ? historyRow({ ...job, progress: status, evaluation: status.evaluation })
      : historyRow(job),
  );
  $("train-history-body").replaceChildren(...rows);
}

// Read the status now; again in a second while a job runs, in a few seconds otherwise.
export async function poll() {
  clearTimeout(timer);
  try {
    const status = await getJson("/training/status");
    show(status);
    if (status.state !== lastState) {
      lastState = status.state;
      jobs = await getJson("/training/jobs");
      onJobsChanged(jobs);
    }
    showHistory(status);
    timer = setTimeout(poll, status.is_training ? POLL_RUNNING_MS : POLL_IDLE_MS);
  } catch (error) {
    $("train-message").textContent = error.message;
    timer = setTimeout(poll, POLL_IDLE_MS);
  }
}

export function initTraining(config, jobsChanged) {
  onJobsChanged = jobsChanged;
  const form = $("train-form");
  for (const field of form.elements) {
    const value = config.training[field.name];
    if (value === undefined || value === null) continue;
    if (field.type === "checkbox") field.checked = value;
    else field.value = value;
  }
  form.addEventListener("submit", start);
  $("train-stop").addEventListener("click", stop);
  // The chart is drawn while its page may be hidden (no width yet): follow the box's size.
  new ResizeObserver(() => {
    const width = $("loss-chart").clientWidth;
    if (chart && width) chart.setSize({ width, height: CHART_HEIGHT });
  }).observe($("loss-chart"));
  return poll();
}
