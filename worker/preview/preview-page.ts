/**
 * The preview page's HTML and script (no build step, no framework): pick a user, a campaign (a demo one, or any
 * other by its id) and a layout;
 * edit the campaign (JSON, saved through the preview's own route, errors named by path) and see each demo
 * reader's block and why;
 * see the HTML part with its live open-time images, the AMP part's static view, the recommendations JSON
 * with why each item was chosen, and the decisions the images stored.
 */
import { CAMPAIGN_ID_PATTERN } from "../../core/campaign";

/** The page's one script: served inline, and allowed by its hash alone (staffPagePolicy in lib/staff-page-policy.ts). */
export const PREVIEW_SCRIPT = `
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
const params = () => new URLSearchParams({ user: $("user").value, campaign: $("campaign").value, layout: $("layout").value });
/** how long an answer may take (a cold Worker loads its model first: seconds) before the page gives up on it */
const ANSWER_MS = 60000;
/**
 * fetch and read the JSON answer; a Worker that does not answer (stopped), answers too late (hung) or answers no
 * JSON (restarting, a proxy's error page) is said so, with what to do, never as "Failed to fetch", a JSON parser's
 * error or a "loading…" that never ends
 */
async function call(url, init) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ANSWER_MS);
  try {
    let res;
    try {
      res = await fetch(url, { ...init, signal: abort.signal });
    } catch {
      throw new Error(abort.signal.aborted
        ? "the Worker did not answer within " + ANSWER_MS / 1000 + " s: check the terminal running npm start, then retry"
        : "the Worker did not answer: is npm start still running? Start it again, then retry");
    }
    try {
      return { res, body: await res.json() };
    } catch {
      throw new Error(abort.signal.aborted
        ? "the Worker's answer did not finish within " + ANSWER_MS / 1000 + " s: check the terminal running npm start, then retry"
        : "the Worker answered " + res.status + " " + res.statusText + ", not JSON: wait for it to finish starting, then retry");
    }
  } finally {
    clearTimeout(timer);
  }
}
const failure = (res, body) => new Error(body.error ? body.error.code + ": " + body.error.message : res.status + " " + res.statusText);
async function getJson(url, init) {
  const { res, body } = await call(url, init);
  if (!res.ok) throw failure(res, body);
  return body;
}
async function loadUsers() {
  const { users } = await getJson("/v1/preview/users");
  $("user").innerHTML = '<option value="">pick a user…</option>' + users.map((u) => '<option>' + esc(u) + '</option>').join("");
  $("status").textContent = users.length ? users.length + " users" : "no users in KV: run npm start";
}
/** the token of the email shown, and each user|campaign's email shown before (its decisions are that send's) */
let shownToken = null;
const emails = new Map();
async function loadDecisions() {
  if (!$("user").value) return;
  if (!shownToken) return;
  const { decisions } = await getJson("/v1/preview/decisions?" + new URLSearchParams({ t: shownToken, layout: $("layout").value }));
  $("decisions").querySelector("tbody").innerHTML = decisions.map((d) => d.state
    ? '<tr data-slot="' + esc(d.slot) + '" data-item="' + esc(d.item ?? "none") + '"><td>' + esc(d.slot) + '</td><td>' + (d.item ? esc(d.title) + ' <span class="muted">' + esc(d.item) + '</span>' : '<span class="muted">no product left: the generic card, a click to the fallback URL</span>') + '</td><td><span class="tag">' + esc(d.state) + '</span></td><td>' + esc(d.via) + '</td><td>' + esc(d.reason) + ' (' + esc(d.scorer) + ')' + (d.block ? ' <span class="muted">block ' + esc(d.block) + '</span>' : '') + '</td></tr>'
    : '<tr data-slot="' + esc(d.slot) + '"><td>' + esc(d.slot) + '</td><td class="muted" colspan="4">not decided yet</td></tr>').join("");
}
/** the latest show(): an answer to an earlier one (another user, campaign or layout picked since) is dropped */
let showing = 0;
async function show() {
  if (!$("user").value) return;
  const mine = ++showing;
  $("status").textContent = "loading…";
  try {
    // the email this user and campaign were shown before, opened again (its token keeps its decisions)
    const before = emails.get($("user").value + "|" + $("campaign").value);
    const data = await getJson("/v1/preview/email?" + new URLSearchParams({ ...Object.fromEntries(params()), ...(before ? { t: before } : {}) }));
    emails.set(data.user + "|" + data.campaign, data.token);
    if (mine !== showing) return;
    shownToken = data.token;
    const frame = $("html-frame");
    frame.onload = () => {
      const imgs = [...frame.contentDocument.images];
      Promise.all(imgs.map((img) => img.complete ? null : new Promise((r) => { img.onload = img.onerror = r; }))).then(() => {
        if (mine !== showing) return;
        const ok = imgs.filter((img) => img.naturalWidth > 0).length;
        $("status").textContent = ok + " of " + imgs.length + " images decoded";
        $("status").dataset.images = ok + "/" + imgs.length;
        loadDecisions().catch((e) => { $("status").textContent = String(e.message || e); });
      });
    };
    frame.srcdoc = data.parts.html;
    $("amp-frame").srcdoc = data.parts.ampStatic;
    $("amp-source").textContent = data.parts.amp;
    $("text-part").textContent = data.parts.text;
    // under an experiment the reader's arm serves (its configuration, or popular items), as the real email's opens
    $("block").textContent = (data.experiment ? "experiment " + data.experiment.replace(":", ", arm ") + ": " : "") +
      data.block.type + " block " + data.block.why;
    $("facts").textContent = JSON.stringify(data.facts, null, 2);
    $("json").textContent = JSON.stringify({ items: data.recs.items.map(({ rank, score, pinned, ...it }) => it) }, null, 2);
    const r = data.recs.rules;
    $("why-meta").textContent = "scorer " + data.recs.scorer + ", " + data.recs.reason + ", model " + (data.recs.model || "none") +
      ", " + data.recs.excluded + " excluded by the purchase rule, policy " + data.settings.policy +
      (r ? "; item rules: " + r.pinned + " pinned, " + r.excluded + " excluded, " + r.seen + " withheld by the frequency cap, " +
        r.boosted + " boosted, " + r.capped + " passed over for maxPerCategory, " + r.relaxed + " taken over it after all, " +
        r.filled + " popular items filled in" : "");
    $("why").querySelector("tbody").innerHTML = data.recs.items.map((it) =>
      '<tr><td>' + it.rank + '</td><td>' + esc(it.title) + ' <span class="muted">' + esc(it.id) + '</span></td><td>' + esc(it.price) +
      '</td><td>' + (it.pinned ? '<span class="tag">pinned</span>' :
        data.block.type !== "recommendations" ? '<span class="tag">' + esc(data.block.type) + ' block</span>' : it.score === null ? '<span class="tag">fallback: ' + esc(data.recs.reason) + '</span>' : it.score.toFixed(4)) + '</td></tr>').join("");
  } catch (e) {
    if (mine === showing) $("status").textContent = String(e.message || e);
  }
}
/**
 * the campaign in the editor: its id, ETag (null: none was stored when it was loaded) and text as loaded or last
 * saved. A save goes to that id with that tag (If-Match; If-None-Match: * when none was stored), and is refused if
 * another edit landed since.
 */
let editing = null;
/**
 * unsaved edits of campaigns picked away from, with the ETag they were made on: picking the campaign again brings
 * the edit back (its save is refused, 412, if another edit landed since), never the stored one over it
 */
const drafts = new Map();
/** campaigns with a save on its way: their Save waits for it, whichever campaign is picked meanwhile */
const saving = new Set();
/** loads started: only the latest fills the editor (A, B and A again picked within one answer's time) */
let loads = 0;
/**
 * per campaign, the last save that landed: its ETag and text, and "at", the count of saves landed by then. A load
 * that was on its way meanwhile may have been read before that save: the save's version is the newer
 */
const landed = new Map();
let landings = 0;
function keepDraft() {
  if (editing && $("campaign-json").value !== editing.text)
    drafts.set(editing.id, { text: $("campaign-json").value, etag: editing.etag });
}
/** Fills the editor with the campaign picked; false when a later pick's load does instead. */
async function loadCampaign() {
  const id = $("campaign").value;
  const mine = ++loads;
  const since = landings;
  editing = null;
  $("save").disabled = true;
  // what the editor said of another campaign is not said of this one
  $("save-status").textContent = "";
  const { res, body } = await call("/v1/preview/campaigns/" + encodeURIComponent(id));
  // a campaign (this one again, or another) was picked meanwhile: its own load fills the editor
  if (mine !== loads || id !== $("campaign").value) return false;
  if (!res.ok) throw failure(res, body);
  const draft = drafts.get(id);
  drafts.delete(id);
  const saved = landed.get(id);
  const fresh = saved && saved.at > since ? saved : null;
  const text = fresh ? fresh.text : JSON.stringify(body.campaign, null, 2);
  // a draft's ETag is kept up to date by the saves that land (below)
  editing = { id, etag: draft ? draft.etag : fresh ? fresh.etag : res.headers.get("ETag"), text };
  $("campaign-json").value = draft ? draft.text : text;
  if (draft) $("save-status").textContent = "your unsaved edit of " + id + " is back: Save campaign to keep it";
  $("save").disabled = saving.has(id);
  $("reload").hidden = true;
  await loadBlocks();
  return true;
}
async function loadBlocks() {
  const id = $("campaign").value;
  const { readers } = await getJson("/v1/preview/blocks?campaign=" + encodeURIComponent(id));
  if (id !== $("campaign").value) return; // another campaign was picked meanwhile
  $("blocks").querySelector("tbody").innerHTML = readers.map((r) =>
    '<tr data-user="' + esc(r.user) + '" data-block="' + esc(r.block) + '"><td>' + esc(r.user) + '</td><td><span class="tag">' +
    esc(r.type) + '</span> ' + esc(r.block) + (r.experiment ? ' <span class="muted">arm ' + esc(r.experiment.split(":")[1]) + '</span>' : '') +
    '</td><td class="muted">' + esc(r.why) + '</td></tr>').join("");
}
$("save").onclick = async () => {
  const text = $("campaign-json").value;
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    $("save-status").textContent = "not JSON: " + e.message;
    return;
  }
  if (!editing) return;
  const target = editing;
  const sentWith = target.etag;
  // what this save says: of the campaign shown, as it is; of another (picked away while it was on its way), by name
  const say = (words) => {
    $("save-status").textContent = $("campaign").value === target.id ? words : target.id + ": " + words;
  };
  // one save at a time: a second sent with the same ETag while the first lands would be refused as someone else's
  saving.add(target.id);
  $("save").disabled = true;
  $("save-status").textContent = "saving…";
  try {
    let answered;
    try {
      answered = await call("/v1/preview/campaigns/" + encodeURIComponent(target.id), {
        method: "PUT",
        headers: { "Content-Type": "application/json", ...(sentWith ? { "If-Match": sentWith } : { "If-None-Match": "*" }) },
        body: JSON.stringify(body) });
    } finally {
      saving.delete(target.id);
      if (editing && editing.id === target.id) $("save").disabled = false;
    }
    const { res, body: answer } = answered;
    if (res.status === 412) {
      say("not saved: someone else saved this campaign since you loaded it. Copy your edit, then load theirs and edit that.");
      if ($("campaign").value === target.id) $("reload").hidden = false;
      return;
    }
    if (!res.ok) throw failure(res, answer);
    const etag = res.headers.get("ETag");
    target.etag = etag;
    target.text = text;
    landed.set(target.id, { etag, text, at: ++landings });
    // picked away while this save was on its way: the draft kept then was made on the ETag this save replaced.
    // What was saved is no unsaved edit; an edit made after pressing Save is one, on the ETag this save got
    const draft = drafts.get(target.id);
    if (draft && draft.text === text) drafts.delete(target.id);
    else if (draft) draft.etag = etag;
    // picked away and back before it landed: the editor holds the campaign again on the ETag this save replaced
    // (its draft's, or a load's from before the save), and what it holds was made on this save
    if (editing && editing !== target && editing.id === target.id && editing.etag === sentWith) {
      // the text box still shows what was stored before this save: it shows what was saved
      if ($("campaign-json").value === editing.text) $("campaign-json").value = text;
      editing.etag = etag;
      editing.text = text;
    }
    const missing = answer.campaignSegmentsMissing || [];
    // an edit made after pressing Save, shown now, is not what was saved
    const what = $("campaign").value === target.id && $("campaign-json").value !== text
      ? "saved what you pressed Save on; the edit shown since is not saved yet"
      : "saved";
    say(missing.length === 0 ? what : what + ", but " + missing.length +
      " condition(s) name a segment the model lacks (no reader has it): " +
      missing.map((m) => m.path + " " + m.op + " " + JSON.stringify(m.segment) + (m.nearest ? " (did you mean " + JSON.stringify(m.nearest) + "?)" : "")).join("; "));
    await loadBlocks();
    show();
  } catch (e) {
    say(String(e.message || e));
  }
};
$("reload").onclick = () => {
  drafts.delete($("campaign").value);
  loadCampaign().then((filled) => { if (filled) $("save-status").textContent = "loaded theirs"; }, (e) => { $("save-status").textContent = String(e.message || e); });
};
const notLoaded = (e) => { $("save-status").textContent = "campaign " + $("campaign").value + " not loaded (pick it again to retry): " + String(e.message || e); };
$("campaign").onchange = () => { keepDraft(); loadCampaign().catch(notLoaded); show(); };
// a campaign of another id (a new one: saving it creates it), picked as the demo's are
$("campaign-other").onchange = () => {
  const id = $("campaign-other").value.trim();
  if (!id) return;
  if (!new RegExp(${JSON.stringify(CAMPAIGN_ID_PATTERN.source)}).test(id)) {
    $("save-status").textContent = "campaign id " + JSON.stringify(id) + " not opened: an id is 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit";
    return;
  }
  if (![...$("campaign").options].some((o) => o.value === id)) $("campaign").add(new Option(id, id));
  $("campaign-other").value = "";
  $("campaign").value = id;
  $("campaign").onchange();
};
$("user").onchange = $("layout").onchange = show;
loadCampaign().catch(notLoaded);
$("reset").onclick = async () => {
  if (!$("user").value || !shownToken) {
    $("reset-status").textContent = "pick a user first: it forgets what the images of the email shown decided";
    return;
  }
  try {
    // the email shown, the preview's own: the reader's real emails keep their decisions
    const r = await getJson("/v1/preview/reset?" + new URLSearchParams({ t: shownToken }), { method: "POST" });
    $("reset-status").textContent = "forgot " + r.deleted + " stored decision" + (r.deleted === 1 ? "" : "s") + (r.pending ? "; " + r.pending + " left: press again in a minute" : "");
  } catch (e) {
    $("reset-status").textContent = String(e.message || e);
  }
  show();
};
loadUsers().catch((e) => { $("status").textContent = String(e.message || e); });
`;

