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

function showError(body) {
  $("error").hidden = false;
  $("error-message").textContent = body.message || "The request failed.";
  const list = $("error-fields");
  list.replaceChildren();
  const walk = (errors, path) => {
    for (const [field, value] of Object.entries(errors || {})) {
      if (Array.isArray(value)) {
        const li = document.createElement("li");
        li.textContent = [...path, field].join(".") + ": " + value.join(" ");
        list.append(li);
      } else if (value && typeof value === "object") {
        walk(value, [...path, field]);
      }
    }
  };
  walk(body.errors, []);
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
    const response = await fetch(url + "?wait=1", { headers: headers() });
    const body = await response.json();
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

function claimCard(stance) {
  // One claim: its text, the stance, the scores and the evidence sentences.
  const card = document.createElement("li");
  card.className = "claim";
  const claim = document.createElement("h3");
  claim.className = "claim-text";
  claim.textContent = stance.claim;
  const badge = document.createElement("span");
  badge.className = "badge " + stance.label;
  badge.textContent = stance.label;
  const label = document.createElement("p");
  label.className = "label";
  label.append(badge);
  const scores = document.createElement("p");
  scores.className = "scores";
  scores.textContent = Object.entries(stance.scores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(" · ");
  const evidence = document.createElement("ul");
  evidence.className = "evidence";
  for (const e of stance.evidence) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "“" + e.text + "”";
    button.addEventListener("click", () => focusEvidence(e));
    const item = document.createElement("li");
    item.append(button);
    evidence.append(item);
  }
  card.append(claim, label, scores, evidence);
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
  renderArticle(result.article.text, result.summary ? result.summary.sentences : []);
}

$("job-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("error").hidden = true;
  $("results").hidden = true;
  $("submit").disabled = true;
  try {
    const response = await fetch("/v1/jobs", { method: "POST", headers: headers(), body: JSON.stringify(buildRequest()) });
    const created = await response.json();
    if (!response.ok) throw created;
    setStatus("queued", DETAILS.queued);
    const job = await poll(created.links.self);
    if (job.status === "succeeded") renderResults(job);
    else showError({ message: job.error ? job.error.message : "The job " + job.status + "." });
  } catch (error) {
    showError(error && error.message ? error : { message: String(error) });
  } finally {
    $("submit").disabled = false;
  }
});
