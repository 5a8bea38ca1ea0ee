// ocr-frames review: keyboard and saving for the two pages. The pages are rendered by the
// server; this script only moves the selection, posts decisions to the JSON API (the
// token in an Authorization header) and shows what the API answers.
(() => {
  "use strict";
  const token = new URLSearchParams(location.search).get("token") || "";
  const isTyping = (event) => {
    const t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable);
  };
  const plainKey = (event) => !event.ctrlKey && !event.metaKey && !event.altKey;

  function listPage() {
    const body = document.querySelector("table.of-list tbody");
    if (!body) return;
    let selected = 0;
    const lines = () => Array.from(body.querySelectorAll("tr.of-line"));
    const select = (n) => {
      const all = lines();
      if (!all.length) return;
      selected = Math.max(0, Math.min(n, all.length - 1));
      all.forEach((tr, k) => tr.classList.toggle("of-selected", k === selected));
      all[selected].scrollIntoView({ block: "nearest" });
    };
    const order = { row: 1, min_conf: 1, status: 1 };
    document.querySelectorAll("th[data-sort]").forEach((th) => {
      th.addEventListener("click", () => {
        const key = th.dataset.sort;
        const value = (tr) => {
          if (key === "row") return Number(tr.dataset.row);
          if (key === "min_conf") return tr.dataset.min_conf === "" ? 2 : Number(tr.dataset.min_conf);
          if (key === "status") return tr.dataset.status;
          return tr.cells[th.cellIndex].textContent;
        };
        order[key] = -(order[key] || 1);
        const sorted = lines().sort((a, b) => {
          const x = value(a), y = value(b);
          return (x < y ? -1 : x > y ? 1 : 0) * order[key];
        });
        sorted.forEach((tr) => body.appendChild(tr));
        select(0);
      });
    });
    document.addEventListener("keydown", (event) => {
      if (isTyping(event) || !plainKey(event)) return;
      if (event.key === "j") select(selected + 1);
      else if (event.key === "k") select(selected - 1);
      else if (event.key === "Enter") {
        const link = lines()[selected] && lines()[selected].querySelector("a");
        if (link) location.href = link.href;
      } else return;
      event.preventDefault();
    });
    select(0);
  }

  function rowPage() {
    const main = document.querySelector("main[data-api]");
    const view = document.querySelector(".of-row");
    if (!main || !view) return;
    const api = main.dataset.api;
    const masked = view.dataset.masked === "true";
    const help = document.getElementById("of-help");
    const message = document.getElementById("of-message");
    const fields = () => Array.from(document.querySelectorAll("tr.of-field"));
    let focused = 0;
    let editing = null;

    const say = (text, failed) => {
      message.textContent = text;
      message.classList.toggle("of-fail", Boolean(failed));
    };
    const focus = (n) => {
      const all = fields();
      if (!all.length) return;
      focused = Math.max(0, Math.min(n, all.length - 1));
      all.forEach((tr, k) => tr.classList.toggle("of-focused", k === focused));
      // the focused field's box on the image, where the engine said where it read it
      const name = all[focused].dataset.field;
      document.querySelectorAll("polygon.of-box-field").forEach((box) => {
        box.classList.toggle("of-focused", box.dataset.field === name);
      });
    };
    const show = (detail) => {
      const badge = view.querySelector(".of-status");
      badge.textContent = detail.status;
      badge.className = "of-status of-status-" + detail.status;
      view.dataset.status = detail.status;
      detail.fields.forEach((field) => {
        const tr = view.querySelector(`tr.of-field[data-field="${field.name}"]`);
        if (!tr || field.corrected === null) return;
        tr.querySelector(".of-text").textContent = field.corrected;
        tr.classList.add("of-corrected");
      });
    };
    const post = async (payload) => {
      say("saving…");
      try {
        const answer = await fetch(api + "/review", {
          method: "POST",
          headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
          body: JSON.stringify(payload),
        });
        const data = await answer.json();
        if (!answer.ok) return say("not saved: " + (data.error || answer.status), true);
        show(data);
        say("saved: " + payload.decision);
      } catch (error) {
        say("not saved: " + error, true);
      }
    };
    const stopEditing = () => {
      if (!editing) return;
      editing.input.remove();
      editing.text.hidden = false;
      editing = null;
    };
    const edit = () => {
      const tr = fields()[focused];
      if (!tr || editing) return;
      const text = tr.querySelector(".of-text");
      const input = document.createElement("input");
      input.type = "text";
      input.value = masked ? "" : text.textContent;
      input.placeholder = masked ? "type the full value (shown masked)" : "";
      input.setAttribute("aria-label", "new value of " + tr.dataset.field);
      text.hidden = true;
      text.after(input);
      editing = { input, text, field: tr.dataset.field };
      input.focus();
      input.addEventListener("keydown", (event) => {
        if (event.isComposing) return; // Enter that ends an input method's composition
        if (event.key === "Enter") {
          event.preventDefault();
          const field = editing.field, value = input.value.trim();
          const before = text.textContent;
          stopEditing();
          // nothing typed, or the value as it stands: no correction to record
          if (!value || (!masked && value === before)) return say("nothing changed");
          post({ decision: "correct", fields: { [field]: value } });
        } else if (event.key === "Escape") {
          event.preventDefault();
          stopEditing();
        }
      });
    };
    const go = (id) => {
      const link = document.getElementById(id);
      if (link) location.href = link.href;
    };

    fields().forEach((tr, k) => tr.addEventListener("click", () => focus(k)));
    document.getElementById("of-approve").addEventListener("click", () => post({ decision: "approve" }));
    document.getElementById("of-reject").addEventListener("click", () => post({ decision: "reject" }));
    document.getElementById("of-edit").addEventListener("click", edit);
    document.getElementById("of-helpbtn").addEventListener("click", () => { help.hidden = !help.hidden; });
    document.addEventListener("keydown", (event) => {
      if (isTyping(event) || !plainKey(event)) return;
      const key = event.key;
      if (key === "j") go("of-next");
      else if (key === "k") go("of-prev");
      else if (key === "a") post({ decision: "approve" });
      else if (key === "r") post({ decision: "reject" });
      else if (key === "e") edit();
      else if (key === "ArrowDown") focus(focused + 1);
      else if (key === "ArrowUp") focus(focused - 1);
      else if (key === "?") help.hidden = !help.hidden;
      else if (key === "Escape") help.hidden = true;
      else return;
      event.preventDefault();
    });
    // start on the least sure field: a red one, else an amber one (not one without a
    // confidence: many answers give none at all)
    const first = (band) => fields().findIndex((tr) => tr.classList.contains("of-band-" + band));
    const unsure = [first("low"), first("medium")].find((k) => k >= 0);
    focus(unsure === undefined ? 0 : unsure);
  }

  if (document.body.dataset.page === "list") listPage();
  else if (document.body.dataset.page === "row") rowPage();
})();
