import Crypto
import DroverCore
import Hummingbird

/// Which credential a dashboard request acts with: written to the audit log as `who`.
enum Who: String, Sendable {
  case token
  case readToken = "read_token"
  case open

  /// Whether it may act (POST), not only read.
  var mayAct: Bool { self != .readToken }
}

/// The dashboard's login sessions and CSRF tokens, stateless: a cookie is
/// `ROLE.NONCE.MAC` with MAC an HMAC-SHA256 over role and nonce under a random key of this
/// process (so a restart logs everyone out, and nothing is stored); the CSRF token of a
/// session is a second HMAC of its nonce, which a page from another origin cannot read.
struct DashboardSessions: Sendable {
  static let cookieName = "drover_session"
  /// The key's bytes (`SymmetricKey` is not `Sendable`; one is made per use).
  private let key: [UInt8]

  init() {
    var g = SystemRandomNumberGenerator()
    key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
  }

  private func mac(_ text: String) -> String {
    let code = HMAC<SHA256>.authenticationCode(
      for: Array(text.utf8), using: SymmetricKey(data: key))
    return code.map { String($0, radix: 16).leftPadded(2) }.joined()
  }

  /// A new session cookie's value for `who`.
  func newSession(_ who: Who) -> String {
    var g = SystemRandomNumberGenerator()
    let nonce = (0..<2).map { _ in String(g.next() as UInt64, radix: 16).leftPadded(16) }
      .joined()
    return "\(who.rawValue).\(nonce).\(mac("session|\(who.rawValue)|\(nonce)"))"
  }

  /// The session a cookie value proves, or nil when forged, from another process or malformed.
  func session(_ value: String) -> (who: Who, nonce: String)? {
    let parts = value.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 3, let who = Who(rawValue: parts[0]) else { return nil }
    let want = mac("session|\(parts[0])|\(parts[1])")
    guard AccessPolicy.same(Array(want.utf8), Array(parts[2].utf8)) else { return nil }
    return (who, parts[1])
  }

  /// The session of a request's cookie, if any valid one.
  func session(_ request: Request) -> (who: Who, nonce: String)? {
    guard let c = request.cookies[Self.cookieName] else { return nil }
    return session(c.value)
  }

  /// The CSRF token every form of a session carries.
  func csrf(nonce: String) -> String { mac("csrf|\(nonce)") }

  /// Whether `given` is the CSRF token of `nonce` (constant time).
  func checkCSRF(_ given: String?, nonce: String) -> Bool {
    guard let given else { return false }
    return AccessPolicy.same(Array(given.utf8), Array(csrf(nonce: nonce).utf8))
  }

  /// The `Set-Cookie` value of a session (`Path=/ui`, HttpOnly, SameSite=Strict; the server
  /// speaks plain HTTP, on loopback, so no `Secure`).
  static func setCookie(_ value: String) -> String {
    "\(cookieName)=\(value); Path=/ui; HttpOnly; SameSite=Strict"
  }

  /// The `Set-Cookie` value that removes the session.
  static let clearCookie = "\(cookieName)=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"
}

extension String {
  func leftPadded(_ n: Int) -> String {
    count >= n ? self : String(repeating: "0", count: n - count) + self
  }
}

extension AccessPolicy {
  /// Who a bearer token is, nil when none or a wrong one.
  func bearer(_ request: Request) -> Who? {
    guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
      return nil
    }
    let given = Array(header.utf8.dropFirst(7))
    if let t = token, AccessPolicy.same(given, t) { return .token }
    if let r = readToken, AccessPolicy.same(given, r) { return .readToken }
    return nil
  }

  /// Who a submitted login token is, nil when neither.
  func login(_ text: String) -> Who? {
    let given = Array(text.utf8)
    if let t = token, AccessPolicy.same(given, t) { return .token }
    if let r = readToken, AccessPolicy.same(given, r) { return .readToken }
    return nil
  }

  /// Who a dashboard request is: open mode, a valid session cookie, or a bearer token.
  func dashboardWho(_ request: Request, _ sessions: DashboardSessions) -> Who? {
    if isOpen { return .open }
    if let s = sessions.session(request), s.who != .open { return s.who }
    return bearer(request)
  }
}
