/// The dashboard's stylesheet and script, compiled into the binary (no build step, nothing
/// fetched: the pages work with no network connection).
enum DashboardAssets {
  static let files: [String: (String, String)] = [
    "dashboard.css": (css, "text/css; charset=utf-8"),
    "dashboard.js": (js, "text/javascript; charset=utf-8"),
  ]

  /// Subscribes to `/ui/events`; on each event counts it, shows it, and (debounced) fetches
  /// `/ui/live` to refresh every `data-live` element. Only `textContent` is ever set, so an
  /// event's text cannot become markup.
  static let js = """
    (function () {
      "use strict";
      var names = ["job_created", "job_started", "job_progress", "job_completed", "job_failed",
        "job_snoozed", "job_dead", "job_cancelled", "job_rescued", "worker_spawned",
        "worker_exited", "pool_crash_looping", "pool_recovered", "events_lost"];
      var count = 0, timer = null;
      function set(key, value) {
        var els = document.querySelectorAll('[data-live="' + key + '"]');
        for (var i = 0; i < els.length; i++) { els[i].textContent = value; }
      }
      function refresh() {
        timer = null;
        fetch("/ui/live", { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (v) { if (v) { for (var k in v) { set(k, v[k]); } } })
          .catch(function () {});
      }
      function onEvent(e) {
        count += 1;
        set("events.count", String(count));
        var d = {};
        try { d = JSON.parse(e.data); } catch (x) {}
        set("last-event", e.type + (d.id ? " #" + d.id : "") + (d.type ? " " + d.type : ""));
        if (!timer) { timer = setTimeout(refresh, 300); }
      }
      function start() {
        var all = document.querySelectorAll("input[data-select-all]");
        for (var i = 0; i < all.length; i++) {
          all[i].addEventListener("change", function (e) {
            var boxes = document.querySelectorAll('#bulk input[type="checkbox"][name="id"]');
            for (var j = 0; j < boxes.length; j++) { boxes[j].checked = e.target.checked; }
          });
        }
        if (!document.querySelector("[data-live]") || !window.EventSource) { return; }
        var es = new EventSource("/ui/events");
        es.onopen = function () { document.body.setAttribute("data-live-status", "open"); };
        es.onerror = function () { document.body.setAttribute("data-live-status", "error"); };
        for (var n = 0; n < names.length; n++) { es.addEventListener(names[n], onEvent); }
      }
      if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
      } else { start(); }
    })();
    """

  static let css = """
    :root { --fg: #1d232a; --muted: #5d6b78; --line: #d8dee4; --bg: #f6f8fa; --accent: #2361a8;
      --bad: #b42318; --ok: #18794e; --warn: #b54708; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
      color: var(--fg); background: #fff; }
    header { background: var(--fg); }
    nav { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .6rem 1.2rem; }
    nav a { color: #e6edf3; text-decoration: none; }
    nav a.brand { font-weight: 700; margin-right: 1rem; }
    nav .who { margin-left: auto; color: #9aa7b4; }
    nav button { font-size: 12px; }
    main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
    h1 small, h2 small { color: var(--muted); font-weight: 400; font-size: 60%; }
    table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }
    th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line);
      vertical-align: top; }
    th { background: var(--bg); font-weight: 600; }
    td.payload, td.error { font-family: ui-monospace, monospace; font-size: 12px;
      max-width: 32rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    td.error, p.error, .state-dead, .pool-crash-looping { color: var(--bad); }
    .state-completed { color: var(--ok); }
    .state-running, .pool-drained { color: var(--warn); }
    pre#job-payload { background: var(--bg); padding: .8rem; overflow: auto; max-height: 30rem;
      white-space: pre-wrap; word-break: break-all; }
    #flash { margin: 1rem 1.2rem 0; padding: .6rem .9rem; background: #e7f3ec;
      border: 1px solid #a6d4b8; border-radius: 4px; }
    form.inline { display: inline; }
    .filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin: .5rem 0 1rem; }
    .filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
    .bulk { margin: .4rem 0; }
    .charts { display: flex; flex-wrap: wrap; gap: 2rem; }
    figure { margin: 0 0 1.5rem; }
    figcaption { color: var(--muted); font-size: 12px; margin-bottom: .2rem; }
    svg.chart { background: var(--bg); border: 1px solid var(--line); }
    svg.chart rect { fill: var(--accent); }
    svg.chart.errors rect { fill: var(--bad); }
    svg.chart .axis { stroke: var(--line); }
    svg.chart .max { font-size: 10px; fill: var(--muted); }
    dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
    dl.facts dt { color: var(--muted); }
    dl.facts dd { margin: 0; }
    ul.tree, ul.tree ul { list-style: none; padding-left: 1.2rem; }
    ul.tree .node { font-weight: 600; }
    .ranges a[aria-current] { font-weight: 700; text-decoration: none; color: var(--fg); }
    abbr.dst { color: var(--warn); }
    #page-login form { display: flex; gap: .6rem; align-items: end; }
    """
}
