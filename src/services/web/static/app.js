/* db-scheduler's pages: the one script (a file: the CSP allows no inline script).
 * Every page works without it; with it:
 *  - the task form shows the schedule in words and its next 5 runs as it is typed
 *    (GET /tasks/schedule-preview, the parser the save uses);
 *  - the runs list puts fresh rows in place every 2 s (GET /runs/rows);
 *  - a run's page reloads itself until the run ends;
 *  - the filters' menus apply at once;
 *  - the task form's "Add a column" button adds a row of column inputs (without the
 *    script, the form has a few empty rows; save, and it shows more).
 */
"use strict";

function schedulePreview() {
  const form = document.querySelector("form.task-form");
  const box = document.getElementById("schedule-preview");
  if (!form || !box) return;
  const names = ["schedule_kind", "schedule_value", "schedule_start", "timezone"];
  let timer = null;
  let asked = 0;
  function show(answer) {
    box.replaceChildren();
    if (answer.ok) {
      const text = document.createElement("p");
      text.id = "preview-text";
      text.textContent = answer.text + " (" + answer.zone + ")";
      box.append(text);
      if (answer.next.length) {
        const head = document.createElement("p");
        head.textContent = "Next runs:";
        const list = document.createElement("ol");
        list.id = "preview-next";
        for (const moment of answer.next) {
          const item = document.createElement("li");
          item.textContent = moment;
          list.append(item);
        }
        box.append(head, list);
      } else {
        const none = document.createElement("p");
        none.id = "preview-none";
        none.textContent = "No run ahead.";
        box.append(none);
      }
    } else {
      const error = document.createElement("p");
      error.className = "field-error";
      error.id = "preview-error";
      error.textContent = answer.field + ": " + answer.message;
      box.append(error);
    }
  }
  function ask() {
    const query = new URLSearchParams({
      kind: form.elements["schedule_kind"].value,
      value: form.elements["schedule_value"].value,
      start: form.elements["schedule_start"].value,
      timezone: form.elements["timezone"].value,
    });
    const mine = ++asked;
    fetch("/tasks/schedule-preview?" + query.toString(), {credentials: "same-origin"})
      .then((reply) => reply.json())
      .then((answer) => { if (mine === asked) show(answer); })
      .catch(() => { /* the preview is a help; the save checks the schedule anyway */ });
  }
  for (const name of names) {
    const input = form.elements[name];
    if (!input) continue;
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 250); });
    input.addEventListener("change", ask);
  }
}

function columnRows() {
  const button = document.getElementById("add-column");
  const template = document.getElementById("column-row-template");
  const rows = document.getElementById("column-rows");
  if (!button || !template || !rows) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    const row = rows.querySelectorAll("fieldset.column-row").length;
    const copy = template.content.cloneNode(true);
    const number = (text) => text.replaceAll("__ROW__", String(row)).replaceAll("__NUMBER__", String(row + 1));
    for (const element of copy.querySelectorAll("*")) {
      for (const attribute of Array.from(element.attributes)) {
        element.setAttribute(attribute.name, number(attribute.value));
      }
    }
    const walker = document.createTreeWalker(copy, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) walker.currentNode.nodeValue = number(walker.currentNode.nodeValue);
    rows.append(copy);
    document.getElementById("f-col_" + row + "_name").focus();
  });
}

function liveRuns() {
  const box = document.getElementById("runs-live");
  if (!box) return;
  const state = document.getElementById("live-state");
  const url = box.dataset.live;
  function refresh() {
    fetch(url, {credentials: "same-origin"})
      .then((reply) => {
        if (!reply.ok) throw new Error("HTTP " + reply.status);
        return reply.text();
      })
      .then((html) => {
        const parsed = new DOMParser().parseFromString(html, "text/html");
        box.replaceChildren(...parsed.body.childNodes);
        if (state) state.textContent = "Updated " + new Date().toLocaleTimeString() + "; updates every 2 seconds.";
      })
      .catch((error) => {
        if (state) state.textContent = "Could not update the list (" + error.message + "); trying again.";
      })
      .finally(() => setTimeout(refresh, 2000));
  }
  if (state) state.textContent = "This list updates itself every 2 seconds.";
  setTimeout(refresh, 2000);
}

function refreshWhileGoing() {
  const box = document.querySelector("[data-refresh]");
  if (!box) return;
  setTimeout(() => window.location.reload(), Number(box.dataset.refresh) * 1000);
}

function autoSubmit() {
  for (const select of document.querySelectorAll("select.autosubmit")) {
    select.addEventListener("change", () => select.form.submit());
  }
}

document.addEventListener("DOMContentLoaded", () => {
  schedulePreview();
  columnRows();
  liveRuns();
  refreshWhileGoing();
  autoSubmit();
});
