"use strict";
(function () {
  // Every call is relative to where the page was loaded, so the page works
  // behind the OpenHIM channel's URL prefix: from ".../board" the API is
  // "board/api/...", from ".../board/" it is "api/...".
  var path = location.pathname;
  var api = path.endsWith("/") ? "api/" : path.slice(path.lastIndexOf("/") + 1) + "/api/";

  var $ = function (id) { return document.getElementById(id); };
  var current = null; // the query and dry run report on screen

  function el(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function row(cells, attrs) {
    var tr = el("tr", null, attrs);
    cells.forEach(function (c) {
      var td = typeof c === "object" && c !== null ? c : el("td", c);
      tr.appendChild(td);
    });
    return tr;
  }
  function setStatus(msg) { $("status").textContent = msg; }
  function setError(msg) { var e = $("error"); e.textContent = msg || ""; e.hidden = !msg; }
  function pct(r) { return Math.round((r || 0) * 1000) / 10 + "%"; }
  function when(t) {
    if (!t) return "never";
    var d = new Date(t);
    return isNaN(d) ? String(t) : d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }

  // call answers {status, body} whatever the HTTP status; it throws only
  // when the network fails.
  function call(method, what, params) {
    var q = new URLSearchParams(params).toString();
    var headers = { Accept: "application/json" };
    if (method === "POST") headers["X-Month-Board"] = "push"; // the mediator refuses a push without it
    return fetch(api + what + (q ? "?" + q : ""), { method: method, credentials: "same-origin", headers: headers })
      .then(function (res) {
        return res.text().then(function (text) {
          var body = null;
          try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: text }; }
          return { status: res.status, body: body };
        });
      });
  }
  function messageOf(r) {
    var b = r.body || {};
    return b.error || b.message || b.reason || ("HTTP " + r.status);
  }

  function query() {
    var m = $("month").value.replace("-", "");
    var p = { dataSet: $("dataSet").value, period: m };
    var ou = $("orgUnit").value.trim();
    if (ou) { p.orgUnit = ou; p.children = $("children").checked ? "true" : "false"; }
    return p;
  }

  function renderReadiness(r) {
    $("readiness").hidden = false;
    var s = $("readiness-summary");
    s.textContent = "";
    if (!r) { s.textContent = "CHT gave no readiness for this month."; return; }
    var verdict = el("span", r.ready ? "Ready to report" : "Not ready", { "class": r.ready ? "ok" : "warn", id: "verdict" });
    s.appendChild(verdict);
    s.appendChild(document.createTextNode(
      ": " + (r.final + r.noActivity) + " of " + r.expected + " CHWs are done (" + r.final + " synced since the month ended, " +
      r.noActivity + " with no activity): " + pct(r.ratio) + ", " + pct(r.minReady) + " needed. " +
      r.pending + " pending, " + r.neverSynced + " never synced." + (r.message ? " " + r.message : "")));
    if (r.note) s.appendChild(el("span", " " + r.note, { "class": "muted" }));
    var tb = $("readiness-table").tBodies[0];
    tb.replaceChildren();
    (r.orgUnits || []).forEach(function (o) {
      tb.appendChild(row([o.name ? o.name + " (" + o.orgUnit + ")" : o.orgUnit, o.expected, o.final, o.noActivity, o.pending, o.neverSynced, pct(o.ratio)],
        { "data-org-unit": o.orgUnit }));
    });
    var pb = $("pending-table").tBodies[0];
    pb.replaceChildren();
    var users = (r.pendingUsers || []).concat(r.neverSyncedUsers || []);
    users.forEach(function (u) {
      pb.appendChild(row([u.contactName || u.username, u.username, u.orgUnit || "", when(u.lastReplication)], { "data-user": u.username }));
    });
    if (!users.length) pb.appendChild(row([el("td", "Everyone has synced.", { colspan: "4" })]));
  }

  function renderChanges(c) {
    $("changes").hidden = false;
    var s = $("changes-summary");
    var tb = $("changes-table").tBodies[0];
    tb.replaceChildren();
    if (!c) { s.textContent = "DHIS2 could not be compared: the values would all be sent."; return; }
    s.textContent = c.new + " new, " + c.changed + " changed, " + c.deleted + " deleted, " + c.unchanged + " unchanged" +
      (c.kept ? ", " + c.kept + " kept (stored by someone else, or deletion off)" : "") + ".";
    (c.list || []).forEach(function (ch) {
      // Kinds (internal/validate): new, changed, delete, kept.
      var label = { "new": "new", "changed": "changed", "delete": "deleted", "kept": "kept (not ours to change)" }[ch.kind] || ch.kind;
      var value = ch.kind === "new" ? ch.new : ch.kind === "delete" ? ch.old + " → (deleted)" :
        ch.kind === "kept" ? ch.old + (ch.new ? " (CHT: " + ch.new + ")" : "") : ch.old + " → " + ch.new;
      var kind = el("td", label, { "class": "kind-" + ch.kind });
      var tr = row([kind, ch.orgUnit, ch.dataElement, ch.categoryOptionCombo || "", value],
        { "data-kind": ch.kind, "data-org-unit": ch.orgUnit, "data-de": ch.dataElement, "data-coc": ch.categoryOptionCombo || "",
          "data-old": ch.old || "", "data-new": ch.new || "" });
      if (ch.reason) tr.title = ch.reason;
      tb.appendChild(tr);
    });
    if (!(c.list || []).length) tb.appendChild(row([el("td", "Nothing would change.", { colspan: "5" })]));
  }

  function renderProblems(ps) {
    $("problems").hidden = false;
    var ul = $("problems-list");
    ul.replaceChildren();
    (ps || []).forEach(function (p) {
      ul.appendChild(el("li", p.code + ": " + p.message + (p.orgUnit ? " (org unit " + p.orgUnit + ")" : ""), { "data-code": p.code }));
    });
    if (!(ps || []).length) ul.appendChild(el("li", "No problems found in the CHT data."));
  }

  function renderPush(rep) {
    $("push-section").hidden = false;
    var r = rep.readiness, ready = !r || r.ready;
    var n = rep.dataValues ? rep.dataValues.valid : 0;
    $("push").disabled = !ready;
    $("push").textContent = "Push " + n + " values to DHIS2";
    $("force").hidden = ready || !r || !r.ended;
    $("push-note").textContent = ready ? "The month passes the readiness gate." :
      "The month does not pass the readiness gate" + (r && r.message ? ": " + r.message : ".") +
      (r && r.ended ? " A push now would be recorded as forced." : "");
  }

  function renderLast(r) {
    $("last").hidden = false;
    var d = $("last-result");
    d.replaceChildren();
    var b = r.body || {};
    if (r.status !== 200) { d.appendChild(el("p", "Could not read it: " + messageOf(r))); return; }
    if (!b.found) { d.appendChild(el("p", "No export of this data set and month since the mediator started.")); return; }
    var rep = b.report || {};
    var st = rep.status || "Failed";
    var cls = st === "Successful" ? "ok" : st === "Failed" ? "bad" : "warn";
    var p = el("p");
    p.appendChild(el("span", st, { "class": cls, id: "last-status" }));
    p.appendChild(document.createTextNode(" at " + when(b.at) + (b.orgUnit ? " for org unit " + b.orgUnit : "") +
      (rep.forced ? ", forced past the readiness gate (" + (rep.forcedPast || "") + ")" : "") + "."));
    d.appendChild(p);
    var imp = rep.import;
    if (imp) d.appendChild(el("p", "DHIS2: " + imp.imported + " imported, " + imp.updated + " updated, " + imp.ignored + " ignored, " + (imp.deleted || 0) + " deleted.", { id: "last-import" }));
    if (rep.error || b.error) d.appendChild(el("p", rep.error || b.error, { "class": "bad" }));
  }

  function loadLast(q) {
    return call("GET", "last", { dataSet: q.dataSet, period: q.period }).then(renderLast);
  }

  function show(ev) {
    if (ev) ev.preventDefault();
    setError("");
    var q = query();
    if (!q.dataSet || q.period.length !== 6) { setError("Choose a data set and a month."); return Promise.resolve(); }
    setStatus("Reading CHT and comparing with DHIS2…");
    $("show").disabled = true;
    var dry = Object.assign({ dryRun: "true" }, q);
    return Promise.all([call("GET", "export", dry), loadLast(q)]).then(function (rs) {
      var r = rs[0];
      if (r.status !== 200 || !r.body || !r.body.dataSet) {
        setStatus("");
        setError("Could not build the month: " + messageOf(r));
        current = null;
        $("push-section").hidden = true;
        return;
      }
      current = { q: q, report: r.body };
      renderReadiness(r.body.readiness);
      renderChanges(r.body.changes);
      renderProblems(r.body.problems);
      renderPush(r.body);
      setStatus("Shown: " + q.dataSet + ", " + q.period + (q.orgUnit ? ", " + q.orgUnit : "") + ".");
      document.body.setAttribute("data-loaded", q.dataSet + ":" + q.period);
    }).catch(function (e) {
      setStatus("");
      setError("The mediator could not be reached: " + e.message);
    }).finally(function () { $("show").disabled = false; });
  }

  function push(force) {
    if (!current) return;
    if (force && !window.confirm("The month does not pass the readiness gate. Push anyway? The export will be recorded as forced, in OpenHIM and in its report.")) return;
    var p = Object.assign({}, current.q);
    if (force) p.force = "true";
    $("push").disabled = true; $("force").disabled = true;
    setError("");
    setStatus("Pushing to DHIS2…");
    call("POST", "export", p).then(function (r) {
      var rep = r.body || {};
      if (r.status === 200) setStatus("Pushed: " + (rep.status || "done") + ".");
      else { setStatus(""); setError("Push " + (rep.status || "failed") + ": " + messageOf(r)); }
      document.body.setAttribute("data-pushed", String(r.status));
      return show();
    }).catch(function (e) {
      setStatus("");
      setError("The mediator could not be reached: " + e.message);
    }).finally(function () { $("force").disabled = false; });
  }

  function init() {
    $("pick").addEventListener("submit", show);
    $("push").addEventListener("click", function () { push(false); });
    $("force").addEventListener("click", function () { push(true); });
    setStatus("Loading the data sets…");
    call("GET", "dataSets").then(function (r) {
      if (r.status !== 200) { setStatus(""); setError("Could not list the data sets: " + messageOf(r)); return; }
      var sel = $("dataSet");
      (r.body.dataSets || []).forEach(function (id) { sel.appendChild(el("option", id, { value: id })); });
      var params = new URLSearchParams(location.search);
      if (params.get("dataSet")) sel.value = params.get("dataSet");
      var period = params.get("period") || r.body.period;
      $("month").value = period.slice(0, 4) + "-" + period.slice(4, 6);
      if (params.get("orgUnit")) $("orgUnit").value = params.get("orgUnit");
      return show();
    }).catch(function (e) {
      setStatus("");
      setError("The mediator could not be reached: " + e.message);
    });
  }
  init();
})();
