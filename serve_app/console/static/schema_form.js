// A form for a tool's arguments, built from its JSON schema's top-level properties. It checks
// nothing itself: the tool's schema is enforced where the tool runs (POST /tools/execute, 400).

import { el } from "./dom.js";

function input(name, schema) {
  if (Array.isArray(schema.enum)) {
    return el(
      "select",
      { name },
      el("option", { value: "" }, "–"),
      schema.enum.map((value) => el("option", { value: JSON.stringify(value) }, String(value))),
    );
  }
  switch (schema.type) {
    case "string":
      return el("input", { name, type: "text", placeholder: schema.default ?? "" });
    case "integer":
    case "number":
      return el("input", { name, type: "number", step: schema.type === "integer" ? 1 : "any" });
    case "boolean":
      return el("input", { name, type: "checkbox", checked: schema.default === true });
    default: // objects, arrays, unions: typed as JSON
      return el("textarea", { name, rows: 2, placeholder: "JSON", "data-json": true });
  }
}

function value(field) {
  if (field.type === "checkbox") return field.checked;
  if (field.value === "") return undefined;
  if (field.type === "number") return field.valueAsNumber;
  if (field.tagName === "SELECT") return JSON.parse(field.value);
  if (field.dataset.json !== undefined) {
    try {
      return JSON.parse(field.value);
    } catch {
      throw new Error(`${field.name}: not valid JSON`);
    }
  }
  return field.value;
}

// {element, read}: read() gives the arguments object (empty fields left out).
export function schemaForm(parameters) {
  const properties = parameters?.properties ?? {};
  const required = new Set(parameters?.required ?? []);
  const fields = Object.entries(properties).map(([name, schema]) => {
    const field = input(name, schema);
    const label = el(
      "label",
      { class: field.type === "checkbox" ? "inline" : null },
      el("span", {}, name, required.has(name) ? el("b", { title: "required" }, " *") : null),
      field,
      schema.description ? el("small", { class: "muted" }, schema.description) : null,
    );
    return { field, label };
  });
  const read = () => {
    const args = {};
    for (const { field } of fields) {
      const v = value(field);
      if (v !== undefined) args[field.name] = v;
    }
    return args;
  };
  return { element: fields.map(({ label }) => label), read };
}
