// Self-hosted API reference: renders /openapi.json with a "try it" form per POST endpoint.
// Everything goes into the page as text nodes.
"use strict";

(() => {
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  function resolve(spec, schema) {
    if (schema && schema.$ref) {
      const name = schema.$ref.split("/").pop();
      return spec.components.schemas[name];
    }
    return schema;
  }

  function typeOf(prop) {
    if (prop.type) return prop.type;
    if (prop.anyOf) return prop.anyOf.map((p) => p.type || "any").join(" | ");
    return "any";
  }

  function fieldTable(schema) {
    const table = el("table");
    const head = el("tr");
    ["field", "type", "required", "meaning"].forEach((h) => head.append(el("th", "", h)));
    table.append(head);
    const required = new Set(schema.required || []);
    for (const [name, prop] of Object.entries(schema.properties || {})) {
      const row = el("tr");
      row.append(el("td", "", name), el("td", "", typeOf(prop)),
        el("td", "", required.has(name) ? "yes" : "no"), el("td", "", prop.description || ""));
      table.append(row);
    }
    return table;
  }

  function tryIt(path) {
    const box = el("div", "try");
    const label = el("label", "", "Request body");
    const id = `try-${path.replace(/\W/g, "-")}`;
    label.htmlFor = id;
    const area = el("textarea");
    area.id = id;
    area.rows = 3;
    area.value = JSON.stringify({ text: "The metropolis council accredited a brand new finances.", id: "demo" });
    const button = el("button", "", `POST ${path}`);
    button.type = "button";
    const out = el("pre", "doc");
    out.setAttribute("aria-live", "polite");
    button.addEventListener("click", async () => {
      out.textContent = "…";
      try {
        const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: area.value });
        const text = await res.text();
        let shown = text;
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
        out.textContent = `HTTP ${res.status}\n${shown}`;
      } catch (err) {
        out.textContent = `failed: ${err.message}`;
      }
    });
    box.append(label, area, button, out);
    return box;
  }

  async function main() {
    const root = document.getElementById("endpoints");
    try {
      const spec = await (await fetch("/openapi.json")).json();
      root.replaceChildren();
      for (const [path, methods] of Object.entries(spec.paths)) {
        for (const [method, op] of Object.entries(methods)) {
          const section = el("section");
          section.append(el("h2", "", `${method.toUpperCase()} ${path}`));
          if (op.summary) section.append(el("p", "", op.summary));
          if (op.description) section.append(el("p", "help", op.description));
          const body = op.requestBody && op.requestBody.content["application/json"];
          if (body) {
            section.append(el("h3", "", "Request"));
            section.append(fieldTable(resolve(spec, body.schema)));
            section.append(tryIt(path));
          }
          root.append(section);
        }
      }
    } catch (err) {
      root.textContent = `Could not load /openapi.json: ${err.message}`;
    }
  }

  document.addEventListener("DOMContentLoaded", main);
})();
