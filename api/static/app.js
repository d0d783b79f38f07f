// The newsnlp page: submit a job, poll it each second, show summary, stance and the article.
// All article and claim text goes into the page through textContent, never innerHTML.
"use strict";

const $ = (id) => document.getElementById(id);
const STEPS = { queued: 1, running: 2, succeeded: 3, failed: 3, canceled: 3 };
const DETAILS = { queued: "waiting for a worker…", running: "a worker is analysing the article…" };

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

const FIELDS = ["title", "article", "claims", "max-sentences", "api-key"];

function clearErrors() {
  $("error").hidden = true;
  for (const id of FIELDS) {
    $(id).removeAttribute("aria-invalid");
    $(id).removeAttribute("aria-describedby");
    $(id + "-error").hidden = true;
  }
}

function showError(body) {
  // The general message on top, each field's next to it, the field highlighted and focused.
  const { general, fields } = explainError(body || {});
  $("error").hidden = false;
  $("error-message").textContent = general.join(" ");
  for (const [id, messages] of Object.entries(fields)) {
    const note = $(id + "-error");
    note.textContent = messages.join(" ");
    note.hidden = false;
    $(id).setAttribute("aria-invalid", "true");
    $(id).setAttribute("aria-describedby", note.id);
  }
  const first = FIELDS.find((id) => fields[id]);
  if (first) $(first).focus();
  else $("error").scrollIntoView({ block: "center" });
}

async function request(url, init) {
  // fetch, with a network failure told in words (fetch's TypeError says "Failed to fetch").
  try {
    return await fetch(url, init);
  } catch {
    throw { message: "Cannot reach the server: check the connection and try again." };
  }
}

async function readJson(response) {
  // A proxy's HTML error page is not JSON: say what the status says instead.
  try {
    return await response.json();
  } catch {
    return { message: `The server answered ${response.status} ${response.statusText}: try again in a moment.` };
  }
}

function setStatus(status, detail) {
  $("status").hidden = false;
  const label = $("status-label");
  label.textContent = status;
  label.className = "badge " + status;
  $("status-detail").textContent = detail || "";
  $("progress").value = STEPS[status] || 0;
}

function buildRequest() {
  const job = { article: {} };
  const title = $("title").value.trim();
  if (title) job.article.title = title;
  const format = document.querySelector("input[name=format]:checked").value;
  job.article[format] = $("article").value;
  const claims = $("claims").value.split("\n").map((c) => c.trim()).filter(Boolean);
  if (claims.length) job.claims = claims;
  const n = $("max-sentences").value;
  if (n) job.options = { summary: { max_sentences: Number(n) } };
  return job;
}

async function poll(url) {
  // ?wait=1 answers as soon as the job ends, else after a second with its status as it is:
  // "running" shows when a worker takes the job, the end shows at once.
  for (;;) {
    const response = await request(url + "?wait=1", { headers: headers() });
    const body = await readJson(response);
    if (!response.ok) throw body;
    setStatus(body.status, DETAILS[body.status]);
    if (["succeeded", "failed", "canceled"].includes(body.status)) return body;
  }
}

function renderArticle(text, summarySentences) {
  // Paragraphs of the cleaned text, with summary sentences and evidence as <mark> spans.
  const view = $("article-view");
  view.replaceChildren();
  const marks = summarySentences.map((s) => [s.start, s.end]);
  let offset = 0;
  for (const paragraph of text.split("\n\n")) {
    const p = document.createElement("p");
    const start = offset;
    const end = offset + paragraph.length;
    let cursor = start;
    for (const [s, e] of marks.filter(([s, e]) => s >= start && e <= end)) {
      p.append(document.createTextNode(text.slice(cursor, s)));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(s, e);
      mark.dataset.start = s;
      p.append(mark);
      cursor = e;
    }
    p.append(document.createTextNode(text.slice(cursor, end)));
    p.dataset.start = start;
    p.dataset.end = end;
    view.append(p);
    offset = end + 2;
  }
}

