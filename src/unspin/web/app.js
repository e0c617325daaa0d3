// unspin web page. Plain JS, no dependencies. User text and everything the server returns
// goes into the page through textContent / text nodes only, never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let health = null;
  let generation = 0; // responses of an older request are ignored
  let current = null; // {text, chars, check, restore, fileName}

  // ------------------------------------------------------------------ helpers

  async function post(path, body) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (!res.ok || !data || data.error) {
      const why = data && data.error ? data.error : `HTTP ${res.status}`;
      const err = new Error(why);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function setStatus(message, isError = false) {
    const el = $("status");
    el.textContent = message;
    el.classList.toggle("error", isError);
  }

  // Server offsets count Unicode code points; JS strings count UTF-16 units.
  const codePoints = (text) => Array.from(text);
  const slice = (chars, a, b) => chars.slice(a, b).join("");

  // unspin.api.SHORT_TEXT_WORDS: below it a score says little (see renderVerdict).
  const SHORT_TEXT_WORDS = 12;
  // unspin.api.UNFAMILIAR_BELOW: a spun text whose familiarity is below it was likely spun
  // with a table the shipped sources do not hold (see renderVerdict).
  const UNFAMILIAR_BELOW = 0.22;

  function confidenceClass(c) {
    if (c >= 0.8) return "c-high";
    if (c >= 0.5) return "c-mid";
    return "c-low";
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(x) {
    return Number(x).toFixed(2);
  }

  // Non-overlapping, in-range, in order: anything else from the server is skipped.
  function orderedRanges(items, length) {
    const out = [];
    let pos = 0;
    items
      .slice()
      .sort((a, b) => a.start - b.start || a.end - b.end)
      .forEach((item) => {
        if (
          Number.isInteger(item.start) && Number.isInteger(item.end) &&
          item.start >= pos && item.end >= item.start && item.end <= length
        ) {
          out.push(item);
          pos = item.end;
        }
      });
    return out;
  }

  // ------------------------------------------------------------------ highlighted view

  function showSpanDetail(span, text, mark) {
    const restored = mark && mark.dataset.restoredNote ? ` · ${mark.dataset.restoredNote}` : "";
    $("span-detail").textContent =
      `“${text}” was likely “${span.suggestion}” (confidence ${fmt(span.confidence)})` +
      restored;
  }

  // The highlights come first from the quick check (each span judged alone), then from the
  // full decode too: it reads each word's wider context and the whole document, and finds
  // more swaps at the same precision (BENCHMARKS.md, Localisation), so its spin edits that
  // no check span overlaps are added as highlights of their own.
  function restoreOnlySpans(check, restore) {
    const spans = check.supported ? check.spans : [];
    return (restore.edits || [])
      .filter((e) => e.kind === "spin" && !spans.some((s) => s.start < e.end && e.start < s.end))
      .map((e) => ({ start: e.start, end: e.end, text: e.text, suggestion: e.replacement,
        confidence: e.confidence, fromRestore: true }));
  }

  // Say on each highlight what the restored text did with it, so that the two views never
  // seem to disagree.
  function annotateHighlights(restore) {
    const edits = (restore.edits || []).filter((e) => e.kind !== "cleanup");
    document.querySelectorAll("#doc mark.spun").forEach((mark) => {
      const start = Number(mark.dataset.start);
      const end = Number(mark.dataset.end);
      const edit = edits.find((e) => e.start < end && start < e.end);
      let state = "kept";
      let note = "left as it is in the restored text (not sure enough)";
      if (edit && edit.replacement.toLowerCase().includes(mark.dataset.suggestion.toLowerCase())) {
        state = "same";
        note = "restored text: the same";
      } else if (edit) {
        state = "different";
        note = `restored text: “${edit.replacement}” instead`;
      }
      mark.dataset.restored = state;
      mark.dataset.restoredNote = note;
      mark.title = `${mark.dataset.tip}; ${note}`;
      mark.setAttribute("aria-label", `${mark.textContent}, ${mark.dataset.tip}; ${note}`);
    });
  }

  function renderHighlights(chars, spans) {
    const doc = $("doc");
    doc.replaceChildren();
    const tbody = $("span-table").querySelector("tbody");
    tbody.replaceChildren();
    let pos = 0;
    const ranges = orderedRanges(spans, chars.length);
    ranges.forEach((span) => {
      doc.append(document.createTextNode(slice(chars, pos, span.start)));
      const text = slice(chars, span.start, span.end);
      const tip = `likely original: “${span.suggestion}” (confidence ${fmt(span.confidence)})` +
        (span.fromRestore ? "; found by the full decode" : "");
      const mark = el("mark", `spun ${confidenceClass(span.confidence)}` +
        (span.fromRestore ? " from-restore" : ""), text);
      if (span.fromRestore) mark.dataset.source = "restore";
      mark.tabIndex = 0;
      mark.setAttribute("role", "button");
      mark.setAttribute("aria-label", `${text}, ${tip}`);
      mark.title = tip;
      mark.dataset.tip = tip;
      mark.dataset.suggestion = span.suggestion;
      mark.dataset.confidence = fmt(span.confidence);
      mark.dataset.start = String(span.start);
      mark.dataset.end = String(span.end);
      const show = () => showSpanDetail(span, text, mark);
      mark.addEventListener("focus", show);
      mark.addEventListener("mouseenter", show);
      mark.addEventListener("click", show);
      mark.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          show();
        }
      });
      doc.append(mark);
      pos = span.end;

      const row = el("tr");
      row.append(el("td", "", text), el("td", "", span.suggestion),
        el("td", "num", fmt(span.confidence)),
        el("td", "", span.fromRestore ? "full decode" : "check"));
      tbody.append(row);
    });
    doc.append(document.createTextNode(slice(chars, pos, chars.length)));
    $("span-count").textContent = String(ranges.length);
    $("span-detail").textContent = ranges.length
      ? "Hover, tap or focus (Tab) a marked span to see its likely original."
      : "No spun spans found.";
  }

  function renderVerdict(check, added = 0) {
    const box = $("verdict");
    box.replaceChildren();
    if (!check.supported) {
      const why = { empty: "empty input", unsupported: "not English prose", binary: "binary data" };
      box.append(el("p", "verdict-line",
        `Not analysed: ${why[check.language] || check.language}. No verdict is given.`));
      box.dataset.verdict = "unsupported";
      return;
    }
    const line = el("p", "verdict-line");
    const label = el("strong", check.spun ? "spun" : "clean",
      check.spun ? "Likely spun" : "Not spun");
    line.append(label, document.createTextNode(
      ` · spin score ${fmt(check.score)} (threshold ${fmt(check.threshold)})` +
      ` · ${check.words} words · ${check.spans.length + added} spun ` +
      `span${check.spans.length + added === 1 ? "" : "s"}` +
      (added ? ` (${added} found by the full decode)` : "") +
      (check.terms ? ` · ${check.terms} known tortured phrase${check.terms === 1 ? "" : "s"}` : "")));
    const meter = el("meter");
    meter.min = 0;
    meter.max = 1;
    meter.low = check.threshold;
    meter.high = check.threshold;
    meter.optimum = 0;
    meter.value = check.score;
    meter.setAttribute("aria-label", "spin score");
    meter.id = "score-meter";
    box.append(line, meter);
    if (check.words < SHORT_TEXT_WORDS) {
      box.append(el("p", "verdict-note",
        `A short text (${check.words} word${check.words === 1 ? "" : "s"}) gives little ` +
        "evidence: its score stays near the middle. The verdict is what to read."));
    } else if (check.spun && check.familiarity != null && check.familiarity < UNFAMILIAR_BELOW) {
      box.append(el("p", "verdict-note",
        "The shipped tables explain little of this text's unusual wording (familiarity " +
        `${fmt(check.familiarity)}): it was likely spun with a table they do not hold, so ` +
        "the spans are less certain and many swaps go unseen."));
    }
    box.dataset.verdict = check.spun ? "spun" : "clean";
    box.dataset.score = fmt(check.score);
  }

  // ------------------------------------------------------------------ restored and diff

  // Pieces [op, text] of input vs restored text, from the edits; null if they don't add up.
  function diffPieces(chars, restore) {
    const pieces = [];
    let pos = 0;
    for (const e of orderedRanges(restore.edits, chars.length)) {
      pieces.push(["=", slice(chars, pos, e.start)]);
      pieces.push(["-", slice(chars, e.start, e.end), e]);
      pieces.push(["+", e.replacement, e]);
      pos = e.end;
    }
    pieces.push(["=", slice(chars, pos, chars.length)]);
    const rebuilt = pieces.filter((p) => p[0] !== "-").map((p) => p[1]).join("");
    return rebuilt === restore.text ? pieces : null;
  }

  function editTitle(e) {
    const kind = e.kind === "spin" ? "restored" : e.kind;
    return `${kind}: “${e.text}” → “${e.replacement}” (confidence ${fmt(e.confidence)})`;
  }

  function renderRestore(chars, restore) {
    const restored = $("restored");
    const left = $("diff-left");
    const right = $("diff-right");
    [restored, left, right].forEach((n) => n.replaceChildren());
    const pieces = diffPieces(chars, restore);
    if (!pieces) {
      restored.textContent = restore.text;
      left.textContent = slice(chars, 0, chars.length);
      right.textContent = restore.text;
      return;
    }
    for (const [op, text, e] of pieces) {
      if (!text) continue;
      if (op === "=") {
        restored.append(document.createTextNode(text));
        left.append(document.createTextNode(text));
        right.append(document.createTextNode(text));
      } else if (op === "-") {
        const del = el("del", e.kind, text);
        del.title = editTitle(e);
        left.append(del);
      } else {
        const ins = el("ins", e.kind, text);
        ins.title = editTitle(e);
        right.append(ins);
        const ins2 = el("ins", e.kind, text);
        ins2.title = editTitle(e);
        restored.append(ins2);
      }
    }
  }

  // ------------------------------------------------------------------ trace

  function safeUrl(value) {
    if (typeof value !== "string") return null;
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  function renderTrace(result) {
    const list = $("trace-list");
    list.replaceChildren();
    const matches = result.matches || [];
    $("trace-status").textContent = matches.length
      ? `${matches.length} possible source${matches.length === 1 ? "" : "s"}, best first:`
      : "No source found in the index.";
    for (const m of matches) {
      const item = el("li");
      const name = String(m.title || m.id);
      const url = safeUrl(m.url) || safeUrl(m.id);
      if (url) {
        const a = el("a", "", name);
        a.href = url;
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        item.append(a);
      } else {
        item.append(el("span", "source-name", name));
      }
      item.append(document.createTextNode(
        ` · score ${fmt(m.score)} · coverage ${Math.round(100 * Number(m.coverage))} %`));
      list.append(item);
    }
  }

  // ------------------------------------------------------------------ views

  function setView(name) {
    document.querySelectorAll(".view-button").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.view === name));
    });
    ["highlight", "restored", "diff"].forEach((v) => {
      $(`view-${v}`).hidden = v !== name;
    });
  }

  // ------------------------------------------------------------------ actions

  async function analyse() {
    const text = $("text").value;
    const my = ++generation;
    if (!text.trim()) {
      setStatus("Paste or upload a text first.", true);
      return;
    }
    const size = new Blob([JSON.stringify({ text })]).size;
    if (health && size > health.max_body_bytes) {
      setStatus(`The text is too long for this server (${size} bytes, limit ` +
        `${health.max_body_bytes}).`, true);
      return;
    }
    const chars = codePoints(text);
    current = { text, chars, check: null, restore: null, fileName: current && current.fileName };
    setStatus("Checking…");
    $("results").dataset.state = "checking"; // not "done" until this text's results are in
    $("check-button").disabled = true;
    const started = performance.now();
    const checkP = post("/v1/check", { text });
    const restoreP = post("/v1/restore", { text });
    const traceP = health && health.index ? post("/v1/trace", { text }) : null;
    try {
      const check = await checkP;
      if (my !== generation) return;
      current.check = check;
      renderVerdict(check);
      renderHighlights(chars, check.supported ? check.spans : []);
      $("results").hidden = false;
      $("results").dataset.state = "checked";
      setStatus("Checked; restoring…");
      const restore = await restoreP;
      if (my !== generation) return;
      current.restore = restore;
      renderRestore(chars, restore);
      const added = restoreOnlySpans(check, restore);
      if (added.length) {
        renderVerdict(check, added.length);
        renderHighlights(chars, [...check.spans, ...added]);
      }
      annotateHighlights(restore);
      $("results").dataset.state = "done";
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      setStatus(`Done in ${secs} s.`);
    } catch (err) {
      if (my === generation) setStatus(`Error: ${err.message}`, true);
    } finally {
      if (my === generation) $("check-button").disabled = false;
    }
    if (traceP) {
      $("trace").hidden = false;
      $("trace-status").textContent = "Looking for sources…";
      $("trace-list").replaceChildren();
      try {
        const result = await traceP;
        if (my === generation) renderTrace(result);
      } catch (err) {
        if (my === generation) $("trace-status").textContent = `Trace failed: ${err.message}`;
      }
    }
  }

  async function loadFile(file) {
    if (!file) return;
    if (health && file.size > health.max_body_bytes) {
      setStatus(`${file.name} is too large for this server (limit ${health.max_body_bytes} bytes).`,
        true);
      return;
    }
    try {
      let text = await file.text();
      const isHtml = /\.html?$/i.test(file.name) || file.type === "text/html";
      if (isHtml) {
        setStatus(`Extracting the text of ${file.name}…`);
        text = (await post("/v1/extract", { text })).text;
      }
      $("text").value = text;
      current = { fileName: file.name };
      setStatus(`Loaded ${file.name}.`);
      await analyse();
    } catch (err) {
      setStatus(`Could not read ${file.name}: ${err.message}`, true);
    }
  }

  async function copyRestored() {
    if (!current || !current.restore) return;
    const text = current.restore.text;
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      // No clipboard API (plain http on another host): select and copy.
      const area = el("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.append(area);
      area.select();
      const ok = document.execCommand && document.execCommand("copy");
      area.remove();
      if (!ok) {
        setStatus("Copy is not available here; use Download instead.", true);
        return;
      }
    }
    setStatus("Restored text copied.");
  }

  function downloadRestored() {
    if (!current || !current.restore) return;
    const blob = new Blob([current.restore.text], { type: "text/plain;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const a = el("a");
    a.href = url;
    const base = current.fileName ? current.fileName.replace(/\.[^.]*$/, "") : "text";
    a.download = `${base}-restored.txt`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // ------------------------------------------------------------------ wiring

  document.addEventListener("DOMContentLoaded", () => {
    $("input-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      analyse();
    });
    $("text").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        analyse();
      }
    });
    $("file").addEventListener("change", (ev) => loadFile(ev.target.files[0]));
    $("clear-button").addEventListener("click", () => {
      generation++;
      $("text").value = "";
      $("results").hidden = true;
      $("trace").hidden = true;
      current = null;
      setStatus("");
      $("text").focus();
    });
    document.querySelectorAll(".view-button").forEach((b) => {
      b.addEventListener("click", () => setView(b.dataset.view));
    });
    $("copy-button").addEventListener("click", copyRestored);
    $("download-button").addEventListener("click", downloadRestored);
    fetch("/healthz")
      .then((r) => r.json())
      .then((h) => {
        health = h;
        $("version").textContent = `unspin ${h.version.package}, data ${h.version.data}.`;
        document.body.dataset.ready = "true";
      })
      .catch(() => {
        document.body.dataset.ready = "true";
      });
  });
})();
