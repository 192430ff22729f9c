import DroverCore
import Hummingbird

/// Who may call: a bearer token that may do everything, and one that may only read.
struct AccessPolicy: Sendable {
  /// The full token (`token`, or the first line of `token_file`), if any.
  var token: [UInt8]?
  /// `read_token`, if any.
  var readToken: [UInt8]?

  /// Open (no token configured): allowed only on loopback, which `config check` enforces.
  var isOpen: Bool { token == nil && readToken == nil }

  /// Compares in constant time over the longer of the two, so the time taken does not tell
  /// how many leading bytes of a guess were right (nor, beyond the length check, its length).
  static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
    let n = max(a.count, b.count)
    for i in 0..<n {
      let x = i < a.count ? a[i] : 0
      let y = i < b.count ? b[i] : 0
      diff |= x ^ y
    }
    return diff == 0
  }
}

/// Bearer-token checks on every route but `/livez` (a liveness probe must work without
/// secrets): 401 without a valid token, 403 for the read token on a route that acts.
///
/// Under `/ui` (the dashboard) a session cookie from `/ui/login` counts as its token too; the
/// login page and the assets need none; a page asked for without one redirects to the login.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
  let policy: AccessPolicy
  var sessions = DashboardSessions()

  func handle(
    _ request: Request, context: Context,
    next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    let path = request.uri.path
    if policy.isOpen || path == "/livez" { return try await next(request, context) }
    if path == "/ui" || path.hasPrefix("/ui/") {
      if path == "/ui/login" || path.hasPrefix("/ui/assets/") {
        return try await next(request, context)
      }
      guard let who = policy.dashboardWho(request, sessions) else {
        if request.method == .get || request.method == .head {
          return Response(status: .seeOther, headers: [.location: "/ui/login"])
        }
        throw APIError(.unauthorized, "log in first (/ui/login)")
      }
      guard
        who.mayAct || request.method == .get || request.method == .head
          || path == "/ui/logout"
      else { throw APIError(.forbidden, "the read token may read, not act") }
      return try await next(request, context)
    }
    guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
      var e = APIError(.unauthorized, "missing bearer token (Authorization: Bearer TOKEN)")
      e.headers[.wwwAuthenticate] = "Bearer"
      throw e
    }
    let given = Array(header.utf8.dropFirst(7))
    if let t = policy.token, AccessPolicy.same(given, t) { return try await next(request, context) }
    if let r = policy.readToken, AccessPolicy.same(given, r) {
      guard request.method == .get || request.method == .head else {
        throw APIError(.forbidden, "the read token may read, not act")
      }
      return try await next(request, context)
    }
    var e = APIError(.unauthorized, "invalid bearer token")
    e.headers[.wwwAuthenticate] = "Bearer error=\"invalid_token\""
    throw e
  }
}
