// What went wrong, in a journalist's words, and next to which field of the form.
// The API answers {code, status, message, errors}, `code` a stable string as in a failed job's
// error ({code, message}); `errors` nests messages by field
// ({"article": {"text": [...]}, "claims": {"0": [...]}}); dotted keys ("article.text") and a
// `details` list of {field, message} are read the same way.
"use strict";

// The form field each path of the request belongs to (the first that matches).
const FIELD_OF = [
  [/^article\.title$/, "title"],
  [/^article(\.|$)/, "article"],
  [/^claims(\.|$)/, "claims"],
  [/^options(\.|$)/, "max-sentences"],
];

// The API's and marshmallow's wordings, as a journalist would say them.
const PLAIN = [
  [/^Length must be between (\d+) and (\d+)\.$/, (min, max) => `Write between ${min} and ${max} characters.`],
  [/^Shorter than minimum length (\d+)\.$/, (n) => `It is too short: write at least ${n} characters.`],
  [/^Longer than (?:maximum length|the maximum of) (\d+)(?: characters)?\.$/, (n) => `It is too long: at most ${n} characters.`],
  [/^At most (\d+) claims per job\.$/, (n) => `Too many claims: at most ${n}, one a line.`],
  [/^Missing data for required field\.$/, () => "This is required."],
  [/^Give exactly one of text and html\.$/, () => "Paste the article."],
  [/^The stance task needs claims/, () => "Write a claim to check, or give the article a title."],
  [/^Contains NUL characters\.$/, () => "It contains invisible characters that cannot be read; paste it again as plain text."],
  [/^Contains invalid Unicode/, () => "It contains characters that cannot be read; paste it again as plain text."],
  [/^Unknown field\.$/, () => "The page sent something the server does not know; reload the page."],
];

// Answers that are not about one field.
const BY_CODE = {
  missing_api_key: ["api-key", "This server asks for an API key: ask whoever runs it for one."],
  invalid_api_key: ["api-key", "This API key is not valid: check it, or ask for a new one."],
  payload_too_large: ["article", "The article is too long for this server."],
  rate_limited: [null, "Too many requests at once: wait a minute and try again."],
  redis_unavailable: [null, "The service is busy or down: try again in a moment."],
  service_unavailable: [null, "The service is busy or down: try again in a moment."],
  article_empty: ["article", "No article text was found in what you pasted."],
  html_no_text: ["article", "No article text was found in this page."],
};

function plainWords(message) {
  for (const [pattern, say] of PLAIN) {
    const match = pattern.exec(message);
    if (match) return say(...match.slice(1));
  }
  return message;
}

function fieldMessages(body) {
  // [[path, message]] of every field message, whatever the nesting.
  const found = [];
  const walk = (errors, path) => {
    for (const [key, value] of Object.entries(errors || {})) {
      const here = [...path, ...key.split(".")];
      if (Array.isArray(value)) value.forEach((m) => found.push([here, String(m)]));
      else if (typeof value === "string") found.push([here, value]);
      else if (value && typeof value === "object") walk(value, here);
    }
  };
  walk(body.errors, []);
  for (const detail of Array.isArray(body.details) ? body.details : []) {
    if (detail && detail.message) found.push([String(detail.field || "").split("."), String(detail.message)]);
  }
  return found;
}

// {general: [messages], fields: {fieldId: [messages]}} for an error answer (or a failed job's
// error, {code, message}); `general` is never empty when `fields` is.
function explainError(body) {
  const fields = {};
  const general = [];
  const add = (field, message) => {
    if (field) (fields[field] = fields[field] || []).push(message);
    else general.push(message);
  };
  for (const [path, message] of fieldMessages(body)) {
    const dotted = path.filter((p) => p !== "_schema").join(".");
    const match = FIELD_OF.find(([pattern]) => pattern.test(dotted));
    let words = plainWords(message);
    // claims.0 is the first line of the claims box.
    if (path[0] === "claims" && /^\d+$/.test(path[1] || "")) words = `Claim ${Number(path[1]) + 1}: ${words}`;
    add(match ? match[1] : null, words);
  }
  const known = BY_CODE[body.code];
  if (!Object.keys(fields).length && known) add(known[0], known[1]);
  if (Object.keys(fields).length) {
    general.unshift(Object.keys(fields).length > 1 ? "Please correct the highlighted fields." : "Please correct the highlighted field.");
  } else if (!general.length) {
    general.push(body.message || "Something went wrong: try again.");
  }
  return { general, fields };
}