function focusEvidence(evidence) {
  document.querySelectorAll("mark.evidence").forEach((m) => m.replaceWith(...m.childNodes));
  for (const p of $("article-view").children) {
    const start = Number(p.dataset.start);
    if (evidence.start >= start && evidence.end <= Number(p.dataset.end)) {
      const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
      let pos = start;
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const len = node.textContent.length;
        if (evidence.start >= pos && evidence.end <= pos + len) {
          const range = document.createRange();
          range.setStart(node, evidence.start - pos);
          range.setEnd(node, evidence.end - pos);
          const mark = document.createElement("mark");
          mark.className = "evidence";
          range.surroundContents(mark);
          mark.scrollIntoView({ block: "center" });
          return;
        }
        pos += len;
      }
    }
  }
}

const LABELS = ["agree", "disagree", "discuss", "unrelated"];
const VERDICTS = { supports: "✓ supports the claim", refutes: "✗ refutes the claim", neutral: "neither supports nor refutes" };

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function scoreBars(scores) {
  // One small bar a label; the number is the text, the bar only draws it.
  const list = element("ul", "scores");
  list.setAttribute("aria-label", "Scores");
  for (const label of LABELS.filter((l) => l in scores)) {
    const value = scores[label];
    const item = element("li", "score " + label);
    const bar = element("span", "bar");
    bar.setAttribute("aria-hidden", "true");
    const fill = element("span", "fill");
    fill.style.width = Math.round(Math.max(0, Math.min(1, value)) * 100) + "%";
    bar.append(fill);
    item.append(element("span", "name", label), bar, element("span", "value", value.toFixed(2)));
    list.append(item);
  }
  return list;
}

function evidenceQuote(evidence) {
  // A quote from the article (click: find it there), with its verdict when the result has one.
  const item = element("li", "quote" + (evidence.verdict ? " " + evidence.verdict : ""));
  const quote = element("button", "quote-text", "“" + evidence.text + "”");
  quote.type = "button";
  quote.addEventListener("click", () => focusEvidence(evidence));
  item.append(quote);
  if (evidence.verdict) {
    const words = VERDICTS[evidence.verdict] || evidence.verdict;
    const score = typeof evidence.verdict_score === "number" ? ` (${evidence.verdict_score.toFixed(2)})` : "";
    item.append(element("span", "verdict " + evidence.verdict, words + score));
  }
  return item;
}

function claimCard(stance) {
  // One claim: its text, the stance and its scores, the evidence sentences.
  const card = element("li", "claim");
  const side = element("div", "side");
  const label = element("p", "label");
  label.append(element("span", "badge " + stance.label, stance.label));
  side.append(label, scoreBars(stance.scores));
  const evidence = element("ul", "evidence");
  evidence.setAttribute("aria-label", "Evidence");
  for (const e of stance.evidence) evidence.append(evidenceQuote(e));
  card.append(element("h3", "claim-text", stance.claim), side, evidence);
  return card;
}

function renderResults(job) {
  const result = job.result;
  $("results").hidden = false;
  $("summary").textContent = result.summary ? result.summary.text : "(no summary requested)";
  const list = $("stance");
  list.replaceChildren();
  for (const stance of result.stance || []) list.append(claimCard(stance));
  $("stance").hidden = !(result.stance || []).length;
  $("stance-legend").hidden = !(result.stance || []).length;
  renderArticle(result.article.text, result.summary ? result.summary.sentences : []);
  // Bring the result into view, and the keyboard and screen reader with it.
  $("results").scrollIntoView({ block: "start" });
  $("results-heading").focus({ preventScroll: true });
}

$("job-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  $("results").hidden = true;
  $("submit").disabled = true;
  try {
    const response = await request("/v1/jobs", { method: "POST", headers: headers(), body: JSON.stringify(buildRequest()) });
    const created = await readJson(response);
    if (!response.ok) throw created;
    setStatus("queued", DETAILS.queued);
    const job = await poll(created.links.self);
    if (job.status === "succeeded") renderResults(job);
    else showError(job.error || { message: "The job was " + job.status + "." });
  } catch (error) {
    // An Error is this page's own fault; anything else is an answer or a network failure.
    if (error instanceof Error) console.error(error);
    showError(error instanceof Error ? { message: "Something went wrong on this page: reload it and try again." } : error);
  } finally {
    $("submit").disabled = false;
  }
});
