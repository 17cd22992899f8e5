// parity report: filters by verdict and tag, search, and opening a result
// named by the URL hash. Without this script every row stays visible.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) return;
  var fv = document.getElementById("f-verdict");
  var ft = document.getElementById("f-tag");
  var fq = document.getElementById("f-q");
  var count = document.getElementById("f-count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tbody.scenario"));
  form.hidden = false;

  function hasTag(row, tag) {
    return Array.prototype.some.call(row.querySelectorAll("[data-tag]"), function (e) {
      return e.getAttribute("data-tag") === tag;
    });
  }

  function apply(updateHash) {
    var v = fv.value, t = ft.value, q = fq.value.trim().toLowerCase(), shown = 0;
    rows.forEach(function (row) {
      var ok = true;
      if (v === "failure") ok = row.getAttribute("data-failed") === "true";
      else if (v) ok = (" " + row.getAttribute("data-verdicts") + " ").indexOf(" " + v + " ") >= 0;
      if (ok && t) ok = hasTag(row, t);
      if (ok && q) ok = row.querySelector("tr.row").textContent.toLowerCase().indexOf(q) >= 0;
      row.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = shown + " of " + rows.length + " scenarios shown";
    if (updateHash) {
      var p = [];
      if (v) p.push("verdict=" + encodeURIComponent(v));
      if (t) p.push("tag=" + encodeURIComponent(t));
      if (q) p.push("q=" + encodeURIComponent(fq.value.trim()));
      try { history.replaceState(null, "", p.length ? "#" + p.join("&") : location.pathname); } catch (e) { /* file:// may refuse */ }
    }
  }

  function setSelect(sel, value) {
    for (var i = 0; i < sel.options.length; i++) {
      if (sel.options[i].value === value) { sel.selectedIndex = i; return; }
    }
  }

  function fromHash() {
    var h = location.hash.slice(1);
    if (h.indexOf("=") < 0) {
      var target = h && document.getElementById(decodeURIComponent(h));
      for (var e = target; e; e = e.parentElement) if (e.tagName === "DETAILS") e.open = true;
      return;
    }
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("="), k = kv.slice(0, i), val = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, " "));
      if (k === "verdict") setSelect(fv, val);
      else if (k === "tag") setSelect(ft, val);
      else if (k === "q") fq.value = val;
    });
    apply(false);
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); });
  fv.addEventListener("change", function () { apply(true); });
  ft.addEventListener("change", function () { apply(true); });
  fq.addEventListener("input", function () { apply(true); });
  window.addEventListener("hashchange", fromHash);
  fromHash();
  apply(false);
})();
