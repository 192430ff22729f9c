import DroverCore
import DroverStore
import DroverWire
import Hummingbird
import Mustache
import NIOCore

/// The operators' web dashboard at `/ui` (issue 14): server-rendered pages from templates
/// compiled into the binary, a little JS and CSS of its own, live updates by server-sent
/// events from the event bus. Reads and actions go through the JSON API's own code paths
/// (`APIRoutes`), so the dashboard and the API cannot disagree on what an action does.
struct Dashboard: Sendable {
  let api: APIRoutes
  let policy: AccessPolicy
  let sessions: DashboardSessions
  let config: DroverConfig
  let library: MustacheLibrary

  init(api: APIRoutes, policy: AccessPolicy, sessions: DashboardSessions, config: DroverConfig) {
    self.api = api
    self.policy = policy
    self.sessions = sessions
    self.config = config
    library = DashboardTemplates.library
  }

  var link: SupervisorLink { api.link }

  /// Every dashboard route (Hummingbird's path syntax): HTML, not part of the JSON API's
  /// OpenAPI table.
  func register(on router: Router<BasicRequestContext>) {
    let d = self
    router.get("/ui") { r, _ in try await d.overview(r) }
    router.get("/ui/live") { r, _ in try await d.live(r) }
    router.get("/ui/events") { r, _ in try await d.events(r) }
    router.get("/ui/assets/:name") { _, c in try d.asset(c) }
    router.get("/ui/jobs") { r, _ in try await d.jobs(r) }
    router.get("/ui/jobs/:id") { r, c in try await d.job(r, c) }
    router.post("/ui/jobs/:id/:action") { r, c in try await d.jobAction(r, c) }
    router.post("/ui/actions/:action") { r, c in try await d.bulkAction(r, c) }
    router.post("/ui/pools/:name/:action") { r, c in try await d.poolAction(r, c) }
    router.get("/ui/processes") { r, _ in try await d.processes(r) }
    router.get("/ui/schedules") { r, _ in try await d.schedules(r) }
    router.post("/ui/schedules/:name/:action") { r, c in try await d.scheduleAction(r, c) }
    router.get("/ui/metrics") { r, _ in try await d.metricsPage(r) }
    router.get("/ui/audit") { r, _ in try await d.audit(r) }
    router.get("/ui/login") { r, _ in d.loginPage(r) }
    router.post("/ui/login") { r, _ in try await d.login(r) }
    router.post("/ui/logout") { r, _ in try await d.logout(r) }
  }

  // MARK: Rendering

  /// Who the request is, and its session (a session cookie is issued in open mode, so its
  /// forms carry a CSRF token too).
  func caller(_ request: Request) -> (who: Who, nonce: String?, newCookie: String?) {
    if let s = sessions.session(request) {
      if policy.isOpen || s.who != .open { return (policy.isOpen ? .open : s.who, s.nonce, nil) }
    }
    if policy.isOpen {
      let value = sessions.newSession(.open)
      return (.open, sessions.session(value)!.nonce, value)
    }
    return (policy.bearer(request) ?? .readToken, nil, nil)
  }

