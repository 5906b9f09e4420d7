// supportbot web chat: streams answers from /v1/chat/completions (OpenAI SSE) with the support system prompt.
"use strict";
const $ = (id) => document.getElementById(id);
let systemPrompt = "";
let history = [];  // [{role, content}] without the system prompt

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function addMessage(role, text, model) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "you" : role === "assistant" ? (model || "assistant") : "error";
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  div.append(who, body);
  $("log").append(div);
  $("log").scrollTop = $("log").scrollHeight;
  return body;
}

async function loadModels() {
  const resp = await fetch("/v1/models", { headers: headers() });
  if (resp.status === 401) { $("key-label").hidden = false; $("status").textContent = "enter the API key"; return; }
  const data = await resp.json();
  const sel = $("model");
  const current = sel.value;
  sel.innerHTML = "";
  for (const m of data.data) {
    const opt = document.createElement("option");
    opt.value = opt.textContent = m.id;
    sel.append(opt);
  }
  if (current) sel.value = current;
  $("status").textContent = data.data.length + " model(s): " + data.data.map((m) => m.id).join(", ");
}

async function init() {
  const cfg = await (await fetch("/config")).json();
  systemPrompt = cfg.system_prompt;
  $("max-tokens").max = cfg.max_tokens_cap;
  $("max-tokens").value = cfg.default_max_tokens;
  if (cfg.auth_required) $("key-label").hidden = false;
  await loadModels();
}

async function send(question) {
  const model = $("model").value;
  history.push({ role: "user", content: question });
  addMessage("user", question);
  const out = addMessage("assistant", "", model);
  out.parentElement.dataset.state = "streaming";
  $("send").disabled = true;
  $("status").textContent = "thinking…";
  const body = {
    model, stream: true, temperature: 0, max_tokens: Number($("max-tokens").value) || undefined,
    messages: [{ role: "system", content: systemPrompt }, ...history],
  };
  let answer = "";
  try {
    const resp = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!resp.ok) {
      const err = await resp.json().catch(() => ({}));
      throw new Error((err.error && err.error.message) || resp.status + " " + resp.statusText);
    }
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let idx;
      while ((idx = buf.indexOf("\n\n")) >= 0) {
        const line = buf.slice(0, idx).trim();
        buf = buf.slice(idx + 2);
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) { answer += delta.content; out.textContent = answer; }
      }
    }
    history.push({ role: "assistant", content: answer });
    out.parentElement.dataset.state = "done";
    $("status").textContent = "";
  } catch (e) {
    out.parentElement.className = "msg error";
    out.parentElement.dataset.state = "error";
    out.textContent = String(e.message || e);
    history.pop();
    $("status").textContent = "";
  } finally {
    $("send").disabled = false;
  }
}

$("ask").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("question").value.trim();
  if (!q) return;
  $("question").value = "";
  send(q);
});
$("question").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("ask").requestSubmit(); }
});
$("clear").addEventListener("click", () => { history = []; $("log").innerHTML = ""; });
$("api-key").addEventListener("change", loadModels);
init().catch((e) => { $("status").textContent = "could not load: " + e; });