export const PREVIEW_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>opentime preview</title>
<style>
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; background: #f5f7fa; }
  header { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; padding: 14px 20px; background: #1f2933; color: #fff; }
  header h1 { font-size: 17px; margin: 0 16px 0 0; }
  label { display: flex; flex-direction: column; font-size: 12px; gap: 2px; }
  select, button, input { font: inherit; padding: 5px 8px; border-radius: 4px; border: 1px solid #9aa5b1; }
  button { background: #fff; cursor: pointer; }
  main { display: grid; grid-template-columns: minmax(360px, 660px) minmax(320px, 1fr); gap: 16px; padding: 16px 20px; }
  section { background: #fff; border: 1px solid #e4e7eb; border-radius: 6px; padding: 12px; min-width: 0; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  iframe { width: 100%; border: 1px solid #e4e7eb; border-radius: 4px; background: #fff; }
  #html-frame { height: 720px; } #amp-frame { height: 900px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eef0f2; vertical-align: top; }
  /* a why (the tables' last column) of one long word, boughtCategories=[Mugs|Lamps|...], breaks anywhere rather than widen the page */
  td:last-child { overflow-wrap: anywhere; }
  pre { background: #f5f7fa; padding: 8px; overflow: auto; max-height: 320px; font-size: 12px; }
  .muted { color: #7b8794; } .tag { display: inline-block; padding: 0 6px; border-radius: 8px; background: #e4e7eb; font-size: 12px; }
  #status { margin-left: auto; font-size: 12px; }
  /* a phone: one column (two would not fit in 375 px) */
  @media (max-width: 760px) { main { grid-template-columns: minmax(0, 1fr); padding: 12px; } }
</style>
</head>
<body>
<header>
  <h1>opentime preview</h1>
  <label>User <select id="user" data-testid="user"><option value="">loading…</option></select></label>
  <label>Campaign <select id="campaign"><option value="demo">demo (freeze)</option><option value="demo-live">demo-live (live)</option><option value="demo-blocks">demo-blocks (blocks by conditions)</option></select></label>
  <label>Other campaign <input id="campaign-other" placeholder="id, then Enter" size="12" spellcheck="false"></label>
  <label>Layout <select id="layout"><option>row</option><option>card</option><option>grid</option></select></label>
  <button id="reset" type="button">Forget decisions</button> <span id="reset-status" role="status"></span>
  <span id="status" role="status"></span>
</header>
<main>
  <div>
    <section><h2>HTML part <span class="muted">(open-time images, decided as they load)</span></h2><iframe id="html-frame" title="HTML part" sandbox="allow-same-origin allow-popups"></iframe></section>
    <section style="margin-top:16px"><h2>Stored decisions <span class="muted">(what each image showed; its click goes there)</span></h2>
      <table id="decisions"><thead><tr><th>slot</th><th>item</th><th>state</th><th>fetched by</th><th>why</th></tr></thead><tbody></tbody></table></section>
  </div>
  <div>
    <section><h2>Block <span class="muted">(the campaign's block this reader gets, and why)</span></h2>
      <p id="block" data-testid="block"></p>
      <details><summary>Facts its conditions saw</summary><pre id="facts"></pre></details></section>
    <section style="margin-top:16px"><h2>Why these items <span id="why-meta" class="muted"></span></h2>
      <table id="why"><thead><tr><th>#</th><th>item</th><th>price</th><th>score</th></tr></thead><tbody></tbody></table></section>
    <section style="margin-top:16px"><h2 id="campaign-heading">Campaign <span class="muted">(edit and save: validated as the admin API does)</span></h2>
      <textarea id="campaign-json" data-testid="campaign-json" aria-labelledby="campaign-heading" spellcheck="false" style="width:100%;height:220px;font:12px ui-monospace,monospace"></textarea>
      <button id="save" type="button" disabled>Save campaign</button> <button id="reload" type="button" hidden>Load theirs</button> <span id="save-status" role="status"></span>
      <table id="blocks"><thead><tr><th>reader</th><th>block</th><th>why</th></tr></thead><tbody></tbody></table></section>
    <section style="margin-top:16px"><h2>AMP part <span class="muted">(static view: the amp-list rendered with its JSON)</span></h2><iframe id="amp-frame" title="AMP part" sandbox="allow-same-origin allow-popups"></iframe>
      <details><summary>AMP source</summary><pre id="amp-source"></pre></details></section>
    <section style="margin-top:16px"><h2>JSON behind the AMP list</h2><pre id="json"></pre>
      <details><summary>Text part</summary><pre id="text-part"></pre></details></section>
  </div>
</main>
<script>${PREVIEW_SCRIPT}</script>
</body>
</html>
`;
