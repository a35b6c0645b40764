/* Centralino admin: the little JavaScript the pages need (no framework, no CDN).
 * Everything user-provided is inserted with textContent, never innerHTML. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  /* Fragments that refresh themselves (dashboard: calls in progress). Server-rendered,
   * escaped HTML from our own origin. */
  function setupRefresh() {
    document.querySelectorAll("[data-refresh]").forEach(function (el) {
      var interval = parseInt(el.getAttribute("data-interval") || "5000", 10);
      setInterval(function () {
        fetch(el.getAttribute("data-refresh"), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) { if (html !== null) { el.innerHTML = html; } })
          .catch(function () {});
      }, interval);
    });
  }

  /* Editable row tables: add from a <template>, move up/down, remove. */
  function setupRows() {
    document.addEventListener("click", function (ev) {
      var target = ev.target;
      if (!(target instanceof HTMLElement)) { return; }
      if (target.classList.contains("add-row")) {
        var table = document.getElementById(target.getAttribute("data-table"));
        var tpl = document.getElementById(target.getAttribute("data-template"));
        var row = tpl.content.firstElementChild.cloneNode(true);
        table.querySelector("tbody").appendChild(row);
        var first = row.querySelector("input, textarea");
        if (first) { first.focus(); }
        return;
      }
      var tr = target.closest("tr");
      if (!tr) { return; }
      if (target.classList.contains("row-remove")) {
        tr.remove();
      } else if (target.classList.contains("row-up") && tr.previousElementSibling) {
        tr.parentNode.insertBefore(tr, tr.previousElementSibling);
      } else if (target.classList.contains("row-down") && tr.nextElementSibling) {
        tr.parentNode.insertBefore(tr.nextElementSibling, tr);
      }
    });
  }

  /* Live preview of the prompt template. */
  function setupPreview() {
    var area = document.getElementById("prompt_template");
    var form = document.getElementById("client-form");
    if (!area || !form) { return; }
    var out = document.getElementById("prompt-preview");
    var errs = document.getElementById("prompt-preview-errors");
    var refresh = debounce(function () {
      post(area.getAttribute("data-preview"), new FormData(form))
        .then(function (r) { return r.json(); })
        .then(function (data) {
          out.textContent = data.text || "";
          errs.textContent = "";
          (data.errors || []).forEach(function (e) {
            var li = document.createElement("li");
            li.textContent = e;
            errs.appendChild(li);
          });
          out.classList.toggle("has-errors", (data.errors || []).length > 0);
        })
        .catch(function () {});
    }, 300);
    form.addEventListener("input", refresh);
  }

  /* Chat simulator. */
  function setupChat() {
    var root = document.getElementById("chat");
    if (!root) { return; }
    var startForm = document.getElementById("chat-start");
    var sayForm = document.getElementById("chat-say");
    var log = document.getElementById("chat-log");
    var leadBox = document.getElementById("chat-lead");
    var status = document.getElementById("chat-status");
    var input = document.getElementById("chat-input");
    var callLink = document.getElementById("chat-call-link");
    var sayUrl = null;
    var fieldLabels = JSON.parse(root.getAttribute("data-field-labels") || "{}");
    var valueLabels = JSON.parse(root.getAttribute("data-value-labels") || "{}");

    function add(speaker, text, meta) {
      var li = document.createElement("li");
      li.className = "msg msg-" + speaker;
      var who = document.createElement("strong");
      who.textContent = root.getAttribute(speaker === "caller" ? "data-label-caller" : "data-label-agent");
      var body = document.createElement("span");
      body.className = "msg-text";
      body.textContent = text;
      li.appendChild(who);
      li.appendChild(body);
      if (meta) {
        var small = document.createElement("small");
        small.textContent = meta;
        li.appendChild(small);
      }
      log.appendChild(li);
      li.scrollIntoView({ block: "nearest" });
    }

    function show(data) {
      (data.replies || []).forEach(function (r) {
        var meta = r.provider + (r.llm_ms != null ? " · " + Math.round(r.llm_ms) + " ms" : "");
        add("agent", r.text, meta);
      });
      leadBox.textContent = "";
      Object.keys(data.lead || {}).forEach(function (k) {
        var dt = document.createElement("dt");
        dt.textContent = fieldLabels[k] || k;
        var dd = document.createElement("dd");
        var value = String(data.lead[k]);
        dd.textContent = Object.prototype.hasOwnProperty.call(valueLabels, value) ? valueLabels[value] : value;
        dd.setAttribute("data-field", k);
        leadBox.appendChild(dt);
        leadBox.appendChild(dd);
      });
      callLink.hidden = false;
      callLink.querySelector("a").setAttribute("href", root.getAttribute("data-calls") + data.call_id);
      if (data.ended) {
        sayForm.hidden = true;
        status.textContent = root.getAttribute("data-msg-ended") + (data.outcome ? " (" + data.outcome + ")" : "");
      }
    }

    function handle(response) {
      return response.json().then(function (data) {
        if (!response.ok) {
          status.textContent = data.error || root.getAttribute("data-msg-error");
          return null;
        }
        status.textContent = "";
        return data;
      });
    }

    startForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      log.textContent = "";
      leadBox.textContent = "";
      post(root.getAttribute("data-start"), new FormData(startForm)).then(handle).then(function (data) {
        if (!data) { return; }
        sayUrl = root.getAttribute("data-start") + "/" + encodeURIComponent(data.session);
        sayForm.hidden = data.ended;
        show(data);
        input.focus();
      }).catch(function () { status.textContent = root.getAttribute("data-msg-error"); });
    });

    sayForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = input.value.trim();
      if (!text || !sayUrl) { return; }
      add("caller", text, "");
      input.value = "";
      var body = new FormData();
      body.append("text", text);
      post(sayUrl, body).then(handle).then(function (data) { if (data) { show(data); } })
        .catch(function () { status.textContent = root.getAttribute("data-msg-error"); });
    });

    document.getElementById("chat-end").addEventListener("click", function () {
      if (!sayUrl) { return; }
      post(sayUrl + "/end", new FormData()).then(handle).then(function (data) { if (data) { show(data); } });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupRefresh();
    setupRows();
    setupPreview();
    setupChat();
  });
})();
