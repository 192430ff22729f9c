import DroverCore
import DroverSystem
import DroverTestSupport
import Foundation
import Synchronization
import Testing

/// The web dashboard at `/ui` against a real `drover serve` on 127.0.0.1: pages with real
/// data, each action changing the store and writing an audit row, CSRF and the read token
/// refused, payloads escaped, the login cookie, and the live event stream.
@Suite("web dashboard", .serialized)
struct DashboardTests {
  static let pools =
    poolTable("work", #"types = ["noop"]"#, #"handler = "noop""#, "min = 1", "max = 2")
    + poolTable(
      "bad", #"types = ["bad"]"#, #"handler = "fail""#, "min = 1", "max = 1",
      "max_attempts = 1")

  static func harness(http: String) throws -> SupervisorHarness {
    let h = try SupervisorHarness(pools: pools)
    try h.write("token.txt", "s3cret\n")
    try h.writeConfig(
      SupervisorHarness.configText(pools: pools).replacingOccurrences(
        of: "[control]", with: "\(http)\n[control]")
        + "\n[schedules.nightly]\ncron = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\ntype = \"noop\"\n"
    )
    try h.start()
    return h
  }

  /// A browser's view: a session cookie once logged in, and the page's CSRF token.
  final class Browser {
    let c: LoopbackHTTPClient
    var cookie: String?
    init(_ c: LoopbackHTTPClient) { self.c = c }

    func get(_ path: String) throws -> LoopbackHTTPClient.Reply {
      try c.request("GET", path, headers: cookie.map { [("Cookie", $0)] } ?? [])
    }

    func post(_ path: String, _ fields: [(String, String)]) throws -> LoopbackHTTPClient.Reply {
      var h = [("Content-Type", "application/x-www-form-urlencoded")]
      if let cookie { h.append(("Cookie", cookie)) }
      let body = fields.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
      return try c.request("POST", path, headers: h, body: body)
    }

    static func encode(_ s: String) -> String {
      s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
    }

    /// Logs in; returns the Set-Cookie header.
    func login(_ token: String) throws -> LoopbackHTTPClient.Reply {
      let r = try post("/ui/login", [("token", token)])
      if let set = r.headers["set-cookie"] { cookie = String(set.prefix { $0 != ";" }) }
      return r
    }

    /// The CSRF token in a page's forms.
    func csrf(_ path: String = "/ui/jobs") throws -> String {
      let html = try get(path).text
      guard let r = html.range(of: #"name="csrf" value=""#) else { return "" }
      return String(html[r.upperBound...].prefix { $0 != "\"" })
    }
  }

  static func count(_ html: String, _ needle: String) -> Int {
    html.components(separatedBy: needle).count - 1
  }

  @Test func pagesActionsAuditCSRFAndEscaping() throws {
    let h = try Self.harness(
      http: SupervisorHarness.httpTable(#"token_file = "token.txt""#, #"read_token = "reader""#))
    let api = try h.httpClient()
    let b = Browser(try h.httpClient())
    // Not logged in: pages redirect to the login form, POSTs are refused.
    let anon = try b.get("/ui/jobs")
    #expect(anon.status == 303 && anon.headers["location"] == "/ui/login", "\(anon.status)")
    #expect(try b.get("/ui/login").text.contains(#"<form id="login""#))
    #expect(try b.login("wrong").status == 401)
    #expect(b.cookie == nil)
    // Logging in sets the session cookie with its flags.
    let login = try b.login("s3cret")
    #expect(login.status == 303)
    let set = try #require(login.headers["set-cookie"])
    #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/ui"))
    #expect(set.hasPrefix("drover_session=token."))

    // Real data: done, dead and scheduled jobs, one payload a script.
    let xss = #"{"note":"<script>alert(1)</script>"}"#
    for _ in 0..<3 {
      #expect(try api.post("/jobs", #"{"type":"noop"}"#, token: "s3cret").status == 201)
    }
    for _ in 0..<2 {
      #expect(try api.post("/jobs", #"{"type":"bad"}"#, token: "s3cret").status == 201)
    }
    let later = try api.post(
      "/jobs", #"{"type":"noop","delay":"1h","payload":\#(xss)}"#, token: "s3cret"
    ).json()["id"]!.intValue!
    let later2 = try api.post("/jobs", #"{"type":"noop","delay":"1h"}"#, token: "s3cret")
      .json()["id"]!.intValue!
    try h.waitUntil("3 completed, 2 dead") {
      let s = try h.stats()
      return s["completed"] == 3 && s["dead"] == 2
    }

    // Overview: pools with live counters, queues, recent failures with their error, charts.
    let overview = try b.get("/ui")
    #expect(overview.status == 200)
    let o = overview.text
    #expect(o.contains(#"<main id="page-overview">"#))
    #expect(o.contains(#"data-pool="work""#) && o.contains(#"data-live="pool.work.busy""#))
    #expect(o.contains(#"data-live="queue.noop.depth""#))
    #expect(Self.count(o, #"data-state="dead""#) == 2, "\(o)")
    #expect(o.contains("<svg"))
    #expect(overview.headers["content-type"]?.hasPrefix("text/html") == true)
    let live = try b.get("/ui/live").json()
    #expect(live["pool.work.state"]?.stringValue == "running")

    // Jobs: filters, and the script payload escaped everywhere it shows.
    let dead = try b.get("/ui/jobs?state=dead").text
    #expect(Self.count(dead, #"data-state="dead""#) == 2)
    #expect(Self.count(dead, "<tr data-job-id=") == 2)
    let found = try b.get("/ui/jobs?q=alert").text
    #expect(Self.count(found, "<tr data-job-id=") == 1)
    #expect(found.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
    #expect(!found.contains("<script>alert"))
    let bad = try b.get("/ui/jobs?state=nope")
    #expect(bad.status == 400 && bad.text.contains("filter-error"))
    let jobPage = try b.get("/ui/jobs/\(later)").text
    #expect(jobPage.contains(#"<main id="page-job">"#) && jobPage.contains(#"id="job-why""#))
    #expect(jobPage.contains("&lt;script&gt;") && !jobPage.contains("<script>alert"))
    #expect(jobPage.contains(#"data-action="cancel""#))
    #expect(try b.get("/ui/jobs/999999").status == 404)

    // CSRF: missing or wrong is a 403 and nothing changes.
    let refused = try b.post("/ui/jobs/\(later)/cancel", [])
    #expect(refused.status == 403 && refused.text.contains(#"<main id="page-error">"#))
    #expect(try b.post("/ui/jobs/\(later)/cancel", [("csrf", "00ff")]).status == 403)
    #expect(try h.jobState(later) == "scheduled")
    // Cancel one: the store changes, an audit row is written.
    let csrf = try b.csrf()
    #expect(!csrf.isEmpty)
    let cancel = try b.post(
      "/ui/jobs/\(later)/cancel", [("csrf", csrf), ("back", "/ui/jobs/\(later)")])
    #expect(cancel.status == 303, "\(cancel.text)")
    #expect(cancel.headers["location"] == "/ui/jobs/\(later)?done=cancel&n=1")
    #expect(try h.jobState(later) == "cancelled")
    #expect(try b.get("/ui/jobs/\(later)?done=cancel&n=1").text.contains(#"id="flash""#))
    // The selected: retry the cancelled one and cancel the other scheduled one.
    let retry = try b.post(
      "/ui/actions/retry", [("csrf", csrf), ("id", String(later)), ("back", "/ui/jobs")])
    #expect(retry.headers["location"] == "/ui/jobs?done=retry&n=1")
    try h.waitUntil("the retried job completes") { try h.jobState(later) == "completed" }
    // Everything matching: a dry-run count first, nothing changed, then the confirmation.
    let dry = try b.post(
      "/ui/actions/requeue", [("csrf", csrf), ("scope", "filter"), ("type", "bad")])
    #expect(dry.status == 200)
    #expect(dry.text.contains(#"<span id="dry-run-count">2</span>"#), "\(dry.text)")
    #expect(dry.text.contains(#"data-confirm="2""#))
    #expect(try h.stats()["dead"] == 2)
    let confirmed = try b.post(
      "/ui/actions/requeue",
      [("csrf", csrf), ("scope", "filter"), ("type", "bad"), ("confirm", "yes")])
    #expect(confirmed.status == 303)
    #expect(confirmed.headers["location"] == "/ui?done=requeue&n=2", "\(confirmed.headers)")
    try h.waitUntil("both died again") {
      let s = try h.stats()
      return s["dead"] == 2 && s["queued"] == 0 && s["running"] == 0
    }
    let cancelAll = try b.post(
      "/ui/actions/cancel",
      [("csrf", csrf), ("scope", "filter"), ("state", "scheduled"), ("confirm", "yes")])
    #expect(cancelAll.headers["location"] == "/ui?done=cancel&n=1")
    #expect(try h.jobState(later2) == "cancelled")
    // Pools: drain, resume, scale.
    #expect(try b.post("/ui/pools/work/drain", [("csrf", csrf)]).status == 303)
    #expect(try h.pool("work")["paused"]?.boolValue == true)
    #expect(try b.post("/ui/pools/work/resume", [("csrf", csrf)]).status == 303)
    #expect(try h.pool("work")["paused"]?.boolValue == false)
    #expect(try b.post("/ui/pools/work/scale", [("csrf", csrf), ("workers", "2")]).status == 303)
    try h.waitUntil("two workers") { try h.workers("work").count == 2 }
    #expect(try b.post("/ui/pools/work/scale", [("csrf", csrf), ("workers", "x")]).status == 422)
    #expect(try b.post("/ui/pools/nope/drain", [("csrf", csrf)]).status == 404)
    // Schedules: next fires in their zone; pause, resume, trigger.
    let sched = try b.get("/ui/schedules").text
    #expect(sched.contains(#"data-schedule="nightly""#) && sched.contains("02:30"), "\(sched)")
    #expect(try b.post("/ui/schedules/nightly/pause", [("csrf", csrf)]).status == 303)
    #expect(try b.get("/ui/schedules").text.contains("<td>paused"))
    #expect(try b.post("/ui/schedules/nightly/resume", [("csrf", csrf)]).status == 303)
    let completed = try #require(h.stats()["completed"])
    #expect(try b.post("/ui/schedules/nightly/trigger", [("csrf", csrf)]).status == 303)
    try h.waitUntil("the triggered job completes") { try h.stats()["completed"] == completed + 1 }
    #expect(try b.post("/ui/schedules/nope/trigger", [("csrf", csrf)]).status == 404)
    // The audit log: every action, by whom.
    let audit = try b.get("/ui/audit").text
    #expect(audit.contains(#"<main id="page-audit">"#))
    for action in ["cancel", "retry", "requeue", "drain", "resume", "scale"] {
      #expect(audit.contains(#"data-audit-action="\#(action)""#), "\(action)")
    }
    #expect(Self.count(audit, "<tr data-audit-id=") == 10)
    #expect(audit.contains(#"data-audit-action="trigger""#))
    #expect(audit.contains("<td>token</td>"))
    #expect(audit.contains("filter type=bad"))

    // The other pages render with real data.
    let procs = try b.get("/ui/processes").text
    #expect(procs.contains(#"<main id="page-processes">"#))
    let pid = try #require(h.workerPIDs("work").first)
    #expect(procs.contains(#"data-worker-pid="\#(pid)""#))
    #expect(procs.contains(#"data-action="scale""#) && procs.contains(#"data-action="drain""#))
    let metrics = try b.get("/ui/metrics?range=24h")
    #expect(metrics.status == 200 && metrics.text.contains("<svg"))
    #expect(metrics.text.contains(#"<main id="page-metrics">"#))
    #expect(try b.get("/ui/metrics?range=2y").status == 400)
    #expect(try b.get("/ui/schedules").text.contains(#"<main id="page-schedules">"#))
    #expect(try b.get("/ui/assets/dashboard.js").text.contains("EventSource"))
    #expect(try b.get("/ui/assets/dashboard.css").status == 200)

    // The read token: pages without a single action form; its POSTs are refused.
    let reader = Browser(try h.httpClient())
    #expect(try reader.login("reader").status == 303)
    for path in ["/ui", "/ui/jobs", "/ui/jobs/\(later)", "/ui/processes", "/ui/schedules"] {
      let page = try reader.get(path)
      #expect(page.status == 200, "\(path)")
      #expect(!page.text.contains("data-action="), "\(path)")
    }
    #expect(try reader.post("/ui/jobs/\(later2)/retry", [("csrf", csrf)]).status == 403)
    #expect(try reader.post("/ui/pools/work/drain", [("csrf", csrf)]).status == 403)
    #expect(try h.jobState(later2) == "cancelled")
    #expect(try h.pool("work")["paused"]?.boolValue == false)
    // Another session's CSRF token is not this one's.
    let other = Browser(try h.httpClient())
    _ = try other.login("s3cret")
    #expect(try other.post("/ui/jobs/\(later2)/retry", [("csrf", csrf)]).status == 403)
    #expect(try h.jobState(later2) == "cancelled")
    // Bearer tokens work for reading pages too (scripts, curl).
    #expect(try api.get("/ui/jobs", token: "reader").status == 200)
  }

  @Test func pagingAndTheLiveEventStream() async throws {
    // Open mode (no token, loopback): a session cookie is issued with the first page.
    let h = try Self.harness(http: SupervisorHarness.httpTable())
    let port = try h.httpPort()
    let api = LoopbackHTTPClient(port: port)
    let body =
      "[" + Array(repeating: #"{"type":"noop","delay":"1h"}"#, count: 60).joined(separator: ",")
      + "]"
    #expect(try api.post("/jobs", body).status == 201)
    let first = try api.get("/ui/jobs?state=scheduled")
    #expect(first.headers["set-cookie"]?.hasPrefix("drover_session=open.") == true)
    #expect(Self.count(first.text, "<tr data-job-id=") == 50)
    let next = try #require(
      first.text.range(of: #"id="next-page" href=""#).map {
        String(first.text[$0.upperBound...].prefix { $0 != "\"" })
      })
    #expect(next == "/ui/jobs?state=scheduled&amp;after=11", "\(next)")
    let second = try api.get(next.replacingOccurrences(of: "&amp;", with: "&")).text
    #expect(Self.count(second, "<tr data-job-id=") == 10)
    #expect(second.contains(#"data-job-id="10""#) && !second.contains(#"data-job-id="11""#))

    // The event stream delivers an event after an enqueue (enqueued until it does: the
    // stream subscribes when its request arrives).
    let done = Mutex<LoopbackHTTPClient.Reply?>(nil)
    let reader = Task.detached {
      let r = try LoopbackHTTPClient(port: port).request("GET", "/ui/events?max=1")
      done.withLock { $0 = r }
    }
    let deadline = ContinuousClock.now + .seconds(30)
    while done.withLock({ $0 == nil }) && ContinuousClock.now < deadline {
      #expect(try api.post("/jobs", #"{"type":"noop"}"#).status == 201)
      try await Task.sleep(for: .milliseconds(300))
    }
    try await reader.value
    let r = try #require(done.withLock { $0 })
    #expect(r.status == 200)
    #expect(r.headers["content-type"] == "text/event-stream")
    #expect(r.text.contains("event: job_"), "\(r.text)")
    #expect(r.text.contains("data: {\"event\":\"job_"), "\(r.text)")
  }
}
