// Docket's few enhancements on top of htmx. Every page works without this file: it adds upload progress and
// drag and drop to the quick-add form, and puts the receipt on the clipboard. A static file, since the CSP
// allows no inline script.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function csrfToken() {
    var headers = document.body.getAttribute("hx-headers");
    try { return headers ? JSON.parse(headers)["X-CSRF-Token"] : ""; } catch (e) { return ""; }
  }

  // Links from before records were `#rN` still land on the record.
  var legacy = /^#record-(\d+)$/.exec(location.hash);
  if (legacy) { location.replace("#r" + legacy[1]); }

  // On a phone the quick-add form would fill the first screen: fold it until asked for, unless it holds an
  // error or the link asked for a kind (`?add=`). Wide screens have room for both and show no summary.
  var fold = document.querySelector("[data-fold-narrow]");
  if (fold && window.matchMedia("(max-width: 48rem)").matches && !fold.querySelector("[aria-invalid=true]") &&
      !/[?&]add=/.test(location.search)) {
    fold.open = false;
  }

  // Uploads: each chosen or dropped file goes to the evidence API straight away, with a progress bar; the
  // form then carries only the file's SHA-256 in a hidden `attachments` input.
  function upload(form, file) {
    var list = form.querySelector("[data-uploads]");
    var item = document.createElement("li");
    item.className = "upload";
    var name = document.createElement("span");
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + file.name);
    item.append(name, " ", bar);
    list.append(item);
    var button = form.querySelector("button[type=submit]:not([name])");
    var pending = Number(form.dataset.pending || 0) + 1;
    form.dataset.pending = pending;
    if (button) { button.disabled = true; }

    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/evidence");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) { bar.value = Math.round(100 * ev.loaded / ev.total); }
    });
    xhr.addEventListener("loadend", function () {
      form.dataset.pending = Number(form.dataset.pending) - 1;
      if (button && form.dataset.pending === "0") { button.disabled = false; }
      bar.remove();
      if (xhr.status === 201 || xhr.status === 200) {
        var evidence = JSON.parse(xhr.responseText);
        var input = document.createElement("input");
        input.type = "hidden"; input.name = "attachments"; input.value = evidence.sha256;
        var size = document.createElement("span");
        size.className = "muted";
        size.textContent = " " + formatSize(evidence.size) + " ✓";
        var remove = document.createElement("button");
        remove.type = "button"; remove.className = "link small"; remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove " + file.name);
        remove.addEventListener("click", function () { item.remove(); });
        item.classList.add("done");
        item.append(size, " ", remove, input);
      } else {
        var message = "upload failed";
        try { message = JSON.parse(xhr.responseText).detail || message; } catch (e) { /* not JSON */ }
        var error = document.createElement("span");
        error.className = "field-error";
        error.setAttribute("role", "alert");
        error.textContent = " " + (typeof message === "string" ? message : "upload failed");
        item.append(error);
      }
    });
    var body = new FormData();
    body.append("file", file, file.name);
    xhr.send(body);
  }

  function formatSize(size) {
    var units = ["bytes", "KB", "MB", "GB"];
    var i = 0;
    while (size >= 1024 && i < units.length - 1) { size /= 1024; i++; }
    return i === 0 ? size + " bytes" : size.toFixed(1) + " " + units[i];
  }

  document.addEventListener("change", function (ev) {
    var input = ev.target;
    if (!input.matches || !input.matches("[data-upload-input]")) { return; }
    var form = input.closest("form");
    Array.prototype.forEach.call(input.files, function (file) { upload(form, file); });
    input.value = "";
  });

  function dropZone(ev) {
    return ev.target.closest ? ev.target.closest("[data-drop]") : null;
  }
  document.addEventListener("dragover", function (ev) {
    var zone = dropZone(ev);
    if (zone) { ev.preventDefault(); zone.classList.add("over"); }
  });
  document.addEventListener("dragleave", function (ev) {
    var zone = dropZone(ev);
    if (zone) { zone.classList.remove("over"); }
  });
  document.addEventListener("drop", function (ev) {
    var zone = dropZone(ev);
    if (!zone) { return; }
    ev.preventDefault();
    zone.classList.remove("over");
    var form = zone.closest("form");
    Array.prototype.forEach.call(ev.dataTransfer.files, function (file) { upload(form, file); });
  });

  // "Copy receipt": the POST signs the ledger and records who the receipt is for, and answers with the ledger
  // panel holding the receipt. The clipboard write starts inside the click (ClipboardItem takes a promise), so
  // the browser still counts it as the user's gesture when the text arrives.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.matches("[data-copy-receipt]")) { return; }
    ev.preventDefault();
    var panel = form.closest("#ledger");
    var sent = fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: {"HX-Request": "true", "X-CSRF-Token": csrfToken()},
      credentials: "same-origin",
    }).then(function (response) {
      return response.text().then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#ledger");
        if (fresh && panel) {
          panel.replaceWith(fresh);
          if (window.htmx) { window.htmx.process(fresh); }
        }
        var text = fresh && fresh.querySelector("#receipt-text");
        if (!response.ok || !text) { throw new Error("no receipt"); }
        return {panel: fresh, text: text.textContent};
      });
    });
    var copied;
    if (window.ClipboardItem && navigator.clipboard && navigator.clipboard.write) {
      var blob = sent.then(function (r) { return new Blob([r.text], {type: "text/plain"}); });
      copied = navigator.clipboard.write([new ClipboardItem({"text/plain": blob})]);
    } else {
      copied = sent.then(function (r) { return navigator.clipboard.writeText(r.text); });
    }
    Promise.all([sent, copied]).then(function (results) {
      var status = results[0].panel.querySelector("[data-copy-status]");
      if (status) { status.textContent = "Copied to the clipboard."; }
    }, function () {
      sent.then(function (r) {
        var status = r.panel.querySelector("[data-copy-status]");
        if (status) { status.textContent = "Select the text below to copy it."; }
      }, function () { /* the panel shows the form's errors */ });
    });
  });
})();
