// Stargraph console: progressive enhancement only (the pages work without it).
// - <time datetime> shown in the browser's zone, UTC in the title (hover);
// - forms with data-confirm ask first, then post with confirm=yes;
// - a .live[data-refresh] block offers auto-refresh: it fetches this same page and swaps the
//   target region (no full reload), keeping focus and scroll.
"use strict";
(function () {
  document.documentElement.classList.add("js");

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) { return; }
      el.title = d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
      el.textContent = d.toLocaleString(undefined, {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
        minute: "2-digit", second: "2-digit", timeZoneName: "short"
      });
    });
  }

  function confirms(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); return; }
        var yes = document.createElement("input");
        yes.type = "hidden"; yes.name = "confirm"; yes.value = "yes";
        form.appendChild(yes);
      });
    });
  }

  function swap(targetId) {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok || r.redirected) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(targetId), old = document.getElementById(targetId);
        if (fresh && old) { old.replaceWith(fresh); localTimes(fresh); confirms(fresh); }
      });
  }

  function live(box) {
    var seconds = parseInt(box.dataset.refresh, 10) || 10;
    var target = box.dataset.target || "main";
    var id = "live-" + target;
    box.innerHTML = "";
    var label = document.createElement("label");
    var check = document.createElement("input");
    check.type = "checkbox"; check.id = id;
    label.htmlFor = id; label.textContent = " Refresh every " + seconds + " s";
    var status = document.createElement("span");
    status.setAttribute("role", "status"); status.className = "live-status";
    box.append(check, label, " ", status);
    var timer = null;
    check.addEventListener("change", function () {
      if (timer) { clearInterval(timer); timer = null; status.textContent = ""; }
      if (check.checked) {
        timer = setInterval(function () {
          swap(target).then(function () { status.textContent = "updated " + new Date().toLocaleTimeString(); })
            .catch(function () { status.textContent = "refresh failed"; });
        }, seconds * 1000);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    confirms(document);
    document.querySelectorAll(".live[data-refresh]").forEach(live);
  });
})();
