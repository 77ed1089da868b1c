// Shows an API refusal next to the form field it names. The rules stay in the API: the console
// only reads where the answer points (a 422's `loc`, /v1's `param`, a 400's "field: ..." parts).

// Path prefixes that name the request body, not a field of the form.
const CONTAINERS = new Set(["body", "config_updates"]);

// [[field or null, message]] for an ApiError; `fields` are the form's field names.
function locate(error, fields, values) {
  if (fields.has(error.param)) return [[error.param, error.message]]; // /v1 names it
  if (Array.isArray(error.detail)) {
    return error.detail.map((issue) => {
      const path = issue.loc.filter((part) => !CONTAINERS.has(part));
      return [fields.has(path[0]) ? path[0] : null, issue.msg];
    });
  }
  const text = String(error.detail).replace(/^config_updates: /, "");
  return text.split("; ").map((part) => {
    const named = /^([A-Za-z_][\w]*)[.: ]/.exec(part)?.[1];
    if (fields.has(named)) return [named, part];
    // An error about a value the user typed (a dataset file that is not there) goes beside it.
    const quoted = [...fields].find((name) => values[name] && part.includes(values[name]));
    return [quoted ?? null, part];
  });
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error, .form-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]"))
    input.removeAttribute("aria-invalid");
}

// Each field's slot is `[data-error-for=name]`; what names no field goes to `.form-error`.
export function showErrors(form, error, values = {}) {
  clearErrors(form);
  const fields = new Set(
    [...form.querySelectorAll("[data-error-for]")].map((slot) => slot.dataset.errorFor),
  );
  for (const [field, message] of locate(error, fields, values)) {
    const slot = field
      ? form.querySelector(`[data-error-for="${field}"]`)
      : form.querySelector(".form-error");
    slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
    if (field) form.elements[field]?.setAttribute("aria-invalid", "true");
  }
}
