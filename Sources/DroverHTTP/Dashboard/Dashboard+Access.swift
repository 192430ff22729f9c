import DroverCore
import DroverStore
import Hummingbird

/// The login form and logout: a token typed once becomes a session cookie for `/ui`.
extension Dashboard {
  func loginPage(_ request: Request) -> Response {
    var data: [String: Any] = [:]
    if request.uri.queryParameters["failed"] != nil { data["failed"] = true }
    return page(request, "login", title: "Log in", data)
  }

  /// `POST /ui/login` (field `token`): the API's token or read token sets a session cookie
  /// and goes to the overview; anything else goes back to the form (401). No CSRF token is
  /// asked here (there is no session yet); the cookie is SameSite=Strict.
  func login(_ request: Request) async throws -> Response {
    let (text, _) = try await RequestInput.body(
      request, limit: 64 << 10, types: ["application/x-www-form-urlencoded"])
    let token = Self.parseForm(text).first { $0.0 == "token" }?.1 ?? ""
    let who: Who? = policy.isOpen ? .open : policy.login(token)
    guard let who else {
      var r = page(request, "login", title: "Log in", ["failed": true], status: .unauthorized)
      r.headers[.cacheControl] = "no-store"
      return r
    }
    return Response(
      status: .seeOther,
      headers: [
        .location: "/ui?done=login",
        .setCookie: DashboardSessions.setCookie(sessions.newSession(who)),
      ])
  }

  func logout(_ request: Request) async throws -> Response {
    _ = try await form(request)
    return Response(
      status: .seeOther,
      headers: [.location: "/ui/login?done=logout", .setCookie: DashboardSessions.clearCookie])
  }

  func audit(_ request: Request) async throws -> Response {
    let before = request.uri.queryParameters["after"].flatMap { Int64(String($0)) }
    let entries = try await link.read { store throws(StoreError) in
      try store.auditEntries(limit: 100, beforeID: before)
    }
    var data: [String: Any] = [
      "entries": entries.map { e -> [String: Any] in
        [
          "id": e.id, "at": e.at.rfc3339, "who": e.who, "action": e.action, "target": e.target,
          "count": e.count,
        ]
      }
    ]
    if entries.count == 100, let last = entries.last { data["next"] = String(last.id) }
    return page(request, "audit", title: "Audit log", data)
  }
}