  /// One page: `template` rendered with `data` inside the layout, with the nav, the flash,
  /// the CSRF token and whether actions are shown.
  func page(
    _ request: Request, _ template: String, title: String, _ data: [String: Any],
    status: HTTPResponse.Status = .ok
  ) -> Response {
    let (who, nonce, cookie) = caller(request)
    var d = data
    let csrf = nonce.map { sessions.csrf(nonce: $0) } ?? ""
    d["csrf"] = csrf
    d["canAct"] = who.mayAct && nonce != nil
    d["back"] = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
    let body = library.render(d, withTemplate: template) ?? ""
    var layout: [String: Any] = [
      "title": title, "body": body, "who": who.rawValue, "csrf": csrf,
      "loggedIn": nonce != nil && !policy.isOpen,
    ]
    if let flash = Self.flash(request) { layout["flash"] = flash }
    if let f = data["flashText"] as? String { layout["flash"] = f }
    let html = library.render(layout, withTemplate: "layout") ?? ""
    var headers: HTTPFields = [
      .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
      // Nothing from elsewhere: no inline script, no framing.
      .contentSecurityPolicy:
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    ]
    if let cookie { headers[.setCookie] = DashboardSessions.setCookie(cookie) }
    return Response(
      status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
  }

  /// The flash of a redirect after an action: a fixed sentence built from `done` (a known
  /// action) and `n` (a number), so a crafted link cannot put words on the page.
  static func flash(_ request: Request) -> String? {
    let q = request.uri.queryParameters
    guard let done = q["done"].map(String.init) else { return nil }
    let n = q["n"].flatMap { Int(String($0)) }
    let known = [
      "cancel": "Cancelled", "retry": "Retried", "requeue": "Requeued", "scale": "Scaled",
      "drain": "Drained", "resume": "Resumed", "login": "Logged in", "logout": "Logged out",
      "pause": "Paused", "trigger": "Triggered",
    ]
    guard let verb = known[done] else { return nil }
    if done == "scale" { return "Scaled: target \(n ?? 0)" }
    if done == "trigger" { return "Triggered: 1 job enqueued" }
    guard let n else { return verb }
    return "\(verb) \(n) job\(n == 1 ? "" : "s")"
  }

  /// A 303 to `back` (a `/ui` path only) with the outcome for the flash.
  static func redirect(_ back: String?, done: String, n: Int?) -> Response {
    var target = back ?? "/ui"
    if !target.hasPrefix("/ui") || target.hasPrefix("//") || target.contains("\\") {
      target = "/ui"
    }
    // Drop an earlier outcome from the query, then add this one.
    var path = target
    var query: [String] = []
    if let q = target.firstIndex(of: "?") {
      path = String(target[..<q])
      query = target[target.index(after: q)...].split(separator: "&").map(String.init)
        .filter { !$0.hasPrefix("done=") && !$0.hasPrefix("n=") }
    }
    query.append("done=\(done)")
    if let n { query.append("n=\(n)") }
    return Response(
      status: .seeOther, headers: [.location: path + "?" + query.joined(separator: "&")])
  }

  /// Whether a request is for a dashboard page (its errors are shown as a page, not JSON):
  /// under `/ui`, but not the JSON of `/ui/live` or the event stream.
  static func isPage(_ request: Request) -> Bool {
    let p = request.uri.path
    return (p == "/ui" || p.hasPrefix("/ui/")) && p != "/ui/live" && p != "/ui/events"
  }

  /// A refused dashboard request as a page: its status, and its message escaped.
  static func errorPage(_ e: APIError) -> Response {
    let message = (e.field.map { "\($0): " } ?? "") + e.message
    let body =
      DashboardTemplates.library.render(
        ["status": "\(e.status.code) \(e.status.reasonPhrase)", "message": message],
        withTemplate: "error") ?? ""
    let html =
      DashboardTemplates.library.render(
        ["title": "Error", "body": body, "who": "—"] as [String: Any], withTemplate: "layout")
      ?? ""
    var headers: HTTPFields = [
      .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
    ]
    for h in e.headers { headers.append(h) }
    return Response(
      status: e.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
  }

  // MARK: Forms

  /// A POST's urlencoded form (fields may repeat: `id=1&id=2`), after the CSRF check: the
  /// session's token must be in `csrf`, else 403 and nothing is done.
  func form(_ request: Request) async throws -> (who: Who, fields: [(String, String)]) {
    let (text, _) = try await RequestInput.body(
      request, limit: 1 << 20, types: ["application/x-www-form-urlencoded"])
    let fields = Self.parseForm(text)
    guard let s = sessions.session(request),
      sessions.checkCSRF(fields.first { $0.0 == "csrf" }?.1, nonce: s.nonce)
    else { throw APIError(.forbidden, "missing or wrong CSRF token (reload the page)") }
    let who: Who = policy.isOpen ? .open : s.who
    guard who.mayAct else { throw APIError(.forbidden, "the read token may read, not act") }
    return (who, fields)
  }

  static func parseForm(_ text: String) -> [(String, String)] {
    text.split(separator: "&").map { pair in
      let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
    }
  }

  /// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
  static func decode(_ s: Substring) -> String {
    var bytes: [UInt8] = []
    var it = Array(s.utf8)[...]
    while let b = it.popFirst() {
      if b == UInt8(ascii: "+") {
        bytes.append(0x20)
      } else if b == UInt8(ascii: "%"), it.count >= 2,
        let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16)
      {
        bytes.append(v)
        it = it.dropFirst(2)
      } else {
        bytes.append(b)
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// `a=1&b=x y` for a link, percent-encoding what a query value may not hold.
  static func query(_ items: [(String, String)]) -> String {
    items.map { "\($0.0)=\(encode($0.1))" }.joined(separator: "&")
  }

  static func encode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
      switch b {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
        UInt8(ascii: "."), UInt8(ascii: "~"), UInt8(ascii: ":"):
        out.append(Character(Unicode.Scalar(b)))
      default: out += "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
      }
    }
    return out
  }

  /// Appends one dashboard action to the audit log.
  func audit(_ who: Who, _ action: String, _ target: String, _ count: Int) async throws {
    let entry = AuditEntry(
      at: .now(), who: who.rawValue, action: action, target: target, count: count)
    _ = try await link.write { store throws(StoreError) in try store.recordAudit(entry) }
  }

  // MARK: Formatting

  static func age(_ d: Duration) -> String {
    let s = d.components.seconds
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m \(s % 60)s" }
    if s < 86400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
    return "\(s / 86400)d \(s % 86400 / 3600)h"
  }

  static func ago(_ t: Timestamp?, now: Timestamp = .now()) -> String {
    guard let t else { return "" }
    return age(.microseconds(max(0, now.micros - t.micros))) + " ago"
  }
}
